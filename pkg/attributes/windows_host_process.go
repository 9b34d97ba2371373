package attributes

// observeWindowsHostProcess records whether any container runs as a Windows HostProcess.
//
// Reads securityContext.windowsOptions.hostProcess of each container, falling back to the pod's
// securityContext.windowsOptions.hostProcess. Joins by OR.
func observeWindowsHostProcess(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		if w := c.SC.WindowsOptions; w != nil && w.HostProcess != nil && *w.HostProcess {
			p.WindowsHostProcess = true
		}
	}
}
