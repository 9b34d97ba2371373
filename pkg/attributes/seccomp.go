package attributes

import corev1 "k8s.io/api/core/v1"

// Profile names used for seccomp and AppArmor: the profile type, "Localhost/<profile>" for a
// node-local profile, or Unset when neither the container nor the pod chose one.
const (
	ProfileUnset    = "Unset"
	LocalhostPrefix = "Localhost/"
)

// observeSeccomp records the seccomp profiles containers run with.
//
// Reads securityContext.seccompProfile of each container, falling back to the pod's. The value is
// the type (RuntimeDefault, Unconfined), "Localhost/<localhostProfile>", or Unset. Joins by union.
func observeSeccomp(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		name := ProfileUnset
		if sp := c.SC.SeccompProfile; sp != nil {
			name = profileName(string(sp.Type), corev1.SeccompProfileTypeLocalhost == sp.Type, sp.LocalhostProfile)
		}
		p.SeccompProfiles = appendNew(p.SeccompProfiles, name)
	}
}

func profileName(typ string, localhost bool, profile *string) string {
	if localhost && profile != nil {
		return LocalhostPrefix + *profile
	}
	return typ
}
