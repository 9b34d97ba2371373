package attributes

// observeHostPorts records the node ports containers bind.
//
// Reads ports[*].hostPort of every container. 0 means "no host port" and is not recorded (the
// API server sets hostPort to the containerPort for hostNetwork pods, which the admitted pod
// shows). Ports join by union into ranges.
func observeHostPorts(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		for _, port := range c.Ports {
			if port.HostPort != 0 {
				p.HostPorts = appendNew(p.HostPorts, Range{int64(port.HostPort), int64(port.HostPort)})
			}
		}
	}
}
