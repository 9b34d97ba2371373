package attributes

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Short names for the structs the tables spell out.
type (
	psc = corev1.PodSecurityContext
	csc = corev1.SecurityContext
)

// pod returns a pod with the given spec.
func pod(spec corev1.PodSpec) *corev1.Pod { return &corev1.Pod{Spec: spec} }

// one returns a pod whose only container, "app", has security context sc, under pod-level
// security context p (either may be nil).
func one(p *psc, sc *csc) *corev1.Pod {
	return pod(corev1.PodSpec{SecurityContext: p, Containers: []corev1.Container{ctr("app", sc)}})
}

// ctr returns a container with the given security context (nil for none).
func ctr(name string, sc *csc) corev1.Container {
	return corev1.Container{Name: name, Image: "img", SecurityContext: sc}
}

// eph wraps a container as an ephemeral (debug) container.
func eph(c corev1.Container) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)}
}

// annotated sets annotations on a pod.
func annotated(p *corev1.Pod, kv ...string) *corev1.Pod {
	p.Annotations = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Annotations[kv[i]] = kv[i+1]
	}
	return p
}

// observeCase is one row of an attribute table: a pod and the value the attribute must have.
type observeCase[T any] struct {
	name string
	pod  *corev1.Pod
	want T
}

// runObserve checks field(Observe(pod)) against want for every case.
func runObserve[T any](t *testing.T, field func(Profile) T, cases []observeCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := field(Observe(tc.pod)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// contains reports whether v is in the set rs.
func contains(rs Ranges, v int64) bool {
	for _, r := range rs {
		if r.Min <= v && v <= r.Max {
			return true
		}
	}
	return false
}
