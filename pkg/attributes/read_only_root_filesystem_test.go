package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveReadOnlyRootFilesystem(t *testing.T) {
	ro := &csc{ReadOnlyRootFilesystem: ptr.To(true)}
	runObserve(t, func(p Profile) bool { return p.WritableRootFilesystem }, []observeCase[bool]{
		{"no containers", pod(corev1.PodSpec{}), false},
		{"unset is writable", one(nil, nil), true},
		{"false", one(nil, &csc{ReadOnlyRootFilesystem: ptr.To(false)}), true},
		{"true", one(nil, ro), false},
		{"one container unset", pod(corev1.PodSpec{Containers: []corev1.Container{ctr("a", ro), ctr("b", &csc{})}}), true},
		{"init container unset", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", nil)},
			Containers:     []corev1.Container{ctr("app", ro)},
		}), true},
		{"ephemeral container unset", pod(corev1.PodSpec{
			Containers:          []corev1.Container{ctr("app", ro)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", nil))},
		}), true},
	})
}
