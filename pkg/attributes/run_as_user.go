package attributes

// observeRunAsUser records the user IDs containers run as.
//
// Reads runAsUser of each container, falling back to the pod's securityContext. An unset value
// (the image decides) is recorded as such. IDs join by union into ranges; "unset" joins by OR.
func observeRunAsUser(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		p.RunAsUser.observe(c.SC.RunAsUser)
	}
}
