package attributes

// observePrivileged records whether any container runs privileged.
//
// Reads securityContext.privileged of every init, regular and ephemeral container (there is no
// pod-level field). Joins by OR.
func observePrivileged(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		if c.SC.Privileged != nil && *c.SC.Privileged {
			p.Privileged = true
		}
	}
}
