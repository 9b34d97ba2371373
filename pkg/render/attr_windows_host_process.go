package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// windowsOptions.hostProcess, effective per container.
const fieldWindowsHostProcess = "windowsHostProcess"

var windowsHostProcessAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.flag(fieldWindowsHostProcess, p.WindowsHostProcess, "windows hostProcess")
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if !p.WindowsHostProcess {
			out.add("windowsHostProcess", fieldWindowsHostProcess,
				allContainers(effective([]string{"windowsOptions", "hostProcess"}, func(v string) string { return v + " == false" }, "true")),
				"runs a Windows HostProcess container")
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if !p.WindowsHostProcess {
			out.deny(gkHostProcess)
		}
	},
}
