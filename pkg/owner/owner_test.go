package owner

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFromPod(t *testing.T) {
	ctrl := func(apiVersion, kind, name string) []metav1.OwnerReference {
		yes := true
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &yes}}
	}
	tests := []struct {
		name   string
		meta   metav1.ObjectMeta
		expect Ref
	}{
		{"bare pod", metav1.ObjectMeta{Name: "debug"}, Ref{"Pod", "debug"}},
		{"generateName only", metav1.ObjectMeta{GenerateName: "web-"}, Ref{"Pod", "web"}},
		{"deployment via hash label", metav1.ObjectMeta{
			Name: "web-7d4b9c-x2x", Labels: map[string]string{"pod-template-hash": "7d4b9c"},
			OwnerReferences: ctrl("apps/v1", "ReplicaSet", "web-7d4b9c")}, Ref{"Deployment", "web"}},
		{"replicaset without hash label stays", metav1.ObjectMeta{
			Name: "rs-abc", OwnerReferences: ctrl("apps/v1", "ReplicaSet", "rs")}, Ref{"ReplicaSet", "rs"}},
		{"replicaset whose name lacks the hash", metav1.ObjectMeta{
			Labels: map[string]string{"pod-template-hash": "zzz"}, OwnerReferences: ctrl("apps/v1", "ReplicaSet", "plain")},
			Ref{"ReplicaSet", "plain"}},
		{"cronjob job", metav1.ObjectMeta{OwnerReferences: ctrl("batch/v1", "Job", "backup-29123456")}, Ref{"CronJob", "backup"}},
		{"plain job", metav1.ObjectMeta{OwnerReferences: ctrl("batch/v1", "Job", "migrate-v2")}, Ref{"Job", "migrate-v2"}},
		{"short digits are a plain job", metav1.ObjectMeta{OwnerReferences: ctrl("batch/v1", "Job", "run-42")}, Ref{"Job", "run-42"}},
		{"daemonset", metav1.ObjectMeta{OwnerReferences: ctrl("apps/v1", "DaemonSet", "agent")}, Ref{"DaemonSet", "agent"}},
		{"statefulset", metav1.ObjectMeta{OwnerReferences: ctrl("apps/v1", "StatefulSet", "db")}, Ref{"StatefulSet", "db"}},
		{"non-controller owner ignored", metav1.ObjectMeta{Name: "p",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1"}}}, Ref{"Pod", "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromPod(&corev1.Pod{ObjectMeta: tt.meta}); got != tt.expect {
				t.Errorf("FromPod() = %v, want %v", got, tt.expect)
			}
		})
	}
}
