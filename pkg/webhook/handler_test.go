package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/learner"
)

type recorder struct {
	got   []aggregate.Observation
	panic bool
}

func (r *recorder) Learn(o aggregate.Observation) bool {
	if r.panic {
		panic("boom")
	}
	r.got = append(r.got, o)
	return true
}

func (r *recorder) LearnKnown(aggregate.Observation) bool { return false }

func podJSON(t testing.TB, mutate func(*corev1.Pod)) []byte {
	t.Helper()
	yes := true
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f7-abcde", Namespace: "shop", Labels: map[string]string{"pod-template-hash": "5d8f7"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f7", UID: "0f1e2d3c", Controller: &yes}}},
		Spec: corev1.PodSpec{ServiceAccountName: "web", Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27",
			Env: []corev1.EnvVar{{Name: "PASSWORD", Value: "hunter2"}}}}},
	}
	if mutate != nil {
		mutate(pod)
	}
	data, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func request(op admissionv1.Operation, kind string, object []byte) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: types.UID("uid-1"), Kind: metav1.GroupVersionKind{Version: "v1", Kind: kind},
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "shop",
		Operation: op, Object: runtime.RawExtension{Raw: object},
	}}
}

func TestHandleAlwaysAllows(t *testing.T) {
	dry := true
	tests := []struct {
		name    string
		req     admission.Request
		panic   bool
		learned bool
	}{
		{"pod create is learned", request(admissionv1.Create, "Pod", podJSON(t, nil)), false, true},
		{"undecodable object", request(admissionv1.Create, "Pod", []byte(`{"spec":{"containers":"nope"}}`)), false, false},
		{"not JSON", request(admissionv1.Create, "Pod", []byte(`\x00garbage`)), false, false},
		{"other kind", request(admissionv1.Create, "Deployment", podJSON(t, nil)), false, false},
		{"delete", request(admissionv1.Delete, "Pod", nil), false, false},
		{"dry run not recorded", func() admission.Request {
			r := request(admissionv1.Create, "Pod", podJSON(t, nil))
			r.DryRun = &dry
			return r
		}(), false, false},
		{"excluded namespace", func() admission.Request {
			r := request(admissionv1.Create, "Pod", podJSON(t, nil))
			r.Namespace = "kube-system"
			return r
		}(), false, false},
		{"panic while learning", request(admissionv1.Create, "Pod", podJSON(t, nil)), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{panic: tt.panic}
			h := NewHandler(Handler{Learner: rec, Excluded: map[string]bool{"kube-system": true}})
			resp := h.Handle(context.Background(), tt.req)
			if !resp.Allowed {
				t.Fatalf("not allowed: %+v", resp.Result)
			}
			if got := len(rec.got) == 1; got != tt.learned {
				t.Errorf("learned %v, want %v", got, tt.learned)
			}
		})
	}
}

func TestHandleLearnsWorkloadAndEphemeralContainers(t *testing.T) {
	rec := &recorder{}
	h := NewHandler(Handler{Learner: rec})
	debug := podJSON(t, func(p *corev1.Pod) {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: "busybox", SecurityContext: &corev1.SecurityContext{
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_PTRACE"}}}}}}
	})
	req := request(admissionv1.Update, "Pod", debug)
	req.SubResource = "ephemeralcontainers"
	if !h.Handle(context.Background(), req).Allowed {
		t.Fatal("not allowed")
	}
	if len(rec.got) != 1 {
		t.Fatal("ephemeral container update not learned")
	}
	o := rec.got[0]
	if o.Owner.String() != "Deployment/web" || o.ServiceAccount != "web" || o.Namespace != "shop" {
		t.Errorf("owner %s sa %s ns %s", o.Owner, o.ServiceAccount, o.Namespace)
	}
	if len(o.Profile.AddedCapabilities) != 1 || o.Profile.AddedCapabilities[0] != "SYS_PTRACE" {
		t.Errorf("debug container's capability not learned: %v", o.Profile.AddedCapabilities)
	}
	if data, _ := json.Marshal(o); bytes.Contains(data, []byte("hunter2")) {
		t.Error("an env value reached the observation")
	}
}

// reviewBody is an AdmissionReview as the API server sends it.
func reviewBody(b *testing.B) []byte {
	pod := podJSON(b, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoy:1.30",
			Ports: []corev1.ContainerPort{{ContainerPort: 15001}}, ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}}}})
		p.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	})
	req := request(admissionv1.Create, "Pod", pod)
	data, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &req.AdmissionRequest,
	})
	return data
}

func benchmarkHTTP(b *testing.B, srv http.Handler) {
	body := reviewBody(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/validate-pods", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkNoopHandler decodes the pod and allows, in controller-runtime's admission
// framework: the floor any webhook pays.
func BenchmarkNoopHandler(b *testing.B) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	dec := admission.NewDecoder(scheme)
	benchmarkHTTP(b, &admission.Webhook{Handler: admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		pod := &corev1.Pod{}
		_ = dec.Decode(req, pod)
		return admission.Allowed("")
	})})
}

// BenchmarkHandler is the real handler as serve runs it (confirming what is new), reading
// and decoding the review itself, in steady state: the workload is known, nothing new.
func BenchmarkHandler(b *testing.B) {
	l := learner.New(aggregate.New("bench"))
	warm := httptest.NewRequest(http.MethodPost, "/validate-pods", bytes.NewReader(reviewBody(b)))
	warm.Header.Set("Content-Type", "application/json")
	NewHandler(Handler{Learner: l}).ServeHTTP(httptest.NewRecorder(), warm) // the pod, learned
	benchmarkHTTP(b, NewHandler(Handler{Learner: l, Confirm: &Confirmer{}}))
}
