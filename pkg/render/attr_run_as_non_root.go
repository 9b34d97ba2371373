package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// runAsNonRoot, effective per container (its own, else the pod's): required true unless some
// container may have run as root.
const fieldMayRunAsRoot = "mayRunAsRoot"

var runAsNonRootAttribute = attribute{
	requirements: func(p attributes.Profile) []string {
		return held(!p.MayRunAsRoot, "runs as non-root (runAsNonRoot: true)")
	},
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.flag(fieldMayRunAsRoot, p.MayRunAsRoot, "runAsNonRoot not set")
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if !p.MayRunAsRoot {
			out.add("runAsNonRoot", fieldMayRunAsRoot,
				allContainers(effective([]string{"runAsNonRoot"}, func(v string) string { return v + " == true" }, "false")),
				"may run as root (runAsNonRoot: true is required)")
		}
	},
}
