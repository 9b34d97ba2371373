package attributes

// observePrivilegeEscalation records whether any container may gain more privileges than its
// parent process (no_new_privs unset).
//
// Reads securityContext.allowPrivilegeEscalation of every container (no pod-level field). Unset
// means allowed, so only an explicit false satisfies the requirement. Joins by OR: the
// requirement "allowPrivilegeEscalation: false" holds while every observed container set it.
func observePrivilegeEscalation(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		if c.SC.AllowPrivilegeEscalation == nil || *c.SC.AllowPrivilegeEscalation {
			p.AllowPrivilegeEscalation = true
		}
	}
}
