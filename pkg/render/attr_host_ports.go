package render

import (
	"fmt"
	"math"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The hostPort of every container port; 0 is "no host port".
const fieldHostPorts = "hostPorts"

var hostPortsAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.ranges(fieldHostPorts, "hostPort ", p.HostPorts, func(attributes.Range) bool { return true })
	},
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
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		// The template takes one range: the learned ranges' hull. min 0, max 0 admits no host
		// port (0 is "no host port", which the API server drops).
		rs := pspRanges(p.HostPorts, 1, math.MaxUint16)
		lo, hi := int64(0), int64(0)
		if len(rs) > 0 {
			lo, hi = rs[0].Min, rs[len(rs)-1].Max
		}
		if len(rs) == 0 {
			out.explain(gkHostNetworkingPorts, "min 0, max 0: no host port")
		}
		if len(rs) > 1 {
			out.looser(gkHostNetworkingPorts, fmt.Sprintf("it takes one range of host ports, so it admits %d-%d; learned: %s",
				lo, hi, strings.Join(rangeEntries(p.HostPorts), ", ")))
		}
		set := out.limit
		if lo == 1 && hi == math.MaxUint16 {
			set = out.need // every port
		}
		set(gkHostNetworkingPorts, "min", lo)
		set(gkHostNetworkingPorts, "max", hi)
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "hostPorts", noun: "hostPorts", entries: func(p attributes.Profile) []string { return rangeEntries(p.HostPorts) },
				expr: allContainers("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0 || " + sharedInRanges("hostPorts", "p.hostPort") + ")")},
		}
	},
}
