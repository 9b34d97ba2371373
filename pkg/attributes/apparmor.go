package attributes

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

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
		p.AppArmorProfiles = appendNew(p.AppArmorProfiles, name)
	}
}

// maxLocalhostProfileLength is PATH_MAX - 1, the longest localhost profile validation accepts.
const maxLocalhostProfileLength = 4095

// AppArmorAnnotation converts a value of the deprecated annotation
// container.apparmor.security.beta.kubernetes.io/<container> into the field's form. ok is false
// for a value the field cannot express (API validation rejects those).
func AppArmorAnnotation(v string) (profile *corev1.AppArmorProfile, ok bool) {
	switch {
	case v == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}, true
	case v == corev1.DeprecatedAppArmorBetaProfileNameUnconfined:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}, true
	case strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix):
		name := strings.TrimPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix)
		if name == "" || strings.TrimSpace(name) != name || len(name) > maxLocalhostProfileLength {
			return nil, false
		}
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}, true
	}
	return nil, false
}
