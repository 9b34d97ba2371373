package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// runAsGroup, effective per container (its own, else the pod's): the IDs used, and whether some
// container left it unset.
const fieldRunAsGroup = "runAsGroup"

var runAsGroupAttribute = containerIDAttribute(fieldRunAsGroup, func(p attributes.Profile) attributes.IDs { return p.RunAsGroup },
	func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.RunAsGroup = pspGroupStrategy(p.RunAsGroup)
	},
	func(p attributes.Profile, out *gatekeeperList) {
		gkGroups(out, fieldRunAsGroup, p.RunAsGroup)
	})
