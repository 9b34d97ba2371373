package attributes

import corev1 "k8s.io/api/core/v1"

// observeAppArmor records the AppArmor profiles containers run with.
//
// Reads securityContext.appArmorProfile of each container; where it is unset, the deprecated
// annotation container.apparmor.security.beta.kubernetes.io/<container>; then the pod's
// securityContext.appArmorProfile (the kubelet's order). The value is the type (RuntimeDefault,
// Unconfined), "Localhost/<profile>", or Unset. Joins by union.
func observeAppArmor(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		name := ProfileUnset
		if ap := c.SC.AppArmorProfile; ap != nil {
			name = profileName(string(ap.Type), ap.Type == corev1.AppArmorProfileTypeLocalhost, ap.LocalhostProfile)
		}
		p.AppArmorProfiles = add(p.AppArmorProfiles, name)
	}
}
