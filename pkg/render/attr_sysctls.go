package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/policy"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The names of the pod's securityContext.sysctls.
const fieldSysctls = "sysctls"

var sysctlsAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldSysctls, "sysctl ", p.Sysctls, attributes.AnySysctls, always)
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
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		for _, name := range p.Sysctls {
			if !safeSysctl(name) {
				out.Spec.AllowedUnsafeSysctls = append(out.Spec.AllowedUnsafeSysctls, name)
			}
		}
		if p.AnyValue.Has(attributes.AnySysctls) {
			out.Spec.AllowedUnsafeSysctls = []string{pspAny}
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if !p.AnyValue.Has(attributes.AnySysctls) {
			out.limit(gkForbiddenSysctls, "allowedSysctls", orEmpty(p.Sysctls))
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "sysctls", noun: "sysctls", entries: func(p attributes.Profile) []string { return p.Sysctls },
				expr: unsetOrLn("object.spec", []string{"securityContext", "sysctls"}, podSC+".sysctls.all(s, "+sharedMember(sharedVar("sysctls"), "s.name")+")")},
		}
	},
}

// safeSysctl asks the Pod Security Standards' own sysctls check (latest version) whether a
// sysctl is in the safe set, rather than keeping a copy of the list.
func safeSysctl(name string) bool {
	check := policy.CheckSysctls()
	latest := check.Versions[len(check.Versions)-1]
	spec := &corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: name}}}}
	return latest.CheckPod(&metav1.ObjectMeta{}, spec).Allowed
}
