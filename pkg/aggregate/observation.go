package aggregate

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// Observation is what one admitted pod teaches: who it belongs to and what it uses. It holds
// no env values, args, secret contents or annotations; image and object names only.
type Observation struct {
	Namespace      string
	Owner          owner.Ref
	ServiceAccount string
	Images         []string
	Profile        attributes.Profile
	Verdict        pss.Verdict
	Time           time.Time // zero when unknown (offline)
}

// Observe builds the observation of a pod as the API server admits it, owned by ref.
func Observe(pod *corev1.Pod, ref owner.Ref, at time.Time) Observation {
	return ObserveWith(pod, ref, at, pss.Evaluate(&pod.ObjectMeta, &pod.Spec))
}

// ObserveWith is Observe with the pod's verdict already known (e.g. from a pss.Memo).
func ObserveWith(pod *corev1.Pod, ref owner.Ref, at time.Time, verdict pss.Verdict) Observation {
	o := Observation{
		Namespace:      pod.Namespace,
		Owner:          ref,
		ServiceAccount: pod.Spec.ServiceAccountName,
		Profile:        attributes.Observe(pod),
		Verdict:        verdict,
		Time:           at,
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = "default"
	}
	for _, c := range pod.Spec.InitContainers {
		o.Images = append(o.Images, c.Image)
	}
	for _, c := range pod.Spec.Containers {
		o.Images = append(o.Images, c.Image)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		o.Images = append(o.Images, c.Image)
	}
	return o
}
