package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/learner"
)

// apiServer is a client.Reader of the pods the API server stored, counting GETs.
type apiServer struct {
	mu   sync.Mutex
	pods map[client.ObjectKey]*corev1.Pod
	gets int
}

func (s *apiServer) store(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pods == nil {
		s.pods = map[client.ObjectKey]*corev1.Pod{}
	}
	s.pods[client.ObjectKeyFromObject(p)] = p.DeepCopy()
}

func (s *apiServer) reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

func (s *apiServer) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	p, ok := s.pods[key]
	if !ok {
		return apierrors.NewNotFound(corev1.Resource("pods"), key.Name)
	}
	p.DeepCopyInto(obj.(*corev1.Pod))
	return nil
}

func (s *apiServer) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// watched is the learner, and what was handed to its Learn.
type watched struct {
	*learner.Learner
	mu      sync.Mutex
	learned []aggregate.Observation
}

func (w *watched) Learn(o aggregate.Observation) bool {
	w.mu.Lock()
	w.learned = append(w.learned, o)
	w.mu.Unlock()
	return w.Learner.Learn(o)
}

// hostPIDs returns how many observations were learned, and how many of them used hostPID.
func (w *watched) hostPIDs() (n, hostPID int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range w.learned {
		if o.Profile.HostPID {
			hostPID++
		}
	}
	return len(w.learned), hostPID
}

// confirming is a handler that confirms against api, its Confirmer running in the current
// synctest bubble until the test ends.
func confirming(t *testing.T, api *apiServer, c *Confirmer) (*Handler, *watched) {
	t.Helper()
	l := &watched{Learner: learner.New(aggregate.New("test"))}
	c.Reader = api
	h := NewHandler(Handler{Learner: l, Confirm: c})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h, l
}

// storedPod is the pod of podJSON as the API server stores it: with its name and UID.
func storedPod(t *testing.T, name string, mutate func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{}
	if err := json.Unmarshal(podJSON(t, mutate), p); err != nil {
		t.Fatal(err)
	}
	p.Name, p.UID = name, types.UID("uid-"+name)
	return p
}

func reviewOf(t *testing.T, op admissionv1.Operation, p *corev1.Pod) admission.Request {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	r := request(op, "Pod", data)
	r.Namespace, r.Name = p.Namespace, p.Name
	return r
}

func hostPID(p *corev1.Pod) { p.Spec.HostPID = true }

// handle answers a review and returns the outcome it was counted under.
func handle(t *testing.T, h *Handler, req admission.Request) string {
	t.Helper()
	counts := map[string]float64{}
	outcomes := []string{OutcomeLearned, OutcomeKnown, OutcomeHeld}
	for _, o := range outcomes {
		counts[o] = testutil.ToFloat64(admissions.WithLabelValues(string(req.Operation), o))
	}
	if !h.Handle(context.Background(), req).Allowed {
		t.Fatal("not allowed")
	}
	for _, o := range outcomes {
		if testutil.ToFloat64(admissions.WithLabelValues(string(req.Operation), o)) > counts[o] {
			return o
		}
	}
	return "other"
}

func reasons() map[string]float64 {
	out := map[string]float64{}
	for _, r := range []string{UnconfirmedFull, UnconfirmedUnidentified, UnconfirmedNotStored, UnconfirmedDiffers, UnconfirmedReadError} {
		out[r] = testutil.ToFloat64(unconfirmed.WithLabelValues(r))
	}
	return out
}

// given returns how many more observations were given up for each reason since before.
func given(before map[string]float64) map[string]int {
	out := map[string]int{}
	for r, n := range reasons() {
		if d := int(n - before[r]); d != 0 {
			out[r] = d
		}
	}
	return out
}

// A pod stored by the API server is learned from what was stored, a moment after its review;
// a repeat needs no read.
func TestConfirmLearnsTheStoredPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiServer{}
		h, l := confirming(t, api, &Confirmer{})
		pod := storedPod(t, "web-1", nil)
		if got := handle(t, h, reviewOf(t, admissionv1.Create, pod)); got != OutcomeHeld {
			t.Fatalf("a new pod: %s, want held", got)
		}
		if n, _ := l.hostPIDs(); n != 0 {
			t.Fatal("learned before the pod was stored")
		}
		time.Sleep(time.Second) // the API server stores it after every webhook answered
		api.store(pod)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n, _ := l.hostPIDs(); n != 1 || l.Workloads() != 1 {
			t.Fatalf("learned %d observations (%d records) once the pod was stored, want 1", n, l.Workloads())
		}
		reads := api.reads()
		if got := handle(t, h, reviewOf(t, admissionv1.Create, storedPod(t, "web-2", nil))); got != OutcomeKnown {
			t.Fatalf("a repeat: %s, want known", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if api.reads() != reads {
			t.Fatalf("a repeat cost %d reads", api.reads()-reads)
		}
	})
}

// Reviews the API server never stored (forged, or rejected by a later admission step) teach
// nothing, cost a bounded number of reads, and are counted when given up.
func TestConfirmForgedReviewsTeachNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiServer{}
		h, l := confirming(t, api, &Confirmer{Timeout: 10 * time.Second})
		real := storedPod(t, "web-1", nil)
		api.store(real)
		before := reasons()
		for i := range 20 {
			forged := storedPod(t, fmt.Sprintf("forged-%d", i), hostPID)
			handle(t, h, reviewOf(t, admissionv1.Create, forged))
		}
		// The same identity as a stored pod, another spec: only the stored pod is learned.
		handle(t, h, reviewOf(t, admissionv1.Create, storedPod(t, "web-1", hostPID)))
		unnamed := storedPod(t, "", hostPID)
		handle(t, h, reviewOf(t, admissionv1.Create, unnamed))
		time.Sleep(time.Minute)
		synctest.Wait()
		if n, pid := l.hostPIDs(); pid != 0 || n == 0 {
			t.Fatalf("learned %d observations, %d with hostPID; want only the stored pod's, none with hostPID", n, pid)
		}
		want := map[string]int{UnconfirmedNotStored: 20, UnconfirmedDiffers: 1, UnconfirmedUnidentified: 1}
		if got := given(before); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("given up %v, want %v", got, want)
		}
		// 250ms doubling to 4s within 10s: at most 6 reads each.
		if reads := api.reads(); reads > 21*6 {
			t.Errorf("%d reads for 21 held reviews", reads)
		}
		if h.Confirm.heldCount() != 0 {
			t.Errorf("%d still held after the timeout", h.Confirm.heldCount())
		}
	})
}

// An ephemeral container is learned once the update that adds it is stored, from the stored pod.
func TestConfirmEphemeralContainerUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiServer{}
		h, l := confirming(t, api, &Confirmer{})
		pod := storedPod(t, "web-1", nil)
		api.store(pod)
		l.Learner.Learn(h.observe(context.Background(), pod))
		debug := pod.DeepCopy()
		debug.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: "busybox", SecurityContext: &corev1.SecurityContext{
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_PTRACE"}}}}}}
		req := reviewOf(t, admissionv1.Update, debug)
		req.SubResource = "ephemeralcontainers"
		if got := handle(t, h, req); got != OutcomeHeld {
			t.Fatalf("a debug container: %s, want held", got)
		}
		time.Sleep(2 * time.Second) // read before the update is stored: not yet confirmed
		api.store(debug)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		l.mu.Lock()
		defer l.mu.Unlock()
		last := l.learned[len(l.learned)-1]
		if len(last.Profile.AddedCapabilities) != 1 || last.Profile.AddedCapabilities[0] != "SYS_PTRACE" {
			t.Fatalf("the stored debug container was not learned: %+v", last.Profile.AddedCapabilities)
		}
	})
}

// The hold is bounded, and a namespace that holds fewer than the biggest takes a place of the
// biggest's: a flood claiming one namespace does not keep another's pods from being confirmed.
func TestConfirmHoldIsBoundedAndShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiServer{}
		h, _ := confirming(t, api, &Confirmer{MaxHeld: 8})
		before := reasons()
		for i := range 20 {
			handle(t, h, reviewOf(t, admissionv1.Create, storedPod(t, fmt.Sprintf("flood-%d", i), hostPID)))
		}
		if got := h.Confirm.heldCount(); got != 8 {
			t.Fatalf("%d held, want the bound 8", got)
		}
		other := storedPod(t, "web-1", nil)
		other.Namespace = "team-b"
		handle(t, h, reviewOf(t, admissionv1.Create, other))
		if !h.Confirm.holds(other) {
			t.Fatal("a pod of another namespace found no place")
		}
		if got := given(before)[UnconfirmedFull]; got != 13 {
			t.Fatalf("%d counted full, want 13 (12 refused, 1 place given up)", got)
		}
	})
}

// Many pods of one new claim (a Deployment's replicas) cost one read or a few, not one each.
func TestConfirmReadsPerClaimNotPerPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiServer{}
		h, l := confirming(t, api, &Confirmer{})
		const replicas = 50
		for i := range replicas {
			pod := storedPod(t, fmt.Sprintf("web-%d", i), nil)
			api.store(pod)
			handle(t, h, reviewOf(t, admissionv1.Create, pod))
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if reads := api.reads(); reads > readWorkers*2 {
			t.Fatalf("%d reads for %d replicas of one new workload", reads, replicas)
		}
		if l.Workloads() != 1 {
			t.Fatalf("%d records", l.Workloads())
		}
	})
}

// heldCount is how many identities are held.
func (c *Confirmer) heldCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// holds reports whether the pod's identity is held.
func (c *Confirmer) holds(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[identity{pod.Namespace, pod.Name, pod.UID}] != nil
}

// On shutdown, Drain learns what is held and stored at once, without the usual wait, and
// gives up the rest: nothing stays held.
func TestConfirmDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiServer{}
		l := &watched{Learner: learner.New(aggregate.New("test"))}
		c := &Confirmer{Reader: api}
		h := NewHandler(Handler{Learner: l, Confirm: c}) // never started: only Drain reads
		stored := storedPod(t, "web-1", nil)
		api.store(stored)
		handle(t, h, reviewOf(t, admissionv1.Create, stored))
		handle(t, h, reviewOf(t, admissionv1.Create, storedPod(t, "never", hostPID)))
		before := reasons()
		c.Drain(context.Background())
		if n, pid := l.hostPIDs(); n != 1 || pid != 0 {
			t.Fatalf("learned %d observations (%d with hostPID), want the stored pod's alone", n, pid)
		}
		if got := given(before); fmt.Sprint(got) != fmt.Sprint(map[string]int{UnconfirmedNotStored: 1}) {
			t.Errorf("given up %v, want the pod never stored", got)
		}
		if c.heldCount() != 0 {
			t.Errorf("%d still held", c.heldCount())
		}
		c.queue.ShutDown()
	})
}
