package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveProcMount(t *testing.T) {
	unmasked := &csc{ProcMount: ptr.To(corev1.UnmaskedProcMount)}
	runObserve(t, func(p Profile) []string { return p.ProcMountTypes }, []observeCase[[]string]{
		{"no containers", pod(corev1.PodSpec{}), nil},
		{"unset is Default", one(nil, nil), []string{"Default"}},
		{"empty is Default", one(nil, &csc{ProcMount: ptr.To(corev1.ProcMountType(""))}), []string{"Default"}},
		{"Unmasked", one(nil, unmasked), []string{"Unmasked"}},
		{"both", pod(corev1.PodSpec{Containers: []corev1.Container{ctr("a", unmasked), ctr("b", &csc{})}}), []string{"Default", "Unmasked"}},
		{"init and ephemeral containers", pod(corev1.PodSpec{
			InitContainers:      []corev1.Container{ctr("init", unmasked)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", nil))},
		}), []string{"Default", "Unmasked"}},
	})
}
