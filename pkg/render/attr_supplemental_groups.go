package render

import (
	"fmt"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The pod's securityContext.supplementalGroups: the group IDs used.
const fieldSupplementalGroups = "supplementalGroups"

var supplementalGroupsAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.ranges(fieldSupplementalGroups, "supplementalGroups ", p.SupplementalGroups, hasRoot)
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		supOK := podSC + ".supplementalGroups.size() == 0"
		if len(p.SupplementalGroups) > 0 {
			supOK = fmt.Sprintf("%s.supplementalGroups.all(g, %s)", podSC, inRanges("g", p.SupplementalGroups))
		}
		out.add("supplementalGroups", fieldSupplementalGroups,
			unsetOrLn("object.spec", []string{"securityContext", "supplementalGroups"}, supOK), "sets supplementalGroups")
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.SupplementalGroups = pspGroupStrategy(attributes.IDs{Values: p.SupplementalGroups, Unset: true})
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		gkGroups(out, fieldSupplementalGroups, attributes.IDs{Values: p.SupplementalGroups, Unset: true})
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "supplementalGroups", noun: "supplementalGroups", entries: func(p attributes.Profile) []string { return rangeEntries(p.SupplementalGroups) },
				expr: unsetOrLn("object.spec", []string{"securityContext", "supplementalGroups"}, podSC+".supplementalGroups.all(g, "+sharedInRanges("supplementalGroups", "g")+")")},
		}
	},
}
