package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestObserveHostNamespaces(t *testing.T) {
	type ns struct{ Network, PID, IPC bool }
	c := []corev1.Container{ctr("app", nil)}
	runObserve(t, func(p Profile) ns { return ns{p.HostNetwork, p.HostPID, p.HostIPC} }, []observeCase[ns]{
		{"none", pod(corev1.PodSpec{Containers: c}), ns{}},
		{"hostNetwork", pod(corev1.PodSpec{HostNetwork: true, Containers: c}), ns{Network: true}},
		{"hostPID", pod(corev1.PodSpec{HostPID: true, Containers: c}), ns{PID: true}},
		{"hostIPC", pod(corev1.PodSpec{HostIPC: true, Containers: c}), ns{IPC: true}},
		{"all", pod(corev1.PodSpec{HostNetwork: true, HostPID: true, HostIPC: true}), ns{true, true, true}},
	})
}
