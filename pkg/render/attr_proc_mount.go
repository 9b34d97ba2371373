package render

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// securityContext.procMount of every container; unset or empty is Default.
const fieldProcMountTypes = "procMountTypes"

var procMountAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldProcMountTypes, "procMount ", p.ProcMountTypes, attributes.AnyProcMountTypes, func(t string) bool { return t != string(corev1.DefaultProcMount) })
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if out.limited(attributes.AnyProcMountTypes) &&
			(!slices.Contains(p.ProcMountTypes, string(corev1.DefaultProcMount)) || !slices.Contains(p.ProcMountTypes, string(corev1.UnmaskedProcMount))) {
			out.add("procMountTypes", fieldProcMountTypes,
				allContainers(fmt.Sprintf("((%s && %s.procMount != '') ? %s.procMount : 'Default') in %s",
					has("c", "securityContext", "procMount"), ctrSC, ctrSC, list(p.ProcMountTypes))),
				"uses a procMount type")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.AllowedProcMountTypes = p.ProcMountTypes
		if p.AnyValue.Has(attributes.AnyProcMountTypes) {
			out.Spec.AllowedProcMountTypes = []string{string(corev1.DefaultProcMount), string(corev1.UnmaskedProcMount)}
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		// The template allows Default, or everything (Unmasked).
		if !p.AnyValue.Has(attributes.AnyProcMountTypes) && !slices.Contains(p.ProcMountTypes, string(corev1.UnmaskedProcMount)) {
			out.limit(gkProcMount, "procMount", string(corev1.DefaultProcMount))
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "procMountTypes", noun: "procMount types", entries: func(p attributes.Profile) []string { return p.ProcMountTypes },
				expr: allContainers(sharedMember(sharedVar("procMountTypes"), fmt.Sprintf("((%s && %s.procMount != '') ? %s.procMount : 'Default')",
					has("c", "securityContext", "procMount"), ctrSC, ctrSC)))},
		}
	},
}
