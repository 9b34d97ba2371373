package harness

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PrivilegedProbe is a pod named name more privileged than any Pod Security Admission fixture
// along several axes at once (host PID and IPC namespaces, a privileged container adding
// SYS_MODULE, a host path /<name>): every policy learned from one fixture denies it, so its
// denial shows that the policy is in effect. serviceAccount may be empty (the default).
func PrivilegedProbe(ns, name, serviceAccount string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: serviceAccount,
			HostPID:            true,
			HostIPC:            true,
			Containers: []corev1.Container{{
				Name:  "probe",
				Image: "registry.k8s.io/pause",
				SecurityContext: &corev1.SecurityContext{
					Privileged:   ptr(true),
					Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_MODULE"}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "host", MountPath: "/host"}},
			}},
			Volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: "/" + name},
			}}},
		},
	}
}
