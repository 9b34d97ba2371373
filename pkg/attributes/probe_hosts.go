package attributes

import corev1 "k8s.io/api/core/v1"

// observeProbeHosts records the hosts that probes and lifecycle hooks connect to.
//
// Reads host of httpGet and tcpSocket in the liveness, readiness and startup probes and in the
// postStart and preStop handlers of every container. An empty host (the pod's own IP) is not
// recorded. Hosts join by union.
func observeProbeHosts(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if pr != nil {
				p.ProbeHosts = handlerHosts(p.ProbeHosts, pr.HTTPGet, pr.TCPSocket)
			}
		}
		if lc := c.Lifecycle; lc != nil {
			for _, h := range []*corev1.LifecycleHandler{lc.PostStart, lc.PreStop} {
				if h != nil {
					p.ProbeHosts = handlerHosts(p.ProbeHosts, h.HTTPGet, h.TCPSocket)
				}
			}
		}
	}
}

func handlerHosts(hosts []string, http *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction) []string {
	if http != nil && http.Host != "" {
		hosts = appendNew(hosts, http.Host)
	}
	if tcp != nil && tcp.Host != "" {
		hosts = appendNew(hosts, tcp.Host)
	}
	return hosts
}
