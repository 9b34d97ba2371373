package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// securityContext.capabilities of every container: the capabilities added, and whether the
// default set was kept (drop: [ALL] is required unless some container kept it).
const (
	fieldAddedCapabilities        = "addedCapabilities"
	fieldKeepsDefaultCapabilities = "keepsDefaultCapabilities"
)

var capabilitiesAttribute = attribute{
	requirements: func(p attributes.Profile) []string {
		return held(!p.KeepsDefaultCapabilities, "drops ALL capabilities")
	},
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldAddedCapabilities, "capability ", p.AddedCapabilities, attributes.AnyAddedCapabilities, always)
		out.flag(fieldKeepsDefaultCapabilities, p.KeepsDefaultCapabilities, "capabilities drop ALL not set")
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		// Capability names are compared as the observer normalises them: trimmed, upper case, with
		// or without the CAP_ prefix; listing both spellings avoids string surgery in CEL.
		addOK := ctrSC + ".capabilities.add.size() == 0"
		if len(p.AddedCapabilities) > 0 {
			addOK = fmt.Sprintf("%s.capabilities.add.all(a, a.trim().upperAscii() in %s)", ctrSC, list(capSpellings(p.AddedCapabilities)))
		}
		if out.limited(attributes.AnyAddedCapabilities) {
			out.add("addedCapabilities", fieldAddedCapabilities,
				allContainers(unsetOr("c", []string{"securityContext", "capabilities", "add"}, addOK)), "adds capabilities")
		}
		if !p.KeepsDefaultCapabilities {
			out.add("dropAll", fieldKeepsDefaultCapabilities,
				allContainers(has("c", "securityContext", "capabilities", "drop")+" &&\n  "+
					ctrSC+".capabilities.drop.exists(d, d.trim().upperAscii() in "+list(capSpellings([]string{"ALL"}))+")"),
				"keeps the default capabilities (capabilities.drop: [ALL] is required)")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.AllowedCapabilities = p.AddedCapabilities // already normalised and sorted
		if p.AnyValue.Has(attributes.AnyAddedCapabilities) {
			out.Spec.AllowedCapabilities = []string{pspAny}
		}
		if !p.KeepsDefaultCapabilities {
			out.Spec.RequiredDropCapabilities = []string{"ALL"}
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		// The template's CEL code compares names as written (its Rego in lower case): the usual
		// spellings are listed, upper and lower case, with and without the CAP_ prefix.
		if !p.AnyValue.Has(attributes.AnyAddedCapabilities) {
			var names []string
			for _, c := range capSpellings(p.AddedCapabilities) {
				names = append(names, c, strings.ToLower(c))
			}
			slices.Sort(names)
			out.limit(gkCapabilities, "allowedCapabilities", orEmpty(names))
		}
		if !p.KeepsDefaultCapabilities {
			out.limit(gkCapabilities, "requiredDropCapabilities", []string{"ALL"})
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "addedCapabilities", noun: "capabilities", entries: func(p attributes.Profile) []string { return p.AddedCapabilities },
				expr: allContainers(unsetOr("c", []string{"securityContext", "capabilities", "add"},
					ctrSC+".capabilities.add.all(a,\n  "+sharedMember(sharedVar("addedCapabilities"), "a.trim().upperAscii()")+" ||\n  "+
						"(a.trim().upperAscii().startsWith('CAP_') && "+sharedMember(sharedVar("addedCapabilities"), "a.trim().upperAscii().substring(4)")+")\n)"))},
		}
	},
}

// capSpellings lists each capability with and without the CAP_ prefix.
func capSpellings(caps []string) []string {
	var out []string
	for _, c := range caps {
		out = append(out, c, "CAP_"+c)
	}
	return out
}
