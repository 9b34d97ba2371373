package attributes

// observeRunAsNonRoot records whether any container may run as root, i.e. its effective
// runAsNonRoot is not true.
//
// Reads runAsNonRoot of the container, falling back to the pod's securityContext when the
// container does not set it. Joins by OR: "runAsNonRoot: true" is required only while every
// observed container had it.
func observeRunAsNonRoot(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		if c.SC.RunAsNonRoot == nil || !*c.SC.RunAsNonRoot {
			p.MayRunAsRoot = true
		}
	}
}
