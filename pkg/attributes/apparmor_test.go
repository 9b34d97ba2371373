package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveAppArmor(t *testing.T) {
	const key = "container.apparmor.security.beta.kubernetes.io/"
	rd := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	unconfined := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	local := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr.To("k8s-nginx")}
	runObserve(t, func(p Profile) []string { return p.AppArmorProfiles }, []observeCase[[]string]{
		{"unset", one(nil, nil), []string{"Unset"}},
		{"container field", one(nil, &csc{AppArmorProfile: local}), []string{"Localhost/k8s-nginx"}},
		{"pod-level inherited", one(&psc{AppArmorProfile: rd}, nil), []string{"RuntimeDefault"}},
		{"pod-level inherited by a container setting other fields only", one(&psc{AppArmorProfile: rd}, &csc{Privileged: ptr.To(false)}),
			[]string{"RuntimeDefault"}},
		{"container field overrides pod", one(&psc{AppArmorProfile: rd}, &csc{AppArmorProfile: unconfined}), []string{"Unconfined"}},
		{"annotation runtime/default", annotated(one(nil, nil), key+"app", "runtime/default"), []string{"RuntimeDefault"}},
		{"annotation localhost/x", annotated(one(nil, nil), key+"app", "localhost/x"), []string{"Localhost/x"}},
		{"annotation unconfined", annotated(one(nil, nil), key+"app", "unconfined"), []string{"Unconfined"}},
		{"field beats annotation", annotated(one(nil, &csc{AppArmorProfile: rd}), key+"app", "unconfined"), []string{"RuntimeDefault"}},
		{"annotation beats pod-level field", annotated(one(&psc{AppArmorProfile: rd}, nil), key+"app", "localhost/x"), []string{"Localhost/x"}},
		{"annotation for another container", annotated(one(nil, nil), key+"other", "unconfined"), []string{"Unset"}},
		{"annotation per container", annotated(pod(corev1.PodSpec{
			SecurityContext: &psc{AppArmorProfile: rd},
			Containers:      []corev1.Container{ctr("a", nil), ctr("b", nil)},
		}), key+"b", "unconfined"), []string{"RuntimeDefault", "Unconfined"}},
		{"init and ephemeral containers by annotation", annotated(pod(corev1.PodSpec{
			InitContainers:      []corev1.Container{ctr("init", nil)},
			Containers:          []corev1.Container{ctr("app", &csc{AppArmorProfile: rd})},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", nil))},
		}), key+"init", "localhost/i", key+"debug", "unconfined"), []string{"Localhost/i", "RuntimeDefault", "Unconfined"}},
	})
}
