package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObservePrivilegeEscalation(t *testing.T) {
	no := &csc{AllowPrivilegeEscalation: ptr.To(false)}
	runObserve(t, func(p Profile) bool { return p.AllowPrivilegeEscalation }, []observeCase[bool]{
		{"no containers", pod(corev1.PodSpec{}), false},
		{"unset allows", one(nil, nil), true},
		{"security context without the field", one(nil, &csc{Privileged: ptr.To(false)}), true},
		{"false", one(nil, no), false},
		{"true", one(nil, &csc{AllowPrivilegeEscalation: ptr.To(true)}), true},
		{"every container false", pod(corev1.PodSpec{Containers: []corev1.Container{ctr("a", no), ctr("b", no)}}), false},
		{"one container unset", pod(corev1.PodSpec{Containers: []corev1.Container{ctr("a", no), ctr("b", nil)}}), true},
		{"init container unset", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", nil)},
			Containers:     []corev1.Container{ctr("app", no)},
		}), true},
		{"ephemeral container unset", pod(corev1.PodSpec{
			Containers:          []corev1.Container{ctr("app", no)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", nil))},
		}), true},
	})
}
