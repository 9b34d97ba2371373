package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveFSGroup(t *testing.T) {
	runObserve(t, func(p Profile) IDs { return p.FSGroup }, []observeCase[IDs]{
		{"no security context", one(nil, nil), IDs{Unset: true}},
		{"security context without fsGroup", one(&psc{RunAsGroup: ptr.To[int64](3)}, nil), IDs{Unset: true}},
		{"fsGroup", one(&psc{FSGroup: ptr.To[int64](2000)}, nil), IDs{Values: Ranges{{2000, 2000}}}},
		{"pod-level only, even without containers", pod(corev1.PodSpec{SecurityContext: &psc{FSGroup: ptr.To[int64](0)}}), IDs{Values: Ranges{{0, 0}}}},
	})
}
