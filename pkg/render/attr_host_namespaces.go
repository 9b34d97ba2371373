package render

import (
	"fmt"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// Host namespaces: spec.hostNetwork, hostPID and hostIPC, each allowed only if some pod used it.
const (
	fieldHostNetwork = "hostNetwork"
	fieldHostPID     = "hostPID"
	fieldHostIPC     = "hostIPC"
)

var hostNamespacesAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.flag(fieldHostNetwork, p.HostNetwork, "hostNetwork")
		out.flag(fieldHostPID, p.HostPID, "hostPID")
		out.flag(fieldHostIPC, p.HostIPC, "hostIPC")
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		for _, ns := range []struct {
			field string
			on    bool
		}{{fieldHostNetwork, p.HostNetwork}, {fieldHostPID, p.HostPID}, {fieldHostIPC, p.HostIPC}} {
			if !ns.on {
				f := "object.spec." + ns.field
				out.add(ns.field, ns.field, fmt.Sprintf("!has(%s) || %s == false", f, f), "uses "+ns.field)
			}
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.HostNetwork, out.Spec.HostPID, out.Spec.HostIPC = p.HostNetwork, p.HostPID, p.HostIPC
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		// The host ports constraint denies hostNetwork unless told otherwise, so it always says.
		if p.HostNetwork {
			out.need(gkHostNetworkingPorts, "hostNetwork", true)
		} else {
			out.limit(gkHostNetworkingPorts, "hostNetwork", false)
		}
		// One template denies hostPID and hostIPC together.
		switch {
		case !p.HostPID && !p.HostIPC:
			out.deny(gkHostNamespace)
		case !p.HostPID:
			out.note("hostPID (" + gkHostNamespace + " denies hostPID and hostIPC together, and hostIPC was used)")
		case !p.HostIPC:
			out.note("hostIPC (" + gkHostNamespace + " denies hostPID and hostIPC together, and hostPID was used)")
		}
	},
}
