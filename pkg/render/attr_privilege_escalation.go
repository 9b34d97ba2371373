package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// securityContext.allowPrivilegeEscalation of every container: required false unless some
// container allowed escalation.
const fieldAllowPrivilegeEscalation = "allowPrivilegeEscalation"

var privilegeEscalationAttribute = attribute{
	requirements: func(p attributes.Profile) []string {
		return held(!p.AllowPrivilegeEscalation, "no privilege escalation (allowPrivilegeEscalation: false)")
	},
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.flag(fieldAllowPrivilegeEscalation, p.AllowPrivilegeEscalation, "allowPrivilegeEscalation")
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if !p.AllowPrivilegeEscalation {
			// Unset allows escalation (no_new_privs is not set), so the field must say false.
			out.add("allowPrivilegeEscalation", fieldAllowPrivilegeEscalation,
				allContainers(has("c", "securityContext", "allowPrivilegeEscalation")+" && "+ctrSC+".allowPrivilegeEscalation == false"),
				"allows privilege escalation (allowPrivilegeEscalation: false is required)")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.DefaultAllowPrivilegeEscalation = p.AllowPrivilegeEscalation
		out.Spec.AllowPrivilegeEscalation = p.AllowPrivilegeEscalation
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if !p.AllowPrivilegeEscalation { // the template too requires an explicit false
			out.deny(gkAllowPrivilegeEscalation)
		}
	},
}
