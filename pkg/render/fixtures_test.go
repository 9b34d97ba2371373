package render

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

// seen is one admitted pod, as the webhook would record it.
type seen struct {
	pod *corev1.Pod
	ref owner.Ref
	at  time.Time
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// webPod is a restricted web server: non-root, no privilege escalation, drops ALL, read-only
// root filesystem, RuntimeDefault seccomp.
func webPod(sa string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web-7d4b9c-x1"},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To(int64(1000)),
				RunAsGroup:     ptr.To(int64(1000)),
				FSGroup:        ptr.To(int64(2000)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  "nginx",
				Image: "nginxinc/nginx-unprivileged:1.27",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/nginx/conf.d", ReadOnly: true},
					{Name: "cache", MountPath: "/var/cache/nginx"},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web"}}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// nodeExporterPod shares the host's network and PID namespaces, binds host port 9100 and reads
// /proc and /sys from the host.
func nodeExporterPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "node-exporter-abcde"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "node-exporter",
			HostNetwork:        true,
			HostPID:            true,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true),
				RunAsUser:    ptr.To(int64(65534)),
			},
			Containers: []corev1.Container{{
				Name:  "node-exporter",
				Image: "quay.io/prometheus/node-exporter:v1.9.0",
				Args:  []string{"--path.procfs=/host/proc", "--path.sysfs=/host/sys"},
				// The API server sets hostPort to containerPort for hostNetwork pods.
				Ports: []corev1.ContainerPort{{ContainerPort: 9100}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
				},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Host: "127.0.0.1"}}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "proc", MountPath: "/host/proc", ReadOnly: true},
					{Name: "sys", MountPath: "/host/sys", ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "proc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/proc"}}},
				{Name: "sys", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/sys"}}},
			},
		},
	}
}

// migratePod is a Job that runs as root and writes to a host directory.
func migratePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "db-migrate-x2"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "migrator",
			SecurityContext:    &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(0))},
			InitContainers: []corev1.Container{{
				Name: "wait", Image: "busybox:1.36",
			}},
			Containers: []corev1.Container{{
				Name:         "migrate",
				Image:        "example.com/db-migrate:2.1",
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/app/"}}},
			},
		},
	}
}

// realistic is what a small cluster teaches: a restricted Deployment (seen under two service
// accounts across a rollout), a node-exporter DaemonSet and a root Job.
func realistic() []seen {
	return []seen{
		{webPod("default"), owner.Ref{Kind: "Deployment", Name: "web"}, t0},
		{webPod("frontend"), owner.Ref{Kind: "Deployment", Name: "web"}, t0.Add(2 * time.Hour)},
		{webPod("frontend"), owner.Ref{Kind: "Deployment", Name: "web"}, t0.Add(3 * time.Hour)},
		{nodeExporterPod(), owner.Ref{Kind: "DaemonSet", Name: "node-exporter"}, t0.Add(time.Minute)},
		{nodeExporterPod(), owner.Ref{Kind: "DaemonSet", Name: "node-exporter"}, t0.Add(time.Minute)},
		{migratePod(), owner.Ref{Kind: "Job", Name: "db-migrate"}, t0.Add(30 * time.Minute)},
	}
}

// build adds the observations in order to a fresh aggregate, each pod as the API server
// admits it (service-account token volume, host ports of hostNetwork pods, …).
func build(obs []seen) *aggregate.Aggregate {
	agg := aggregate.New("advisor-0")
	for _, o := range obs {
		pod := o.pod.DeepCopy()
		defaulting.Apply(pod)
		agg.Add(aggregate.Observe(pod, o.ref, o.at))
	}
	return agg
}
