package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	admv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/webhook"
)

// The attacks of TestHostileClients, bounded in count and time, on loopback only.
const (
	floodConns    = 150              // concurrent connections sending big bodies
	floodFor      = 10 * time.Second // how long each flood lasts
	floodRequests = 40 * floodConns  // and at most this many requests
	overCapBytes  = 7 << 20          // the over-cap body
	slowConns     = 2000             // connections trickling a body
	normalReviews = 100              // reviews timed per measurement
	// chartTimeout is the chart's default webhook.timeoutSeconds, which install keeps: the
	// API server waits no longer for an answer.
	chartTimeout = 3 * time.Second
	// rssLimit is what the webhook's peak resident memory must stay under.
	rssLimitMiB = 256
	// closeMargin is how long after webhook.ReadTimeout a slow connection may still be open
	// (a busy machine).
	closeMargin = 3 * time.Second
)

// TestHostileClients floods a running webhook the way anyone who reaches its port can: 150
// connections sending maximal (and then over-cap) bodies, and 2,000 connections trickling
// theirs. It prints how fast an ordinary review is answered with and without each attack,
// the webhook's peak memory and how many slow connections outlive the read timeout, and
// fails when an answer does not allow, an ordinary review waits past the webhook's timeout,
// a slow connection stays open, the memory passes 256 MiB, or a pod created through the API
// server during the attacks is not learned.
func TestHostileClients(t *testing.T) {
	raiseFileLimit(t, slowConns+500)
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{})
	ns := r.TestNamespace(t, "hostile")
	normal := newReviewClient(t, r, w.Port, ns)

	idle := normal.measure(t, "no attack")
	rssIdle, _ := w.MemoryMiB("VmRSS")
	t.Logf("FIGURE hostile idle: normal review p50 %s p99 %s, webhook RSS %.0f MiB", idle.p50(), idle.p99(), rssIdle)

	maximal := bigReview(t, ns, webhook.MaxReviewBytes)
	overCap := bigReview(t, ns, overCapBytes)
	var created []string
	for i, rv := range []review{maximal, overCap} {
		what := fmt.Sprintf("%d×%.2f MiB bodies", floodConns, float64(len(rv.body))/(1<<20))
		f := flood(t, w.Port, rv)
		lat := normal.measure(t, what)
		name := fmt.Sprintf("during-flood-%d", i)
		d := timedCreate(t, r.c, ns, name)
		created = append(created, ns+"/Pod/"+name)
		res := f.stop()
		peak, _ := w.MemoryMiB("VmHWM")
		t.Logf("FIGURE hostile %s: normal review p50 %s p99 %s; attack answered %d (allowed %d, %d of them read), %d cut before the answer, %d unfinished; pod create %s; webhook peak RSS %.0f MiB",
			what, lat.p50(), lat.p99(), res.answered, res.allowed, res.read, res.unanswered, res.unfinished, d.Round(time.Millisecond), peak)
		if res.allowed != res.answered {
			t.Errorf("%s: %d of %d answers did not allow (with the request's UID, or none when unread): %s", what, res.answered-res.allowed, res.answered, res.firstBad)
		}
		if res.answered+res.unanswered == 0 {
			t.Errorf("%s: the flood sent nothing", what)
		}
		if lat.p99() > chartTimeout {
			t.Errorf("%s: ordinary reviews p99 %s, past the webhook's timeout %s", what, lat.p99(), chartTimeout)
		}
	}
	t.Logf("FIGURE hostile outcomes: too_large %v, shed %v, learned or known %v",
		w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "too_large"),
		w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "shed"),
		w.Metric(t, "pod_security_advisor_admissions_total", "operation", "UPDATE"))

	slowBody, _ := normal.body(t, "slow")
	slow := trickle(t, w.Port, slowBody)
	lat := normal.measure(t, fmt.Sprintf("%d slow bodies", slowConns))
	d := timedCreate(t, r.c, ns, "during-slow")
	created = append(created, ns+"/Pod/during-slow")
	open, closedAfter := slow.openAfter(webhook.ReadTimeout + closeMargin)
	peak, _ := w.MemoryMiB("VmHWM")
	t.Logf("FIGURE hostile %d slow bodies: normal review p50 %s p99 %s; pod create %s; open %s after their start: %d (closed after p50 %s, max %s); webhook peak RSS %.0f MiB",
		slowConns, lat.p50(), lat.p99(), d.Round(time.Millisecond), webhook.ReadTimeout+closeMargin, open, closedAfter.p50(), closedAfter.max(), peak)
	if lat.p99() > chartTimeout {
		t.Errorf("slow bodies: ordinary reviews p99 %s, past the webhook's timeout %s", lat.p99(), chartTimeout)
	}
	if open > 0 {
		t.Errorf("%d of %d slow connections still open %s after they started (read timeout %s)", open, slowConns, webhook.ReadTimeout+closeMargin, webhook.ReadTimeout)
	}
	if peak >= rssLimitMiB {
		t.Errorf("webhook peak RSS %.0f MiB, want under %d MiB", peak, rssLimitMiB)
	}
	if !w.Running() {
		t.Fatal("the webhook exited")
	}
	r.WaitWorkloads(t, 30*time.Second, created...)
}

// raiseFileLimit makes room for n open files in this process (the slow connections).
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Fatalf("open files: hard limit %d, the test needs %d", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
}

// durations are measured latencies.
type durations []time.Duration

func (d durations) quantile(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(d))
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
}
func (d durations) p50() time.Duration { return d.quantile(0.50) }
func (d durations) p99() time.Duration { return d.quantile(0.99) }
func (d durations) max() time.Duration { return d.quantile(1) }

// reviewClient posts ordinary reviews straight to the webhook, as the API server does: TLS
// verified against the release's CA, kept-alive connections.
type reviewClient struct {
	url, ns string
	client  *http.Client
	seq     atomic.Int64
}

func newReviewClient(t *testing.T, r *Release, port int, ns string) *reviewClient {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(r.servingSecret(t).Data["ca.crt"]) {
		t.Fatal("serving Secret: no CA certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	t.Cleanup(tr.CloseIdleConnections)
	return &reviewClient{url: fmt.Sprintf("https://127.0.0.1:%d/validate-pods", port), ns: ns, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// body is the CREATE review of an ordinary pod.
func (c *reviewClient) body(t *testing.T, name string) ([]byte, types.UID) {
	t.Helper()
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	uid := types.UID(fmt.Sprintf("%s-%d", name, c.seq.Add(1)))
	return marshalReview(t, admv1.Create, pod, nil, uid), uid
}

// measure times normalReviews reviews, one after the other; each must be allowed.
func (c *reviewClient) measure(t *testing.T, during string) durations {
	t.Helper()
	var d durations
	for range normalReviews {
		body, uid := c.body(t, "normal")
		start := time.Now()
		resp, err := c.client.Post(c.url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: ordinary review: %v", during, err)
		}
		err = checkAnswer(resp, uid)
		d = append(d, time.Since(start))
		if err != nil {
			t.Fatalf("%s: ordinary review: %v", during, err)
		}
	}
	return d
}

// checkAnswer reads an answer, which must allow with the given UID.
func checkAnswer(resp *http.Response, uid types.UID) error {
	got, err := answerUID(resp)
	if err == nil && got != uid {
		err = fmt.Errorf("answered uid %q for %q", got, uid)
	}
	return err
}

// answerUID reads an answer, which must be an admission.k8s.io/v1 AdmissionReview that
// allows, and returns its UID.
func answerUID(resp *http.Response) (types.UID, error) {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	var ar admv1.AdmissionReview
	if err := json.Unmarshal(data, &ar); err != nil || ar.Response == nil || ar.APIVersion != "admission.k8s.io/v1" {
		return "", fmt.Errorf("%s: not an admission.k8s.io/v1 AdmissionReview: %.200s", resp.Status, data)
	}
	if !ar.Response.Allowed {
		return ar.Response.UID, fmt.Errorf("%s: not allowed: %.200s", resp.Status, data)
	}
	return ar.Response.UID, nil
}

func marshalReview(t *testing.T, op admv1.Operation, pod, old *corev1.Pod, uid types.UID) []byte {
	t.Helper()
	raw := func(p *corev1.Pod) runtime.RawExtension {
		if p == nil {
			return runtime.RawExtension{}
		}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: data}
	}
	data, err := json.Marshal(admv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admv1.AdmissionRequest{
			UID: uid, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: pod.Namespace, Name: pod.Name, Operation: op,
			Object: raw(pod), OldObject: raw(old),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type review struct {
	body []byte
	uid  types.UID
}

// bigReview is an UPDATE review of a pod with as many environment variables as make the
// body about size bytes (object and oldObject, half each): the costliest pods to decode.
func bigReview(t *testing.T, ns string, size int) review {
	t.Helper()
	const perVar = len(`{"name":"E0000000","value":"v"},`)
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "big"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	for i := range (size - 64<<10) / 2 / perVar {
		pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: fmt.Sprintf("E%07d", i), Value: "v"})
	}
	const uid = types.UID("big-review")
	body := marshalReview(t, admv1.Update, pod, pod, uid)
	if len(body) > size {
		t.Fatalf("big review of %d bytes, want at most %d", len(body), size)
	}
	return review{body: body, uid: uid}
}

// floodResult is what a flood's senders saw.
type floodResult struct {
	answered, allowed, unanswered int
	read                          int // answers with the request's UID: the body was read
	unfinished                    int // requests the flood's end cut
	firstBad                      string
}

type flooding struct {
	cancel context.CancelFunc
	done   chan floodResult
}

// flood sends rv from floodConns connections at once, again and again, for floodFor or
// floodRequests requests, until stop. Every answer must allow, with the review's UID or,
// when the webhook did not read the body, none.
func flood(t *testing.T, port int, rv review) *flooding {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), floodFor)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxConnsPerHost: floodConns, MaxIdleConnsPerHost: floodConns}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := fmt.Sprintf("https://127.0.0.1:%d/validate-pods", port)
	f := &flooding{cancel: cancel, done: make(chan floodResult, 1)}
	var (
		mu    sync.Mutex
		res   floodResult
		sent  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range floodConns {
		wg.Go(func() {
			<-start
			for ctx.Err() == nil && sent.Add(1) <= floodRequests {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(rv.body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err == nil {
					uid, err := answerUID(resp)
					if err == nil && uid != rv.uid && uid != "" {
						err = fmt.Errorf("answered uid %q for %q", uid, rv.uid)
					}
					mu.Lock()
					res.answered++
					if err == nil {
						res.allowed++
					}
					if uid == rv.uid {
						res.read++
					}
					if err != nil && res.firstBad == "" {
						res.firstBad = err.Error()
					}
					mu.Unlock()
					continue
				}
				// Cut before the answer was read: the webhook answered a body it would not
				// read and closed the connection while this end was still sending.
				mu.Lock()
				if ctx.Err() == nil {
					res.unanswered++
				} else {
					res.unfinished++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	go func() {
		wg.Wait()
		tr.CloseIdleConnections()
		f.done <- res
	}()
	return f
}

func (f *flooding) stop() floodResult {
	f.cancel()
	return <-f.done
}

// trickling is slowConns connections that sent their headers and then send their body one
// byte a second.
type trickling struct {
	started, closed []time.Time // per connection; closed is zero while open
	mu              sync.Mutex
	last            time.Time // when the last connection had sent its headers
}

// trickle opens the slow connections, a few at a time, and returns once all are sending.
// They are closed when the test ends.
func trickle(t *testing.T, port int, body []byte) *trickling {
	t.Helper()
	tr := &trickling{started: make([]time.Time, slowConns), closed: make([]time.Time, slowConns)}
	header := fmt.Sprintf("POST /validate-pods HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	dialer := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}, NetDialer: &net.Dialer{Timeout: 10 * time.Second}}
	gate := make(chan struct{}, 16) // handshakes at once
	var failed atomic.Int64
	var dialing sync.WaitGroup
	for i := range slowConns {
		gate <- struct{}{}
		dialing.Go(func() {
			defer func() { <-gate }()
			conn, err := dialer.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				failed.Add(1)
				return
			}
			if _, err := conn.Write([]byte(header)); err != nil {
				conn.Close()
				failed.Add(1)
				return
			}
			now := time.Now()
			tr.mu.Lock()
			tr.started[i] = now
			tr.last = now
			tr.mu.Unlock()
			wg.Go(func() { // the server's answer or close ends the connection
				_, _ = io.Copy(io.Discard, conn)
				tr.mu.Lock()
				tr.closed[i] = time.Now()
				tr.mu.Unlock()
			})
			wg.Go(func() { // one byte a second, never all of it
				defer conn.Close()
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for _, b := range body[:len(body)-1] {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					if _, err := conn.Write([]byte{b}); err != nil {
						return
					}
				}
			})
		})
	}
	dialing.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d slow connections could not be opened", n, slowConns)
	}
	return tr
}

// openAfter waits until every connection has had after since it started and returns how
// many are still open, and how long the closed ones lived.
func (tr *trickling) openAfter(after time.Duration) (int, durations) {
	tr.mu.Lock()
	deadline := tr.last.Add(after)
	tr.mu.Unlock()
	time.Sleep(time.Until(deadline))
	tr.mu.Lock()
	defer tr.mu.Unlock()
	open := 0
	var lived durations
	for i, s := range tr.started {
		if tr.closed[i].IsZero() || tr.closed[i].Sub(s) > after {
			open++
		} else {
			lived = append(lived, tr.closed[i].Sub(s))
		}
	}
	return open, lived
}
