package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestObserveHostPaths(t *testing.T) {
	hp := func(name, path string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}}}
	}
	mnt := func(name string, ro bool) corev1.VolumeMount {
		return corev1.VolumeMount{Name: name, MountPath: "/mnt/" + name, ReadOnly: ro}
	}
	mounting := func(name string, ms ...corev1.VolumeMount) corev1.Container {
		c := ctr(name, nil)
		c.VolumeMounts = ms
		return c
	}
	spec := func(vs []corev1.Volume, cs ...corev1.Container) *corev1.Pod {
		return pod(corev1.PodSpec{Volumes: vs, Containers: cs})
	}
	logs := []corev1.Volume{hp("logs", "/var/log")}
	runObserve(t, func(p Profile) HostPaths { return p.HostPaths }, []observeCase[HostPaths]{
		{"no hostPath", spec([]corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			mounting("app", mnt("e", false))), nil},
		{"read-only mount", spec(logs, mounting("app", mnt("logs", true))), HostPaths{{"/var/log", true}}},
		{"writable mount", spec(logs, mounting("app", mnt("logs", false))), HostPaths{{"/var/log", false}}},
		{"unmounted counts as read-only", spec(logs, mounting("app")), HostPaths{{"/var/log", true}}},
		{"other volume's writable mount does not matter", spec(
			append(logs, corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}),
			mounting("app", mnt("logs", true), mnt("e", false))), HostPaths{{"/var/log", true}}},
		{"mounted twice, once writable", spec(logs, mounting("app", mnt("logs", true), mnt("logs", false))), HostPaths{{"/var/log", false}}},
		{"read-only in one container, writable in another", spec(logs,
			mounting("a", mnt("logs", true)), mounting("b", mnt("logs", false))), HostPaths{{"/var/log", false}}},
		{"read-only in every container", spec(logs,
			mounting("a", mnt("logs", true)), mounting("b", mnt("logs", true))), HostPaths{{"/var/log", true}}},
		{"two volumes on one path, one writable", spec([]corev1.Volume{hp("a", "/data"), hp("b", "/data")},
			mounting("app", mnt("a", true), mnt("b", false))), HostPaths{{"/data", false}}},
		{"two volumes on one path, writable one listed first", spec([]corev1.Volume{hp("b", "/data"), hp("a", "/data")},
			mounting("app", mnt("a", true), mnt("b", false))), HostPaths{{"/data", false}}},
		{"paths kept as written", spec([]corev1.Volume{hp("a", "/var/log/"), hp("b", "/var/lib/../log")},
			mounting("app", mnt("a", true), mnt("b", false))), HostPaths{{"/var/lib/../log", false}, {"/var/log/", true}}},
		{"sorted by path", spec([]corev1.Volume{hp("z", "/z"), hp("a", "/a"), hp("m", "/m")},
			mounting("app", mnt("m", false))), HostPaths{{"/a", true}, {"/m", false}, {"/z", true}}},
		{"init container writes", pod(corev1.PodSpec{Volumes: logs,
			InitContainers: []corev1.Container{mounting("init", mnt("logs", false))},
			Containers:     []corev1.Container{mounting("app", mnt("logs", true))},
		}), HostPaths{{"/var/log", false}}},
		{"ephemeral container writes", pod(corev1.PodSpec{Volumes: logs,
			Containers:          []corev1.Container{mounting("app", mnt("logs", true))},
			EphemeralContainers: []corev1.EphemeralContainer{eph(mounting("debug", mnt("logs", false)))},
		}), HostPaths{{"/var/log", false}}},
	})
}
