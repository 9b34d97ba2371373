// Package synthetic draws realistic pods of many distinct workloads, for tests and benchmarks
// of scale (state size, memory) that need more workloads than anyone writes by hand.
package synthetic

import (
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

var (
	kinds   = []string{"Deployment", "Deployment", "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"}
	words   = []string{"api", "web", "worker", "cache", "ingest", "billing", "search", "auth", "metrics", "queue", "gateway", "reports"}
	addCaps = []string{"NET_ADMIN", "NET_BIND_SERVICE", "SYS_PTRACE", "SYS_TIME", "CHOWN", "NET_RAW", "IPC_LOCK"}
	paths   = []string{"/var/log", "/proc", "/sys", "/var/lib/docker/containers", "/run/containerd/containerd.sock", "/etc/ssl/certs", "/dev"}
)

// Pod is one pod of workload i, drawn so that workloads differ the way real ones do:
// about half restricted-compliant, a third left at the defaults, the rest node agents with
// host namespaces, host paths, host ports and added capabilities.
func Pod(r *rand.Rand, i int) (*corev1.Pod, owner.Ref) {
	pick := func(pool []string) string { return pool[r.IntN(len(pool))] }
	app := fmt.Sprintf("%s-%s-%d", words[i%len(words)], words[i/len(words)%len(words)], i)
	ref := owner.Ref{Kind: kinds[i%len(kinds)], Name: app}
	team := fmt.Sprintf("team-%03d", i%400)
	main := corev1.Container{
		Name:  "app",
		Image: fmt.Sprintf("registry.example.com/%s/%s:v1.%d.%d", team, app, r.IntN(30), r.IntN(10)),
		Ports: []corev1.ContainerPort{{ContainerPort: int32(8000 + r.IntN(100))}},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "config", MountPath: "/etc/app"},
			{Name: "tmp", MountPath: "/tmp"},
		},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: app + "-x7k2p", Namespace: team},
		Spec: corev1.PodSpec{
			ServiceAccountName: []string{"", app, "default"}[r.IntN(3)],
			Containers:         []corev1.Container{main},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: app}}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	if r.IntN(4) == 0 {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.1",
			SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1337), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}})
		pod.Spec.InitContainers = []corev1.Container{{Name: "istio-init", Image: "docker.io/istio/proxyv2:1.24.1",
			SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN", "NET_RAW"}}}}}
	}
	c := &pod.Spec.Containers[0]
	switch n := r.IntN(10); {
	case n < 5: // restricted
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To(int64(1000 + r.IntN(5000))),
			FSGroup:        ptr.To(int64(2000 + r.IntN(10))),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}
		c.SecurityContext = &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
	case n < 8: // defaults
	default: // node agent
		pod.Spec.HostNetwork = r.IntN(2) == 0
		pod.Spec.HostPID = r.IntN(3) == 0
		c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(r.IntN(3) == 0), Capabilities: &corev1.Capabilities{}}
		for range 1 + r.IntN(3) {
			c.SecurityContext.Capabilities.Add = append(c.SecurityContext.Capabilities.Add, corev1.Capability(pick(addCaps)))
		}
		for j := range 1 + r.IntN(3) {
			name := fmt.Sprintf("host-%d", j)
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pick(paths)}}})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/host/" + name, ReadOnly: r.IntN(2) == 0})
		}
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 9100, HostPort: int32(9100 + r.IntN(20))})
	}
	defaulting.Apply(pod)
	return pod, ref
}

// Aggregate is what one replica learned from n distinct workloads (first..first+n-1), each seen
// in one to three pods.
func Aggregate(replica string, first, n int, seed uint64) *aggregate.Aggregate {
	r := rand.New(rand.NewPCG(seed, uint64(first)))
	agg := aggregate.New(replica)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := first; i < first+n; i++ {
		for range 1 + r.IntN(3) {
			pod, ref := Pod(r, i)
			agg.Add(aggregate.Observe(pod, ref, at.Add(time.Duration(r.IntN(86400))*time.Second)))
		}
	}
	return agg
}

// Spread is Aggregate(replica, 0, n, 1) with its workloads dealt round-robin, in order, over
// namespaces tenant-0000 … tenant-<namespaces-1>: the shape of a cluster of many tenants.
func Spread(replica string, n, namespaces int) *aggregate.Aggregate {
	src := Aggregate(replica, 0, n, 1)
	out := aggregate.New(replica)
	i := 0
	for _, ns := range src.NamespaceNames() {
		for _, w := range src.Namespaces[ns].Sorted() {
			one := aggregate.New(replica)
			one.Namespaces[fmt.Sprintf("tenant-%04d", i%namespaces)] = &aggregate.Namespace{Workloads: map[string]*aggregate.Workload{w.Key(): w}}
			out.Merge(one)
			i++
		}
	}
	return out
}
