package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// reviewTypeMeta is what an AdmissionReview says it is, asked and answered: the chart
// registers the webhook for admission.k8s.io/v1 only.
var reviewTypeMeta = metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"}

// firstReadBytes is the buffer a body starts with (an ordinary review fits); it doubles as
// the bytes arrive.
const firstReadBytes = 8 << 10

// ServeHTTP answers one AdmissionReview, always with allowed: true and the request's UID when
// it could be read. It reads and decodes the review itself rather than through
// controller-runtime's admission.Webhook, which answers a body it cannot read with allowed:
// false (a rejected pod under failurePolicy: Fail), logs each such request at error level
// with a stack trace, and reads up to 7 MiB per request with no bound on how many at once.
// Here a body is capped at MaxReviewBytes and takes its memory from a budget shared by the
// requests in flight, without waiting; whatever cannot be read is answered at once, counted
// by outcome and logged in one rate-limited line. The pod itself is handled by Handle.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var uid types.UID
	answer := allowed
	outcome := ""
	unread := false // a body left (partly) unread
	defer func() {
		if p := recover(); p != nil {
			outcome = OutcomePanic
			h.quiet.Info("answering the admission request failed; allowed", "panic", fmt.Sprint(p), "remote", r.RemoteAddr, "uid", uid)
		}
		if outcome != "" {
			admissions.WithLabelValues(operationUnknown, outcome).Inc()
		}
		// The rest of an unread body is not worth waiting for: the connection goes. One read
		// whole is kept, even when it was malformed: a new TLS handshake for each of a
		// sender's requests would cost more than reading them. (Over HTTP/2 an unread body's
		// stream is reset; closing would end the sender's other streams.)
		if unread && r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		writeReview(w, uid, answer)
	}()

	body, held, outcome, err := h.readBody(r)
	defer h.inFlight.give(held)
	if outcome != "" {
		unread = outcome != OutcomeMalformed
		h.quiet.Info("admission request not read; allowed without learning", "outcome", outcome, "remote", r.RemoteAddr, "bytes", r.ContentLength, "error", err)
		return
	}
	req, err := decodeReview(body)
	if req != nil {
		uid = req.UID
	}
	if err != nil {
		outcome = OutcomeMalformed
		h.quiet.Info("admission request not understood; allowed without learning", "outcome", outcome, "remote", r.RemoteAddr, "uid", uid, "error", err)
		return
	}
	answer = h.Handle(r.Context(), *req)
	answer.Allowed = true
}

// readBody reads the request's body, at most MaxReviewBytes, with the memory it holds taken
// from the in-flight budget. On failure it returns the outcome.
func (h *Handler) readBody(r *http.Request) (body []byte, held int64, outcome string, err error) {
	declared := r.ContentLength // -1: unknown (chunked)
	switch {
	case declared > MaxReviewBytes:
		return nil, 0, OutcomeTooLarge, fmt.Errorf("body of %d bytes, more than %d", declared, MaxReviewBytes)
	case declared == 0 || r.Body == nil:
		return nil, 0, OutcomeMalformed, errors.New("empty body")
	}
	take := func(n, size int64) bool {
		if !h.inFlight.take(n, size) {
			return false
		}
		held += n
		return true
	}
	shed := func(what string) ([]byte, int64, string, error) {
		return nil, held, OutcomeShed, fmt.Errorf("no memory left for reviews in flight to %s", what)
	}
	if declared > smallReviewBytes {
		// A big review takes all the memory it will hold before a byte is read, or is turned
		// away unread: big bodies are the ones shed when memory is short.
		if !take(reviewCost*declared, declared) {
			return shed("read this one")
		}
		body = make([]byte, declared)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, held, readFailure(err), err
		}
		return body, held, "", nil
	}
	// Small, or of unknown length: the buffer grows with the bytes that arrived and takes its
	// memory as it grows (a client that sends slowly holds little, and the server's read
	// timeout ends it); a complete body then takes what decoding and learning it will hold.
	for {
		if len(body) == cap(body) {
			size := min(max(2*int64(cap(body)), firstReadBytes), MaxReviewBytes+1)
			if declared > 0 {
				size = min(size, declared)
			}
			if !take(size-int64(cap(body)), size) {
				return shed(fmt.Sprintf("read more than %d bytes", len(body)))
			}
			body = append(make([]byte, 0, size), body...)
		}
		n, err := r.Body.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		switch {
		case len(body) > MaxReviewBytes:
			return nil, held, OutcomeTooLarge, fmt.Errorf("body of more than %d bytes", MaxReviewBytes)
		case err == io.EOF || (err == nil && int64(len(body)) == declared):
			if !take((reviewCost-1)*int64(len(body)), int64(len(body))) {
				return shed(fmt.Sprintf("decode %d bytes", len(body)))
			}
			return body, held, "", nil
		case err != nil:
			return nil, held, readFailure(err), err
		}
	}
}

// readFailure is the outcome of a body that could not be read.
func readFailure(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return OutcomeTimeout
	}
	return OutcomeReadError
}

// review is the part of an AdmissionReview that is decoded.
type review struct {
	metav1.TypeMeta
	Request *reviewRequest `json:"request"`
}

// reviewRequest is an AdmissionRequest without its oldObject: what is learned is the object,
// and leaving the old one unread keeps an UPDATE's memory to one pod. (The field shadows the
// embedded one, being shallower.)
type reviewRequest struct {
	admissionv1.AdmissionRequest
	OldObject unread `json:"oldObject"`
}

type unread struct{}

func (*unread) UnmarshalJSON([]byte) error { return nil }

// decodeReview decodes an admission.k8s.io/v1 AdmissionReview. On a mismatched field it
// still returns what it read, so the answer can carry the UID.
func decodeReview(body []byte) (*admission.Request, error) {
	var rv review
	err := json.Unmarshal(body, &rv)
	var req *admission.Request
	if rv.Request != nil {
		req = &admission.Request{AdmissionRequest: rv.Request.AdmissionRequest}
	}
	switch {
	case err != nil:
		return req, err
	case rv.TypeMeta != reviewTypeMeta:
		return req, fmt.Errorf("%s %s, want %s %s", rv.APIVersion, rv.Kind, reviewTypeMeta.APIVersion, reviewTypeMeta.Kind)
	case req == nil:
		return nil, errors.New("no request")
	}
	return req, nil
}

// writeReview writes the admission.k8s.io/v1 AdmissionReview answering uid.
func writeReview(w http.ResponseWriter, uid types.UID, answer admission.Response) {
	resp := answer.AdmissionResponse
	resp.UID = uid
	// Marshalling a response of our own making cannot fail.
	data, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: reviewTypeMeta, Response: &resp})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}
