package attributes

// observeRunAsGroup records the primary group IDs containers run as.
//
// Reads runAsGroup of each container, falling back to the pod's securityContext. An unset value
// (the image decides) is recorded as such. IDs join by union into ranges; "unset" joins by OR.
func observeRunAsGroup(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		p.RunAsGroup.observe(c.SC.RunAsGroup)
	}
}
