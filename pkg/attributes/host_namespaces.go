package attributes

// observeHostNamespaces records hostNetwork, hostPID and hostIPC.
//
// Reads spec.hostNetwork, spec.hostPID and spec.hostIPC. Each joins by OR: one pod sharing a host
// namespace allows it for the whole set.
func observeHostNamespaces(pod *Pod, p *Profile) {
	p.HostNetwork = pod.Spec.HostNetwork
	p.HostPID = pod.Spec.HostPID
	p.HostIPC = pod.Spec.HostIPC
}
