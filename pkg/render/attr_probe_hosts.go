package render

import (
	"fmt"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The hosts of every container's httpGet and tcpSocket probes and lifecycle hooks; an empty
// host is the pod's own IP and always passes.
const fieldProbeHosts = "probeHosts"

var probeHostsAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldProbeHosts, "probe host ", p.ProbeHosts, attributes.AnyProbeHosts, func(h string) bool {
			return h != "127.0.0.1" && h != "::1" && h != "localhost" // the pod's own host: no reach beyond it
		})
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if out.limited(attributes.AnyProbeHosts) {
			out.add("probeHosts", fieldProbeHosts, allContainers(probeHostsCheck(p.ProbeHosts)), "sends probes or lifecycle hooks to another host")
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		switch {
		case len(p.ProbeHosts) == 0 && !p.AnyValue.Has(attributes.AnyProbeHosts):
			out.deny(gkHostProbesLifecycle)
		case len(p.ProbeHosts) > 0:
			out.note("probe and lifecycle hook hosts (" + gkHostProbesLifecycle + " denies every host; used: " +
				strings.Join(p.ProbeHosts, ", ") + ")")
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "probeHosts", noun: "probe and lifecycle hook hosts", entries: func(p attributes.Profile) []string { return p.ProbeHosts },
				expr: allContainers(probeHandlersCheck(func(host string) string { return host + " == '' || " + sharedMember(sharedVar("probeHosts"), host) }))},
		}
	},
}

// probeHandlersCheck tests the host of every httpGet and tcpSocket handler of a container's
// probes and lifecycle hooks, with ok testing one host.
func probeHandlersCheck(ok func(host string) string) string {
	handler := func(h string) string {
		return fmt.Sprintf("(%s) && (%s)",
			unsetOr(h, []string{"httpGet", "host"}, ok(h+".httpGet.host")),
			unsetOr(h, []string{"tcpSocket", "host"}, ok(h+".tcpSocket.host")))
	}
	var parts []string
	for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		parts = append(parts, unsetOr("c", []string{probe}, paren(handler("c."+probe))))
	}
	for _, hook := range []string{"postStart", "preStop"} {
		parts = append(parts, unsetOr("c", []string{"lifecycle", hook}, paren(handler("c.lifecycle."+hook))))
	}
	return "(" + strings.Join(parts, ") &&\n(") + ")"
}

// probeHostsCheck is probeHandlersCheck with the learned hosts.
func probeHostsCheck(learned []string) string {
	return probeHandlersCheck(func(host string) string {
		if len(learned) == 0 {
			return host + " == ''"
		}
		return host + " in " + list(append([]string{""}, learned...))
	})
}
