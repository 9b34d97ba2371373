package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestObserveProbeHosts(t *testing.T) {
	http := func(host string) *corev1.ProbeHandler {
		return &corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: host}}
	}
	tcp := func(host string) *corev1.ProbeHandler {
		return &corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: host}}
	}
	probed := func(name string, live, ready, startup *corev1.ProbeHandler) corev1.Container {
		c := ctr(name, nil)
		for _, p := range []struct {
			h   *corev1.ProbeHandler
			dst **corev1.Probe
		}{{live, &c.LivenessProbe}, {ready, &c.ReadinessProbe}, {startup, &c.StartupProbe}} {
			if p.h != nil {
				*p.dst = &corev1.Probe{ProbeHandler: *p.h}
			}
		}
		return c
	}
	hooked := func(name string, postStart, preStop corev1.LifecycleHandler) corev1.Container {
		c := ctr(name, nil)
		c.Lifecycle = &corev1.Lifecycle{PostStart: &postStart, PreStop: &preStop}
		return c
	}
	containers := func(cs ...corev1.Container) *corev1.Pod { return pod(corev1.PodSpec{Containers: cs}) }
	runObserve(t, func(p Profile) []string { return p.ProbeHosts }, []observeCase[[]string]{
		{"no probes", one(nil, nil), nil},
		{"empty host is the pod IP", containers(probed("app", http(""), tcp(""), http(""))), nil},
		{"liveness httpGet", containers(probed("app", http("10.0.0.1"), nil, nil)), []string{"10.0.0.1"}},
		{"readiness tcpSocket", containers(probed("app", nil, tcp("db.example"), nil)), []string{"db.example"}},
		{"startup", containers(probed("app", nil, nil, http("localhost"))), []string{"localhost"}},
		{"exec and grpc probes have no host", containers(probed("app",
			&corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
			&corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 1}}, nil)), nil},
		{"sorted and deduplicated", containers(probed("a", http("b"), tcp("a"), nil), probed("b", tcp("b"), nil, nil)), []string{"a", "b"}},
		{"lifecycle hooks", containers(hooked("app",
			corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: "post.example"}},
			corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Host: "pre.example"}},
		)), []string{"post.example", "pre.example"}},
		{"init and ephemeral containers", pod(corev1.PodSpec{
			InitContainers:      []corev1.Container{probed("init", nil, nil, http("init.example"))},
			EphemeralContainers: []corev1.EphemeralContainer{eph(hooked("debug", corev1.LifecycleHandler{}, corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: "debug.example"}}))},
		}), []string{"debug.example", "init.example"}},
	})
}
