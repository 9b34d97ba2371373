package attributes

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// observeCapabilities records the Linux capabilities containers add, and whether any container
// keeps the runtime's default set by not dropping ALL.
//
// Reads securityContext.capabilities.add and .drop of every container (no pod-level field).
// Names are normalised the way the runtime reads them: case folded and the CAP_ prefix removed,
// so "cap_net_admin" and "NET_ADMIN" are one capability. Added capabilities join by union;
// "drops ALL" is a requirement, kept as its negation and joined by OR.
func observeCapabilities(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		caps := c.SC.Capabilities
		if caps == nil {
			caps = &corev1.Capabilities{}
		}
		for _, cp := range caps.Add {
			p.AddedCapabilities = appendNew(p.AddedCapabilities, NormalizeCapability(cp))
		}
		dropsAll := false
		for _, cp := range caps.Drop {
			if NormalizeCapability(cp) == "ALL" {
				dropsAll = true
			}
		}
		if !dropsAll {
			p.KeepsDefaultCapabilities = true
		}
	}
}

// NormalizeCapability returns a capability name without the CAP_ prefix, in upper case.
func NormalizeCapability(c corev1.Capability) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(string(c))), "CAP_")
}
