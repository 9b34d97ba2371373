package attributes

// observeHostUsers records whether the pod shares the host user namespace.
//
// Reads spec.hostUsers: unset or true means the host user namespace; only an explicit false
// gives the pod a user namespace of its own. Joins by OR, so "hostUsers: false is required"
// holds only while every observed pod asked for its own user namespace.
func observeHostUsers(pod *Pod, p *Profile) {
	p.HostUsers = pod.Spec.HostUsers == nil || *pod.Spec.HostUsers
}
