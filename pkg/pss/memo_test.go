package pss

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	psaapi "k8s.io/pod-security-admission/api"
)

func TestMemo(t *testing.T) {
	yes := true
	pod := func(uid, hash, image string, hostPID bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{}},
			Spec: corev1.PodSpec{HostPID: hostPID, Containers: []corev1.Container{{Name: "c", Image: image}}}}
		if uid != "" {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: types.UID("u" + uid), Controller: &yes}}
		}
		if hash != "" {
			p.Labels["pod-template-hash"] = hash
		}
		return p
	}
	m := &Memo{Max: 10}
	if m.Evaluate(pod("1", "h", "nginx", false)).Level() != psaapi.LevelBaseline {
		t.Fatal("first evaluation wrong")
	}
	// The memo is keyed by template: a (hypothetical) pod of the same template gets the template's
	// verdict. This is what makes the second evaluation free.
	if m.Evaluate(pod("1", "h", "nginx", true)).Level() != psaapi.LevelBaseline {
		t.Error("same template not served from the memo")
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
	}{
		{"other image", pod("1", "h", "nginx:2", true)},
		{"other template hash", pod("1", "h2", "nginx", true)},
		{"other controller", pod("2", "h", "nginx", true)},
		{"no template hash", pod("1", "", "nginx", true)},
		{"no controller", pod("", "h", "nginx", true)},
	}
	for _, tt := range tests {
		if got := m.Evaluate(tt.pod).Level(); got != psaapi.LevelPrivileged {
			t.Errorf("%s: level %s, want its own evaluation (privileged)", tt.name, got)
		}
	}
	for i := range 20 {
		m.Evaluate(pod(string(rune('a'+i)), "h", "nginx", false))
	}
	if len(m.m) > m.Max {
		t.Errorf("memo holds %d entries, max %d", len(m.m), m.Max)
	}
}
