package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveWindowsHostProcess(t *testing.T) {
	hostProcess := func(v bool) *corev1.WindowsSecurityContextOptions {
		return &corev1.WindowsSecurityContextOptions{HostProcess: &v}
	}
	podHP := &psc{WindowsOptions: hostProcess(true)}
	runObserve(t, func(p Profile) bool { return p.WindowsHostProcess }, []observeCase[bool]{
		{"unset", one(nil, nil), false},
		{"pod-level inherited", one(podHP, nil), true},
		{"pod-level inherited by a container setting other fields only", one(podHP, &csc{RunAsNonRoot: ptr.To(false)}), true},
		{"pod-level inherited by a container setting other windows options only", one(podHP,
			&csc{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To("NT AUTHORITY\\SYSTEM")}}), true},
		{"container false overrides pod", one(podHP, &csc{WindowsOptions: hostProcess(false)}), false},
		{"container true", one(nil, &csc{WindowsOptions: hostProcess(true)}), true},
		{"pod windows options without hostProcess", one(&psc{WindowsOptions: &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr.To("u")}}, nil), false},
		{"pod false, container true", one(&psc{WindowsOptions: hostProcess(false)}, &csc{WindowsOptions: hostProcess(true)}), true},
		{"init container", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", &csc{WindowsOptions: hostProcess(true)})},
			Containers:     []corev1.Container{ctr("app", nil)},
		}), true},
		{"ephemeral container", pod(corev1.PodSpec{
			Containers:          []corev1.Container{ctr("app", nil)},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", &csc{WindowsOptions: hostProcess(true)}))},
		}), true},
	})
}
