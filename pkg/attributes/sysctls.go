package attributes

// observeSysctls records the kernel parameters the pod sets.
//
// Reads spec.securityContext.sysctls[*].name (pod-level only; values are not policy). Names join
// by union. Whether a sysctl is in the safe set is decided when rendering.
func observeSysctls(pod *Pod, p *Profile) {
	if sc := pod.Spec.SecurityContext; sc != nil {
		for _, s := range sc.Sysctls {
			p.Sysctls = append(p.Sysctls, s.Name)
		}
	}
}
