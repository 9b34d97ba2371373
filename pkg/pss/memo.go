package pss

import (
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Memo remembers the verdict of pods stamped from one template, so the admission path runs the
// checks once per ReplicaSet, StatefulSet or DaemonSet revision instead of once per pod. The key
// is the controller's UID, the template hash label the controller puts on its pods, and every
// container's name and image, so a pod that a mutating webhook changed differently (a sidecar
// injected or not) is evaluated on its own. Pods without a template hash are always evaluated.
type Memo struct {
	// Max bounds the entries; when full, the memo starts over (revisions come and go).
	Max int

	mu sync.Mutex
	m  map[string]Verdict
}

// templateHashLabels are set by the Deployment, StatefulSet and DaemonSet controllers.
var templateHashLabels = []string{"pod-template-hash", "controller-revision-hash"}

// Evaluate returns the pod's verdict, from the memo when a pod of the same template was seen.
func (m *Memo) Evaluate(pod *corev1.Pod) Verdict {
	key := memoKey(pod)
	if key == "" {
		return Evaluate(&pod.ObjectMeta, &pod.Spec)
	}
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if ok {
		return v
	}
	v = Evaluate(&pod.ObjectMeta, &pod.Spec)
	m.mu.Lock()
	if m.m == nil || len(m.m) >= max(m.Max, 1) {
		m.m = map[string]Verdict{}
	}
	m.m[key] = v
	m.mu.Unlock()
	return v
}

func memoKey(pod *corev1.Pod) string {
	ctrl := metav1.GetControllerOfNoCopy(pod)
	if ctrl == nil || ctrl.UID == "" {
		return ""
	}
	var hash string
	for _, l := range templateHashLabels {
		if hash = pod.Labels[l]; hash != "" {
			break
		}
	}
	if hash == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(string(ctrl.UID))
	b.WriteString("/" + hash)
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			b.WriteString("|" + c.Name + "=" + c.Image)
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		b.WriteString("|" + c.Name + "=" + c.Image)
	}
	return b.String()
}
