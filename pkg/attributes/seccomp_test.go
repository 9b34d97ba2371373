package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveSeccomp(t *testing.T) {
	rd := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	local := func(name string) *corev1.SeccompProfile {
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &name}
	}
	runObserve(t, func(p Profile) []string { return p.SeccompProfiles }, []observeCase[[]string]{
		{"no containers", pod(corev1.PodSpec{}), nil},
		{"unset", one(nil, nil), []string{"Unset"}},
		{"pod-level inherited", one(&psc{SeccompProfile: rd}, nil), []string{"RuntimeDefault"}},
		{"pod-level inherited by a container setting other fields only", one(&psc{SeccompProfile: rd},
			&csc{RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false)}), []string{"RuntimeDefault"}},
		{"container overrides pod", one(&psc{SeccompProfile: rd},
			&csc{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}), []string{"Unconfined"}},
		{"localhost profile named", one(nil, &csc{SeccompProfile: local("profiles/audit.json")}), []string{"Localhost/profiles/audit.json"}},
		{"localhost without a profile name", one(nil, &csc{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}),
			[]string{"Localhost"}},
		{"one container unset", pod(corev1.PodSpec{Containers: []corev1.Container{ctr("a", &csc{SeccompProfile: rd}), ctr("b", nil)}}),
			[]string{"RuntimeDefault", "Unset"}},
		{"init container", pod(corev1.PodSpec{
			SecurityContext: &psc{SeccompProfile: rd},
			InitContainers:  []corev1.Container{ctr("init", &csc{SeccompProfile: local("a")})},
			Containers:      []corev1.Container{ctr("app", nil)},
		}), []string{"Localhost/a", "RuntimeDefault"}},
		{"ephemeral container", pod(corev1.PodSpec{
			Containers:          []corev1.Container{ctr("app", &csc{SeccompProfile: rd})},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", nil))},
		}), []string{"RuntimeDefault", "Unset"}},
	})
}
