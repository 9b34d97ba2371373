package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// securityContext.privileged of every container.
const fieldPrivileged = "privileged"

var privilegedAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) { out.flag(fieldPrivileged, p.Privileged, "privileged") },
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if !p.Privileged {
			out.add("privileged", fieldPrivileged,
				allContainers(unsetOr("c", []string{"securityContext", "privileged"}, ctrSC+".privileged == false")),
				"runs a privileged container")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) { out.Spec.Privileged = p.Privileged },
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if !p.Privileged {
			out.deny(gkPrivileged)
		}
	},
}
