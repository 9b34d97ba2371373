package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// The names of the pod's securityContext.sysctls.
const fieldSysctls = "sysctls"

var sysctlsAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldSysctls, "sysctl ", p.Sysctls, attributes.AnySysctls)
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		sysOK := podSC + ".sysctls.size() == 0"
		if len(p.Sysctls) > 0 {
			sysOK = podSC + ".sysctls.all(s, s.name in " + list(p.Sysctls) + ")"
		}
		if out.limited(attributes.AnySysctls) {
			out.add("sysctls", fieldSysctls, unsetOrLn("object.spec", []string{"securityContext", "sysctls"}, sysOK), "sets sysctls")
		}
	},
}
