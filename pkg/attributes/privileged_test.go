package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObservePrivileged(t *testing.T) {
	priv := &csc{Privileged: ptr.To(true)}
	runObserve(t, func(p Profile) bool { return p.Privileged }, []observeCase[bool]{
		{"no security context", one(nil, nil), false},
		{"privileged false", one(nil, &csc{Privileged: ptr.To(false)}), false},
		{"privileged true", one(nil, priv), true},
		{"one of two containers", pod(corev1.PodSpec{Containers: []corev1.Container{ctr("a", nil), ctr("b", priv)}}), true},
		{"init container", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", priv)},
			Containers:     []corev1.Container{ctr("app", nil)},
		}), true},
		{"ephemeral container", pod(corev1.PodSpec{
			Containers:          []corev1.Container{ctr("app", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", priv))},
		}), true},
	})
}
