package attributes

import corev1 "k8s.io/api/core/v1"

// observeProcMount records the /proc mount types containers use.
//
// Reads securityContext.procMount of each container (no pod-level field); unset is Default.
// Joins by union: Unmasked appears once any container asked for it.
func observeProcMount(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		t := corev1.DefaultProcMount
		if c.SC.ProcMount != nil && *c.SC.ProcMount != "" {
			t = *c.SC.ProcMount
		}
		p.ProcMountTypes = appendNew(p.ProcMountTypes, string(t))
	}
}
