package owner

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestCacheResolver(t *testing.T) {
	yes := true
	ctrl := func(apiVersion, kind, name string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &yes}}
	}
	meta := func(apiVersion, kind, name string, owners []metav1.OwnerReference) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, OwnerReferences: owners}}
	}
	reader := fake.NewClientBuilder().WithObjects(
		// A Job made by hand from a CronJob: its name does not have the CronJob controller's form.
		meta("batch/v1", "Job", "nightly-manual", ctrl("batch/v1", "CronJob", "nightly")),
		meta("apps/v1", "ReplicaSet", "web-abc", ctrl("apps/v1", "Deployment", "web")),
		meta("apps/v1", "ReplicaSet", "orphan", nil),
	).Build()
	pod := func(owners []metav1.OwnerReference) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", OwnerReferences: owners}}
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		synced bool
		want   Ref
	}{
		{"job of a cronjob, through the cache", pod(ctrl("batch/v1", "Job", "nightly-manual")), true, Ref{"CronJob", "nightly"}},
		{"replicaset without the hash label, through the cache", pod(ctrl("apps/v1", "ReplicaSet", "web-abc")), true, Ref{"Deployment", "web"}},
		{"replicaset with no owner", pod(ctrl("apps/v1", "ReplicaSet", "orphan")), true, Ref{"ReplicaSet", "orphan"}},
		{"nowhere: the pod's own reference", pod(ctrl("batch/v1", "Job", "gone")), true, Ref{"Job", "gone"}},
		{"daemonset needs no lookup", pod(ctrl("apps/v1", "DaemonSet", "agent")), true, Ref{"DaemonSet", "agent"}},
		{"bare pod", pod(nil), true, Ref{"Pod", "p"}},
		{"before the caches sync: never wait, use the pod", pod(ctrl("batch/v1", "Job", "nightly-manual")), false, Ref{"Job", "nightly-manual"}},
	}
	// A controller created a moment ago: the cache has not seen it, the API server has.
	live := fake.NewClientBuilder().WithObjects(meta("batch/v1", "Job", "fresh-manual", ctrl("batch/v1", "CronJob", "fresh"))).Build()
	tests = append(tests, struct {
		name   string
		pod    *corev1.Pod
		synced bool
		want   Ref
	}{"cache miss asks the API server", pod(ctrl("batch/v1", "Job", "fresh-manual")), true, Ref{"CronJob", "fresh"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &CacheResolver{Reader: reader, Live: live, LiveTimeout: time.Second}
			if tt.synced {
				r.Synced()
			}
			if got := r.Resolve(context.Background(), tt.pod); got != tt.want {
				t.Errorf("Resolve() = %v, want %v", got, tt.want)
			}
		})
	}
}
