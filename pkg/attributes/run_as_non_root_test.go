package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestObserveRunAsNonRoot(t *testing.T) {
	nonRoot := &psc{RunAsNonRoot: ptr(true)}
	runObserve(t, func(p Profile) bool { return p.MayRunAsRoot }, []observeCase[bool]{
		{"no containers", pod(corev1.PodSpec{}), false},
		{"unset anywhere", one(nil, nil), true},
		{"pod true, container inherits", one(nonRoot, nil), false},
		{"pod true, container sets other fields only", one(nonRoot, &csc{Privileged: ptr(false), RunAsUser: ptr[int64](1000)}), false},
		{"pod true, container false", one(nonRoot, &csc{RunAsNonRoot: ptr(false)}), true},
		{"pod false, container true", one(&psc{RunAsNonRoot: ptr(false)}, &csc{RunAsNonRoot: ptr(true)}), false},
		{"pod unset, container true", one(&psc{}, &csc{RunAsNonRoot: ptr(true)}), false},
		{"pod false", one(&psc{RunAsNonRoot: ptr(false)}, nil), true},
		{"runAsUser alone is not runAsNonRoot", one(&psc{RunAsUser: ptr[int64](1000)}, nil), true},
		{"one of two containers unset", pod(corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", &csc{RunAsNonRoot: ptr(true)}), ctr("b", nil),
		}}), true},
		{"init container inherits pod true", pod(corev1.PodSpec{
			SecurityContext: nonRoot,
			InitContainers:  []corev1.Container{ctr("init", &csc{ReadOnlyRootFilesystem: ptr(true)})},
			Containers:      []corev1.Container{ctr("app", nil)},
		}), false},
		{"init container unset", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", nil)},
			Containers:     []corev1.Container{ctr("app", &csc{RunAsNonRoot: ptr(true)})},
		}), true},
		{"ephemeral container overrides pod true", pod(corev1.PodSpec{
			SecurityContext:     nonRoot,
			Containers:          []corev1.Container{ctr("app", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", &csc{RunAsNonRoot: ptr(false)}))},
		}), true},
		{"ephemeral container inherits pod true", pod(corev1.PodSpec{
			SecurityContext:     nonRoot,
			Containers:          []corev1.Container{ctr("app", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", &csc{}))},
		}), false},
	})
}
