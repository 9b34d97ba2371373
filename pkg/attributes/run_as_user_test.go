package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveRunAsUser(t *testing.T) {
	user := func(v int64) *psc { return &psc{RunAsUser: &v} }
	ids := func(unset bool, rs ...Range) IDs { return IDs{Values: rs, Unset: unset} }
	runObserve(t, func(p Profile) IDs { return p.RunAsUser }, []observeCase[IDs]{
		{"no containers", pod(corev1.PodSpec{}), IDs{}},
		{"unset", one(nil, nil), ids(true)},
		{"pod-level inherited", one(user(1000), nil), ids(false, Range{1000, 1000})},
		{"pod-level inherited by a container setting other fields only", one(user(1000), &csc{
			RunAsGroup: ptr.To[int64](3000), RunAsNonRoot: ptr.To(true), ReadOnlyRootFilesystem: ptr.To(true),
		}), ids(false, Range{1000, 1000})},
		{"container overrides pod", one(user(1000), &csc{RunAsUser: ptr.To[int64](2000)}), ids(false, Range{2000, 2000})},
		{"root is recorded", one(nil, &csc{RunAsUser: ptr.To[int64](0)}), ids(false, Range{0, 0})},
		{"pod group is not a user", one(&psc{RunAsGroup: ptr.To[int64](5)}, nil), ids(true)},
		{"adjacent users merge", pod(corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", &csc{RunAsUser: ptr.To[int64](1001)}), ctr("b", &csc{RunAsUser: ptr.To[int64](1000)}), ctr("c", &csc{RunAsUser: ptr.To[int64](7)}),
		}}), ids(false, Range{7, 7}, Range{1000, 1001})},
		{"one set one unset", pod(corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", &csc{RunAsUser: ptr.To[int64](5)}), ctr("b", nil),
		}}), ids(true, Range{5, 5})},
		{"init container", pod(corev1.PodSpec{
			SecurityContext: user(1000),
			InitContainers:  []corev1.Container{ctr("init", &csc{RunAsUser: ptr.To[int64](0)})},
			Containers:      []corev1.Container{ctr("app", nil)},
		}), ids(false, Range{0, 0}, Range{1000, 1000})},
		{"ephemeral container inherits", pod(corev1.PodSpec{
			SecurityContext:     user(1000),
			Containers:          []corev1.Container{ctr("app", &csc{RunAsUser: ptr.To[int64](2000)})},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", &csc{Privileged: ptr.To(false)}))},
		}), ids(false, Range{1000, 1000}, Range{2000, 2000})},
	})
}
