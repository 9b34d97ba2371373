package attributes

// observeFSGroup records the group that owns the pod's volumes.
//
// Reads spec.securityContext.fsGroup (pod-level only). Joins like runAsUser: values by union,
// "unset" by OR.
func observeFSGroup(pod *Pod, p *Profile) {
	var v *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		v = sc.FSGroup
	}
	p.FSGroup.observe(v)
}
