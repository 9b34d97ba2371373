package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// securityContext.readOnlyRootFilesystem of every container: required true unless some
// container wrote to its root filesystem.
const fieldWritableRootFilesystem = "writableRootFilesystem"

var readOnlyRootFilesystemAttribute = attribute{
	requirements: func(p attributes.Profile) []string {
		return held(!p.WritableRootFilesystem, "read-only root filesystem (readOnlyRootFilesystem: true)")
	},
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.flag(fieldWritableRootFilesystem, p.WritableRootFilesystem, "readOnlyRootFilesystem not set")
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if !p.WritableRootFilesystem {
			out.add("readOnlyRootFilesystem", fieldWritableRootFilesystem,
				allContainers(has("c", "securityContext", "readOnlyRootFilesystem")+" && "+ctrSC+".readOnlyRootFilesystem == true"),
				"writes to its root filesystem (readOnlyRootFilesystem: true is required)")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.ReadOnlyRootFilesystem = !p.WritableRootFilesystem
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if !p.WritableRootFilesystem {
			out.deny(gkReadOnlyRootFilesystem)
		}
	},
}
