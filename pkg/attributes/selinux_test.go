package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveSELinux(t *testing.T) {
	podOpts := &psc{SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c1,c2"}}
	runObserve(t, func(p Profile) []SELinux { return p.SELinuxOptions }, []observeCase[[]SELinux]{
		{"unset is not recorded", one(nil, nil), nil},
		{"pod-level inherited", one(podOpts, nil), []SELinux{{Level: "s0:c1,c2"}}},
		{"pod-level inherited by a container setting other fields only", one(podOpts, &csc{RunAsUser: ptr.To[int64](1)}),
			[]SELinux{{Level: "s0:c1,c2"}}},
		{"container replaces pod options whole; the pod's are recorded as set", one(podOpts, &csc{SELinuxOptions: &corev1.SELinuxOptions{Type: "spc_t"}}),
			[]SELinux{{Level: "s0:c1,c2"}, {Type: "spc_t"}}},
		{"all four fields", one(nil, &csc{SELinuxOptions: &corev1.SELinuxOptions{User: "u", Role: "r", Type: "t", Level: "l"}}),
			[]SELinux{{"u", "r", "t", "l"}}},
		{"distinct options sorted as user:role:type:level, duplicates merged", pod(corev1.PodSpec{
			SecurityContext: podOpts,
			InitContainers:  []corev1.Container{ctr("init", &csc{SELinuxOptions: &corev1.SELinuxOptions{Type: "spc_t"}})},
			Containers:      []corev1.Container{ctr("a", nil), ctr("b", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{
				eph(ctr("debug", &csc{SELinuxOptions: &corev1.SELinuxOptions{User: "system_u"}})),
			},
		}), []SELinux{{Level: "s0:c1,c2"}, {Type: "spc_t"}, {User: "system_u"}}},
	})
}
