package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveRunAsNonRoot(t *testing.T) {
	nonRoot := &psc{RunAsNonRoot: ptr.To(true)}
	runObserve(t, func(p Profile) bool { return p.MayRunAsRoot }, []observeCase[bool]{
		{"no containers", pod(corev1.PodSpec{}), false},
		{"unset anywhere", one(nil, nil), true},
		{"pod true, container inherits", one(nonRoot, nil), false},
		{"pod true, container sets other fields only", one(nonRoot, &csc{Privileged: ptr.To(false), RunAsUser: ptr.To[int64](1000)}), false},
		{"pod true, container false", one(nonRoot, &csc{RunAsNonRoot: ptr.To(false)}), true},
		{"pod false, container true", one(&psc{RunAsNonRoot: ptr.To(false)}, &csc{RunAsNonRoot: ptr.To(true)}), false},
		{"pod unset, container true", one(&psc{}, &csc{RunAsNonRoot: ptr.To(true)}), false},
		{"pod false", one(&psc{RunAsNonRoot: ptr.To(false)}, nil), true},
		{"runAsUser alone is not runAsNonRoot", one(&psc{RunAsUser: ptr.To[int64](1000)}, nil), true},
		{"one of two containers unset", pod(corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", &csc{RunAsNonRoot: ptr.To(true)}), ctr("b", nil),
		}}), true},
		{"init container inherits pod true", pod(corev1.PodSpec{
			SecurityContext: nonRoot,
			InitContainers:  []corev1.Container{ctr("init", &csc{ReadOnlyRootFilesystem: ptr.To(true)})},
			Containers:      []corev1.Container{ctr("app", nil)},
		}), false},
		{"init container unset", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", nil)},
			Containers:     []corev1.Container{ctr("app", &csc{RunAsNonRoot: ptr.To(true)})},
		}), true},
		{"ephemeral container overrides pod true", pod(corev1.PodSpec{
			SecurityContext:     nonRoot,
			Containers:          []corev1.Container{ctr("app", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", &csc{RunAsNonRoot: ptr.To(false)}))},
		}), true},
		{"ephemeral container inherits pod true", pod(corev1.PodSpec{
			SecurityContext:     nonRoot,
			Containers:          []corev1.Container{ctr("app", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", &csc{}))},
		}), false},
	})
}
