package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestObserveHostPorts(t *testing.T) {
	ports := func(name string, hostPorts ...int32) corev1.Container {
		c := ctr(name, nil)
		for _, hp := range hostPorts {
			c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 8080, HostPort: hp})
		}
		return c
	}
	runObserve(t, func(p Profile) Ranges { return p.HostPorts }, []observeCase[Ranges]{
		{"no ports", one(nil, nil), nil},
		{"hostPort 0 is no host port", pod(corev1.PodSpec{Containers: []corev1.Container{ports("app", 0, 0)}}), nil},
		{"one port", pod(corev1.PodSpec{Containers: []corev1.Container{ports("app", 0, 443)}}), Ranges{{443, 443}}},
		{"consecutive ports consolidated", pod(corev1.PodSpec{Containers: []corev1.Container{
			ports("a", 8082, 80), ports("b", 8080, 8081, 8080),
		}}), Ranges{{80, 80}, {8080, 8082}}},
		{"init container", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ports("init", 53)},
			Containers:     []corev1.Container{ports("app", 54)},
		}), Ranges{{53, 54}}},
		{"ephemeral container", pod(corev1.PodSpec{
			Containers:          []corev1.Container{ports("app")},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ports("debug", 9000))},
		}), Ranges{{9000, 9000}}},
	})
}
