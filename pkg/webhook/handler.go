// Package webhook is the admission webhook: its TLS server, the reading of AdmissionReviews,
// and the handler that hands what a pod uses to the learner. It always allows, never blocks,
// never errors and does no API round trip on the way; and since anyone who reaches its port
// can send it anything, everything it reads is bounded in size and time, and shared so that
// one sender cannot slow the API server's reviews down.
package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// Learner takes observations; Learn reports whether something new was learned, LearnKnown
// learns an observation only if it teaches nothing new and reports whether it did. They must
// be fast and must not block on I/O.
type Learner interface {
	Learn(aggregate.Observation) bool
	LearnKnown(aggregate.Observation) bool
}

// OwnerResolver names the top workload of a pod from local caches only.
type OwnerResolver interface {
	Resolve(ctx context.Context, pod *corev1.Pod) owner.Ref
}

// Handler answers admission reviews of pods and pods/ephemeralcontainers: ServeHTTP reads
// them, Handle (an admission.Handler) learns from the pod.
type Handler struct {
	Learner  Learner
	Owners   OwnerResolver   // nil: what the pod itself says (owner.FromPod)
	Excluded map[string]bool // namespaces answered but not recorded
	Log      logr.Logger
	Now      func() time.Time // nil: time.Now
	// Confirm, if set, holds what would teach something new until the pod is seen stored, and
	// learns the stored pod (Confirmer). nil: reviews are learned as they arrive, which lets
	// anyone who reaches the port write the policy (for tests and benchmarks only).
	Confirm *Confirmer

	decoder  admission.Decoder
	verdicts *pss.Memo
	quiet    *quietLog // lines about requests that could not be used
	inFlight *budget   // memory of the reviews being read and handled
}

// NewHandler returns a handler decoding with a scheme that knows core/v1.
func NewHandler(h Handler) *Handler {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	h.decoder = admission.NewDecoder(scheme)
	h.verdicts = &pss.Memo{Max: 4096}
	h.quiet = newQuietLog(h.Log)
	h.inFlight = &budget{}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Confirm != nil {
		h.Confirm.start(h.Learner, h.observe, h.Now)
	}
	return &h
}

var allowed = admission.Allowed("")

// Handle always allows. What it learned is counted by outcome.
func (h *Handler) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	start := time.Now()
	outcome := OutcomeIgnored
	defer func() {
		if r := recover(); r != nil {
			outcome = OutcomePanic
			h.quiet.Info("observing pod failed; allowed without learning", "panic", fmt.Sprint(r), "namespace", req.Namespace, "name", req.Name, "uid", req.UID)
		}
		admissions.WithLabelValues(operationLabel(req.Operation), outcome).Inc()
		latency.Observe(time.Since(start).Seconds())
		resp = allowed
	}()
	outcome = h.learn(ctx, req)
	return allowed
}

func (h *Handler) learn(ctx context.Context, req admission.Request) string {
	switch {
	case req.Kind.Kind != "Pod" || (req.Operation != admissionv1.Create && req.Operation != admissionv1.Update):
		return OutcomeIgnored
	case req.DryRun != nil && *req.DryRun:
		return OutcomeDryRun
	case h.Excluded[req.Namespace]:
		return OutcomeExcluded
	}
	pod := &corev1.Pod{}
	if err := h.decoder.Decode(req, pod); err != nil {
		h.quiet.Info("cannot decode pod; allowed without learning", "outcome", OutcomeDecodeError, "namespace", req.Namespace, "name", req.Name, "uid", req.UID, "error", err)
		return OutcomeDecodeError
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	o := h.observe(ctx, pod)
	switch {
	case h.Confirm == nil && h.Learner.Learn(o):
		h.Log.V(1).Info("learned", "namespace", pod.Namespace, "workload", o.Owner.String())
		return OutcomeLearned
	case h.Confirm == nil || h.Learner.LearnKnown(o):
		return OutcomeKnown
	}
	// Not logged: anyone can send reviews that are held (the metrics count them); what is
	// confirmed is logged by the Confirmer.
	h.Confirm.Hold(pod, o)
	return OutcomeHeld
}

// observe is what the pod teaches, its owner resolved from local caches.
func (h *Handler) observe(ctx context.Context, pod *corev1.Pod) aggregate.Observation {
	var ref owner.Ref
	if h.Owners != nil {
		ref = h.Owners.Resolve(ctx, pod)
	} else {
		ref = owner.FromPod(pod)
	}
	return aggregate.ObserveWith(pod, ref, h.Now(), h.verdicts.Evaluate(pod))
}
