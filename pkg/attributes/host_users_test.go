package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveHostUsers(t *testing.T) {
	c := []corev1.Container{ctr("app", nil)}
	runObserve(t, func(p Profile) bool { return p.HostUsers }, []observeCase[bool]{
		{"unset shares the host user namespace", pod(corev1.PodSpec{Containers: c}), true},
		{"true", pod(corev1.PodSpec{HostUsers: ptr.To(true), Containers: c}), true},
		{"false gets its own user namespace", pod(corev1.PodSpec{HostUsers: ptr.To(false), Containers: c}), false},
	})
}
