package render

import (
	"fmt"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The pod's securityContext.fsGroup: the IDs used, and whether some pod left it unset.
const fieldFSGroup = "fsGroup"

var fsGroupAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) { out.ids(fieldFSGroup, "fsGroup ", p.FSGroup) },
	restrictions: func(p attributes.Profile, out *restrictionList) {
		fsSet := has("object.spec", "securityContext", "fsGroup")
		fsOK := fmt.Sprintf("(%s) ?\n  %s :\n  %t", fsSet, inRanges(podSC+".fsGroup", p.FSGroup.Values), p.FSGroup.Unset)
		if len(p.FSGroup.Values) == 0 {
			fsOK = "!(" + fsSet + ")"
		}
		out.add("fsGroup", fieldFSGroup, fsOK, "sets fsGroup")
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) { out.Spec.FSGroup = pspGroupStrategy(p.FSGroup) },
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		gkGroups(out, fieldFSGroup, p.FSGroup)
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "fsGroup", noun: "fsGroup values", entries: func(p attributes.Profile) []string { return idEntries(p.FSGroup) },
				expr: fmt.Sprintf("(%s) ?\n  %s :\n  %s", has("object.spec", "securityContext", "fsGroup"), sharedInRanges("fsGroup", podSC+".fsGroup"), sharedHasEntry("fsGroup", unsetEntry))},
		}
	},
}
