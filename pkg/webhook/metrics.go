package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Outcomes of one admission request. Every one of them answers allowed: true.
const (
	OutcomeLearned     = "learned"      // the pod taught something new
	OutcomeKnown       = "known"        // nothing new: no write follows
	OutcomeHeld        = "held"         // would teach something new: learned once the pod is seen stored
	OutcomeDryRun      = "dry_run"      // not recorded (sideEffects: NoneOnDryRun)
	OutcomeExcluded    = "excluded"     // namespace excluded by flag
	OutcomeIgnored     = "ignored"      // not a pod (e.g. a DELETE or another kind)
	OutcomeDecodeError = "decode_error" // the object could not be read
	OutcomePanic       = "panic"        // observation failed; the pod is still allowed

	// The review itself could not be used (see Handler.ServeHTTP); the operation is unknown.
	OutcomeMalformed = "malformed"  // not an admission.k8s.io/v1 AdmissionReview
	OutcomeTooLarge  = "too_large"  // body over MaxReviewBytes, left unread
	OutcomeShed      = "shed"       // no memory left for reviews in flight: answered at once
	OutcomeTimeout   = "timeout"    // the body did not arrive within the server's read timeout
	OutcomeReadError = "read_error" // the connection failed while the body was read
)

// Operations as counted: the API server's, and one label for anything else, so a sender
// cannot grow the metric with operations of its own invention.
const operationUnknown = "unknown"

func operationLabel(op admissionv1.Operation) string {
	switch op {
	case admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect:
		return string(op)
	}
	return operationUnknown
}

var (
	admissions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pod_security_advisor_admissions_total",
		Help: "Admission requests answered, by operation and outcome. Every request is allowed.",
	}, []string{"operation", "outcome"})
	unconfirmed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pod_security_advisor_unconfirmed_total",
		Help: "Held observations given up without learning what the review claimed, by reason.",
	}, []string{"reason"})
	confirmations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pod_security_advisor_confirmed_total",
		Help: "Held observations confirmed by the stored pod (or by another stored pod of the same claim).",
	})
	confirmReads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pod_security_advisor_confirm_reads_total",
		Help: "GETs of held pods from the API server.",
	})
	held = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pod_security_advisor_held",
		Help: "Observations held until their pod is seen stored.",
	})
	latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "pod_security_advisor_handler_duration_seconds",
		Help:    "Time spent in the admission handler, decoding included.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1},
	})
)

func init() {
	metrics.Registry.MustRegister(admissions, latency, unconfirmed, confirmations, confirmReads, held)
}
