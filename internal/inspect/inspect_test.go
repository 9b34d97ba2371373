package inspect

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func controlledBy(kind, name, apiVersion string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: "u", Controller: &yes}}
}

func pod(ns, name string, owners []metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
}

// Pods are learned as the webhook learns them: a ReplicaSet's as its Deployment's, a Job's as
// its CronJob's whatever the Job's name, an orphaned ReplicaSet's as the ReplicaSet's.
func TestScanResolvesOwners(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	objs := []client.Object{
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web-5d9", OwnerReferences: controlledBy("Deployment", "web", "apps/v1")}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "orphan"}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "manual", OwnerReferences: controlledBy("CronJob", "nightly", "batch/v1")}},
		pod("a", "web-5d9-x", controlledBy("ReplicaSet", "web-5d9", "apps/v1")),
		pod("a", "web-5d9-y", controlledBy("ReplicaSet", "web-5d9", "apps/v1")),
		pod("a", "orphan-z", controlledBy("ReplicaSet", "orphan", "apps/v1")),
		pod("a", "solo", nil),
		pod("b", "manual-q", controlledBy("Job", "manual", "batch/v1")),
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	for _, tc := range []struct {
		namespace string
		want      []string
		pods      int
	}{
		{"", []string{"a/Deployment/web", "a/Pod/solo", "a/ReplicaSet/orphan", "b/CronJob/nightly"}, 5},
		{"b", []string{"b/CronJob/nightly"}, 1},
	} {
		var progress bytes.Buffer
		agg, st, err := Scan(context.Background(), c, Options{Namespace: tc.namespace, Progress: &progress})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for ns, n := range agg.Namespaces {
			for key := range maps.Keys(n.Workloads) {
				got = append(got, ns+"/"+key)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) || st.Pods != tc.pods {
			t.Errorf("namespace %q: workloads %q from %d pods, want %q from %d", tc.namespace, got, st.Pods, tc.want, tc.pods)
		}
		if strings.Contains(progress.String(), "listed") {
			t.Errorf("progress for a scan of a moment: %q", progress.String())
		}
	}
}
