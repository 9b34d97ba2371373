package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// marshalReview wraps req in an admission.k8s.io/v1 AdmissionReview.
func marshalReview(t testing.TB, req admission.Request) []byte {
	t.Helper()
	data, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: reviewTypeMeta, Request: &req.AdmissionRequest})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// counted is the admissions counter of an operation and outcome.
func counted(op, outcome string) float64 {
	var m dto.Metric
	if err := admissions.WithLabelValues(op, outcome).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// serve posts body to h and returns the answer, which must be an allowed v1 AdmissionReview.
func serve(t *testing.T, h http.Handler, r *http.Request) *admissionv1.AdmissionResponse {
	t.Helper()
	resp, _ := serveHeader(t, h, r)
	return resp
}

// serveHeader is serve, also returning the answer's headers.
func serveHeader(t *testing.T, h http.Handler, r *http.Request) (*admissionv1.AdmissionResponse, http.Header) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &ar); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, w.Body)
	}
	if ar.TypeMeta != reviewTypeMeta || ar.Response == nil {
		t.Fatalf("answer is not an admission.k8s.io/v1 AdmissionReview: %s", w.Body)
	}
	if !ar.Response.Allowed {
		t.Fatalf("not allowed: %s", w.Body)
	}
	return ar.Response, w.Header()
}

func post(body io.Reader, length int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/validate-pods", body)
	r.ContentLength = length
	return r
}

// failingReader fails every read with err, after data.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestServeHTTPAlwaysAllows: every body, readable or not, is answered allowed with the
// request's UID when it has one, counted by outcome, and logged in one short line when it
// could not be used.
func TestServeHTTPAlwaysAllows(t *testing.T) {
	good := marshalReview(t, request(admissionv1.Create, "Pod", podJSON(t, nil)))
	unreadable := &failingReader{err: errors.New("must not be read")}
	for _, tc := range []struct {
		name    string
		req     *http.Request
		uid     types.UID
		op      string
		outcome string
		learned bool
	}{
		{"review", post(bytes.NewReader(good), int64(len(good))), "uid-1", "CREATE", OutcomeLearned, true},
		{"length unknown", post(bytes.NewReader(good), -1), "uid-1", "CREATE", OutcomeLearned, true},
		{"undecodable pod", post(strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":"nope"}}}}`), -1),
			"u2", "CREATE", OutcomeDecodeError, false},
		{"invented operation", post(strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u3","kind":{"kind":"Pod"},"operation":"SMASH"}}`), -1),
			"u3", operationUnknown, OutcomeIgnored, false},
		{"empty body", post(http.NoBody, 0), "", operationUnknown, OutcomeMalformed, false},
		{"not JSON", post(strings.NewReader("\x00garbage"), -1), "", operationUnknown, OutcomeMalformed, false},
		{"mistyped field keeps the UID", post(strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u4","operation":5}}`), -1),
			"u4", operationUnknown, OutcomeMalformed, false},
		{"v1beta1", post(strings.NewReader(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u5"}}`), -1),
			"u5", operationUnknown, OutcomeMalformed, false},
		{"no request", post(strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), -1), "", operationUnknown, OutcomeMalformed, false},
		{"declared too large, left unread", post(unreadable, MaxReviewBytes+1), "", operationUnknown, OutcomeTooLarge, false},
		{"too large, length unknown", post(io.MultiReader(strings.NewReader(`{"apiVersion":`), bytes.NewReader(make([]byte, MaxReviewBytes))), -1),
			"", operationUnknown, OutcomeTooLarge, false},
		{"read timeout", post(&failingReader{data: good[:100], err: fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)}, int64(len(good))),
			"", operationUnknown, OutcomeTimeout, false},
		{"connection reset", post(&failingReader{data: good[:100], err: io.ErrUnexpectedEOF}, int64(len(good))),
			"", operationUnknown, OutcomeReadError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			var log lines
			h := NewHandler(Handler{Learner: rec, Log: log.logger()})
			before := counted(tc.op, tc.outcome)
			resp, header := serveHeader(t, h, tc.req)
			if resp.UID != tc.uid {
				t.Errorf("uid %q, want %q", resp.UID, tc.uid)
			}
			// A connection whose body was left unread is closed; one read whole is kept.
			unread := tc.outcome == OutcomeTooLarge || tc.outcome == OutcomeTimeout || tc.outcome == OutcomeReadError
			if closes := header.Get("Connection") == "close"; closes != unread {
				t.Errorf("connection closed %v, want %v", closes, unread)
			}
			if got := counted(tc.op, tc.outcome) - before; got != 1 {
				t.Errorf("admissions{operation=%q,outcome=%q} rose by %v, want 1", tc.op, tc.outcome, got)
			}
			if got := len(rec.got) == 1; got != tc.learned {
				t.Errorf("learned %v, want %v", got, tc.learned)
			}
			if tc.learned {
				if len(log.got) != 0 {
					t.Errorf("logged %q", log.got)
				}
				return
			}
			if tc.outcome == OutcomeIgnored {
				return
			}
			if len(log.got) != 1 || len(log.got[0]) > 400 || !strings.Contains(log.got[0], tc.outcome) {
				t.Errorf("want one short line naming %s, got %q", tc.outcome, log.got)
			}
			if used := h.inFlight.used.Load(); used != 0 {
				t.Errorf("%d bytes of the budget still held", used)
			}
		})
	}
}

// TestServeHTTPShedsBigReviewsFirst: with the memory for big reviews in flight taken, a big
// review is answered at once, unread and not learned, while an ordinary one is still learned;
// only a full budget sheds ordinary ones.
func TestServeHTTPShedsBigReviewsFirst(t *testing.T) {
	rec := &recorder{}
	h := NewHandler(Handler{Learner: rec})
	small := marshalReview(t, request(admissionv1.Create, "Pod", podJSON(t, nil)))
	big := marshalReview(t, request(admissionv1.Create, "Pod", podJSON(t, func(p *corev1.Pod) {
		p.Annotations = map[string]string{"filler": strings.Repeat("x", smallReviewBytes)}
	})))
	shed := func() float64 { return counted(operationUnknown, OutcomeShed) }

	if !h.inFlight.take(bigInFlightBytes-reviewCost*int64(len(big))+1, 1) {
		t.Fatal("budget refused")
	}
	before := shed()
	serve(t, h, post(&failingReader{err: errors.New("a shed body must not be read")}, int64(len(big))))
	if shed() != before+1 || len(rec.got) != 0 {
		t.Fatalf("big review not shed: shed +%v, learned %d", shed()-before, len(rec.got))
	}
	if resp := serve(t, h, post(bytes.NewReader(small), int64(len(small)))); resp.UID != "uid-1" || len(rec.got) != 1 {
		t.Fatalf("ordinary review not learned beside a full big-review budget (uid %q)", resp.UID)
	}

	h.inFlight.give(h.inFlight.used.Load())
	if !h.inFlight.take(inFlightBytes-int64(len(small)), 1) {
		t.Fatal("budget refused")
	}
	serve(t, h, post(bytes.NewReader(small), int64(len(small))))
	if shed() != before+2 || len(rec.got) != 1 {
		t.Fatalf("ordinary review not shed with the whole budget taken")
	}
	h.inFlight.give(inFlightBytes - int64(len(small)))
	if used := h.inFlight.used.Load(); used != 0 {
		t.Errorf("%d bytes of the budget still held after the answers", used)
	}
}

// TestServeHTTPSkipsOldObject: an UPDATE's oldObject is not decoded (nor kept).
func TestServeHTTPSkipsOldObject(t *testing.T) {
	req := request(admissionv1.Update, "Pod", podJSON(t, nil))
	req.OldObject.Raw = podJSON(t, nil)
	got, err := decodeReview(marshalReview(t, req))
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != req.UID || got.Operation != admissionv1.Update || !bytes.Equal(got.Object.Raw, req.Object.Raw) {
		t.Errorf("decoded %+v", got.AdmissionRequest)
	}
	if got.OldObject.Raw != nil {
		t.Errorf("oldObject decoded: %d bytes", len(got.OldObject.Raw))
	}
}

// TestServeHTTPOverHTTP2: a review that cannot be used is answered over HTTP/2 without ending
// the connection, which carries the sender's other reviews.
func TestServeHTTPOverHTTP2(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewUnstartedServer(NewHandler(Handler{Learner: rec}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	good := marshalReview(t, request(admissionv1.Create, "Pod", podJSON(t, nil)))
	for i, body := range [][]byte{[]byte("not json"), good} {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, srv.URL, bytes.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && !reused {
			t.Error("the connection did not outlive a review that could not be used")
		}
		var ar admissionv1.AdmissionReview
		if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil || ar.Response == nil || !ar.Response.Allowed {
			t.Fatalf("%s %s: %+v %v", resp.Proto, resp.Status, ar, err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("served over %s", resp.Proto)
		}
	}
	if len(rec.got) != 1 {
		t.Errorf("learned %d pods, want 1", len(rec.got))
	}
}
