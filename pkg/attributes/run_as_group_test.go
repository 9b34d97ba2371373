package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveRunAsGroup(t *testing.T) {
	group := func(v int64) *psc { return &psc{RunAsGroup: &v} }
	ids := func(unset bool, rs ...Range) IDs { return IDs{Values: rs, Unset: unset} }
	runObserve(t, func(p Profile) IDs { return p.RunAsGroup }, []observeCase[IDs]{
		{"no containers", pod(corev1.PodSpec{}), IDs{}},
		{"unset", one(nil, nil), ids(true)},
		{"pod-level inherited", one(group(3000), nil), ids(false, Range{3000, 3000})},
		{"pod-level inherited by a container setting other fields only", one(group(3000), &csc{
			RunAsUser: ptr.To[int64](1000), Privileged: ptr.To(false),
		}), ids(false, Range{3000, 3000})},
		{"container overrides pod", one(group(3000), &csc{RunAsGroup: ptr.To[int64](0)}), ids(false, Range{0, 0})},
		{"pod user is not a group", one(&psc{RunAsUser: ptr.To[int64](5)}, nil), ids(true)},
		{"fsGroup is not a primary group", one(&psc{FSGroup: ptr.To[int64](5)}, nil), ids(true)},
		{"several merge", pod(corev1.PodSpec{
			SecurityContext: group(11),
			Containers:      []corev1.Container{ctr("a", nil), ctr("b", &csc{RunAsGroup: ptr.To[int64](10)}), ctr("c", &csc{RunAsGroup: ptr.To[int64](20)})},
		}), ids(false, Range{10, 11}, Range{20, 20})},
		{"init container unset", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", nil)},
			Containers:     []corev1.Container{ctr("app", &csc{RunAsGroup: ptr.To[int64](1)})},
		}), ids(true, Range{1, 1})},
		{"ephemeral container", pod(corev1.PodSpec{
			SecurityContext:     group(1),
			Containers:          []corev1.Container{ctr("app", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", &csc{RunAsGroup: ptr.To[int64](9)}))},
		}), ids(false, Range{1, 1}, Range{9, 9})},
	})
}
