package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// spec.hostUsers: the host user namespace, allowed only if some pod shared it.
const fieldHostUsers = "hostUsers"

var hostUsersAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		if p.HostUsers { // the default: Pod Security Standards allow it at every level
			out.setting(fieldHostUsers, "hostUsers")
		}
	},
	requirements: func(p attributes.Profile) []string {
		return held(!p.HostUsers, "runs in a user namespace of its own (hostUsers: false)")
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if !p.HostUsers {
			// hostUsers unset means the host user namespace, so only an explicit false passes.
			out.add("hostUsers", fieldHostUsers, "has(object.spec.hostUsers) && object.spec.hostUsers == false",
				"shares the host user namespace (hostUsers: false is required)")
		}
	},
}
