// Package hostile builds the largest pods a tenant can make the webhook learn from, for tests
// of the bounds: every attribute a pod can make long or numerous, at once.
package hostile

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Value is a value of n JSON bytes per character pair and more: '<' is escaped in six.
func Value(what string, i, n int) string {
	return fmt.Sprintf("%s-%d-%s", what, i, strings.Repeat("\x7f<", n))
}

// Pod returns pod number seed of containers containers, each with its own long image,
// capability, seccomp and AppArmor profile, SELinux options, probe host, host port and IDs, and
// as many long host paths, flexVolume drivers, CSI drivers, sysctls and supplemental groups.
// Pods of different seeds share no value. n sets the length of values.
func Pod(seed, containers, n int) *corev1.Pod {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		ServiceAccountName: fmt.Sprintf("sa-%d", seed),
		SecurityContext:    &corev1.PodSecurityContext{FSGroup: ptr.To(int64(seed))},
	}}
	for c := range containers {
		i := seed*containers + c
		profile := Value("profile", i, n)
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name:  fmt.Sprintf("c%d", c),
			Image: Value("registry.example.com/image", i, n),
			Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: int32(1 + 2*(i%30000))}},
			SecurityContext: &corev1.SecurityContext{
				RunAsUser: ptr.To(int64(3 * i)), RunAsGroup: ptr.To(int64(5 * i)),
				Capabilities:    &corev1.Capabilities{Add: []corev1.Capability{corev1.Capability(Value("cap", i, n))}},
				SeccompProfile:  &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile},
				AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &profile},
				SELinuxOptions: &corev1.SELinuxOptions{User: Value("u", i, n), Role: Value("r", i, n),
					Type: Value("t", i, n), Level: Value("l", i, n)},
			},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: Value("host", i, n)}}},
		})
		pod.Spec.Volumes = append(pod.Spec.Volumes,
			corev1.Volume{Name: fmt.Sprintf("h%d", c), VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/" + Value("path", i, n)}}},
			corev1.Volume{Name: fmt.Sprintf("f%d", c), VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: Value("flex", i, n)}}},
			corev1.Volume{Name: fmt.Sprintf("s%d", c), VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: fmt.Sprintf("d%d.csi", i)}}})
		pod.Spec.SecurityContext.Sysctls = append(pod.Spec.SecurityContext.Sysctls, corev1.Sysctl{Name: fmt.Sprintf("net.x%d", i)})
		pod.Spec.SecurityContext.SupplementalGroups = append(pod.Spec.SecurityContext.SupplementalGroups, int64(11*i))
	}
	return pod
}
