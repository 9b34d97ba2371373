package render

import (
	"math"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The hostPort of every container port; 0 is "no host port".
const fieldHostPorts = "hostPorts"

var hostPortsAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) { out.ranges(fieldHostPorts, "hostPort ", p.HostPorts) },
	restrictions: func(p attributes.Profile, out *restrictionList) {
		portOK := "!has(p.hostPort) || p.hostPort == 0"
		if len(p.HostPorts) > 0 {
			portOK += " || " + inRanges("p.hostPort", p.HostPorts)
		}
		out.add("hostPorts", fieldHostPorts, allContainers("!has(c.ports) || c.ports.all(p, "+portOK+")"), "uses hostPorts")
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.HostPorts = pspRanges(p.HostPorts, 1, math.MaxUint16)
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "hostPorts", noun: "hostPorts", entries: func(p attributes.Profile) []string { return rangeEntries(p.HostPorts) },
				expr: allContainers("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0 || " + sharedInRanges("hostPorts", "p.hostPort") + ")")},
		}
	},
}
