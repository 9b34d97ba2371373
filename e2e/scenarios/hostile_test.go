package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
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
	// What the attacks may write to the webhook's log: lines about unusable requests are
	// rate-limited (the handler's and the server's, a line a second each after a burst),
	// short, and without stack traces.
	logLinesPerSecond = 3
	logBurst          = 20
	maxLogLine        = 1024
)

// TestHostileClients floods a running webhook the way anyone who reaches its port can: 150
// connections sending malformed reviews, then maximal and over-cap bodies, and 2,000
// connections trickling theirs. It prints how fast an ordinary review is answered with and without each attack,
// the webhook's peak memory, how many slow connections outlive the read timeout and what the
// attacks wrote to the log, and fails when an answer does not allow, an ordinary review waits
// past the webhook's timeout, a slow connection stays open, the memory passes 256 MiB, the
// log grows faster than a few short lines a second, or a pod created through the API server
// during the attacks is not learned.
func TestHostileClients(t *testing.T) {
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{})
	ns := r.TestNamespace(t, "hostile")
	normal := newReviewClient(t, r, w.Port, ns)

	idle := normal.measure(t, "no attack")
	rssIdle, _ := w.MemoryMiB("VmRSS")
	t.Logf("FIGURE hostile idle: normal review p50 %s p99 %s, webhook RSS %.0f MiB", idle.p50(), idle.p99(), rssIdle)

	logStart, attackStart := len(w.Log()), time.Now()
	var created []string
	// A review whose request the webhook cannot use, but whose UID it can read.
	malformed := review{body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"malformed","operation":5}}`), uid: "malformed"}
	for i, rv := range []review{malformed, bigReview(t, ns, webhook.MaxReviewBytes), bigReview(t, ns, overCapBytes)} {
		what := fmt.Sprintf("%d×%.2f MiB bodies", floodConns, float64(len(rv.body))/(1<<20))
		if i == 0 {
			what = fmt.Sprintf("%d×malformed reviews", floodConns)
		}
		a := startAttack(t, attack{Kind: attackFlood, Port: w.Port, Body: rv.body, UID: rv.uid})
		lat := normal.measure(t, what)
		name := fmt.Sprintf("during-flood-%d", i)
		d := timedCreate(t, r.c, ns, name)
		created = append(created, ns+"/Pod/"+name)
		res := a.wait(t)
		peak, _ := w.MemoryMiB("VmHWM")
		t.Logf("FIGURE hostile %s: normal review p50 %s p99 %s; attack answered %d (allowed %d, %d of them read), %d cut before the answer, %d unfinished; pod create %s; webhook peak RSS %.0f MiB",
			what, lat.p50(), lat.p99(), res.Answered, res.Allowed, res.Read, res.Unanswered, res.Unfinished, d.Round(time.Millisecond), peak)
		if res.Allowed != res.Answered {
			t.Errorf("%s: %d of %d answers did not allow (with the request's UID, or none when unread): %s", what, res.Answered-res.Allowed, res.Answered, res.FirstBad)
		}
		if res.Answered+res.Unanswered == 0 {
			t.Errorf("%s: the flood sent nothing", what)
		}
		if lat.p99() > chartTimeout {
			t.Errorf("%s: ordinary reviews p99 %s, past the webhook's timeout %s", what, lat.p99(), chartTimeout)
		}
	}
	t.Logf("FIGURE hostile outcomes: malformed %v, too_large %v, shed %v, learned or known %v",
		w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "malformed"),
		w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "too_large"),
		w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "shed"),
		w.Metric(t, "pod_security_advisor_admissions_total", "operation", "UPDATE"))

	slowBody, _ := normal.body(t, "slow")
	a := startAttack(t, attack{Kind: attackTrickle, Port: w.Port, Body: slowBody})
	lat := normal.measure(t, fmt.Sprintf("%d slow bodies", slowConns))
	d := timedCreate(t, r.c, ns, "during-slow")
	created = append(created, ns+"/Pod/during-slow")
	res := a.wait(t)
	peak, _ := w.MemoryMiB("VmHWM")
	t.Logf("FIGURE hostile %d slow bodies: normal review p50 %s p99 %s; pod create %s; %d closed at once (at most %d per address); open %s after their start: %d (closed after p50 %s, max %s); webhook peak RSS %.0f MiB",
		slowConns, lat.p50(), lat.p99(), d.Round(time.Millisecond), res.Refused, webhook.DefaultMaxConnsPerClient, webhook.ReadTimeout+closeMargin, res.Open, res.Lived.p50(), res.Lived.max(), peak)
	if lat.p99() > chartTimeout {
		t.Errorf("slow bodies: ordinary reviews p99 %s, past the webhook's timeout %s", lat.p99(), chartTimeout)
	}
	if res.Open > 0 {
		t.Errorf("%d of %d slow connections still open %s after they started (read timeout %s)", res.Open, slowConns, webhook.ReadTimeout+closeMargin, webhook.ReadTimeout)
	}
	if peak >= rssLimitMiB {
		t.Errorf("webhook peak RSS %.0f MiB, want under %d MiB", peak, rssLimitMiB)
	}
	logged, attacked := w.Log()[logStart:], time.Since(attackStart)
	lines, longest := 0, 0
	for line := range strings.Lines(logged) {
		lines++
		longest = max(longest, len(line))
	}
	t.Logf("FIGURE hostile webhook log during the attacks (%s): %d lines, %d bytes, longest %d bytes",
		attacked.Round(time.Second), lines, len(logged), longest)
	if maxLines := logLinesPerSecond*int(attacked.Seconds()) + logBurst; lines > maxLines || longest > maxLogLine {
		t.Errorf("the attacks were logged in %d lines (want at most %d), the longest %d bytes (want at most %d)", lines, maxLines, longest, maxLogLine)
	}
	if !w.Running() {
		t.Fatal("the webhook exited")
	}
	r.WaitWorkloads(t, 30*time.Second, created...)
}

// The attacks run in a process of their own, this test binary again running
// TestHostileAttacker: in the measuring process, the attack's goroutines would queue the
// ordinary reviews' behind them, and the figures would tell of this test's scheduler rather
// than of the webhook. (The API server and the webhook are processes of their own too.)
const (
	attackEnv     = "E2E_HOSTILE_ATTACK" // the attack, JSON
	attackFlood   = "flood"
	attackTrickle = "trickle"
	// The attacker's stdout lines: its connections are open, and what it saw.
	attackReady  = "ATTACK READY"
	attackResult = "ATTACK RESULT "
)

type attack struct {
	Kind     string // attackFlood or attackTrickle
	Port     int
	Body     []byte    `json:"-"` // handed over in BodyFile
	BodyFile string    // too long for the environment
	UID      types.UID // of Body, when it is a review that has one
}

// attackOutcome is what an attacker saw.
type attackOutcome struct {
	// A flood's answers: those that allowed (with the request's UID, or none when the body
	// was left unread), those with the UID (read), and requests cut before an answer, by the
	// webhook or by the end of the flood.
	Answered, Allowed, Read, Unanswered, Unfinished int
	FirstBad                                        string
	// Slow connections still open webhook.ReadTimeout+closeMargin after they started, how
	// long the others lived, and how many the webhook closed at once (its per-address bound).
	Open, Refused int
	Lived         durations
}

type attacker struct{ p *harness.Process }

// startAttack starts an attacking process and returns once its connections are open.
func startAttack(t *testing.T, a attack) *attacker {
	t.Helper()
	a.BodyFile = filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(a.BodyFile, a.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	p := harness.StartProcess(t, "attacker-"+a.Kind, []string{attackEnv + "=" + string(spec)}, os.Args[0], "-test.run=^TestHostileAttacker$", "-test.count=1")
	harness.Eventually(t, 60*time.Second, "the attacker's connections are open", func() error {
		if strings.Contains(p.Log(), attackReady) {
			return nil
		}
		if !p.Running() {
			t.Fatalf("the attacker exited:\n%s", p.Log())
		}
		return errors.New("not yet")
	})
	return &attacker{p: p}
}

// wait waits for the attack's end and returns what it saw.
func (a *attacker) wait(t *testing.T) attackOutcome {
	t.Helper()
	harness.Eventually(t, 2*time.Minute, "the attack ends", func() error {
		if a.p.Running() {
			return errors.New("still attacking")
		}
		return nil
	})
	for line := range strings.Lines(a.p.Log()) {
		if data, ok := strings.CutPrefix(line, attackResult); ok {
			var out attackOutcome
			if err := json.Unmarshal([]byte(data), &out); err != nil {
				t.Fatalf("attacker: %v: %s", err, data)
			}
			return out
		}
	}
	t.Fatalf("the attacker said nothing:\n%s", a.p.Log())
	return attackOutcome{}
}

// TestHostileAttacker is the attacking process of TestHostileClients; without $E2E_HOSTILE_ATTACK
// it does nothing.
func TestHostileAttacker(t *testing.T) {
	spec := os.Getenv(attackEnv)
	if spec == "" {
		t.Skip("the attacking process of TestHostileClients")
	}
	var a attack
	if err := json.Unmarshal([]byte(spec), &a); err != nil {
		t.Fatal(err)
	}
	var err error
	if a.Body, err = os.ReadFile(a.BodyFile); err != nil {
		t.Fatal(err)
	}
	var out attackOutcome
	switch a.Kind {
	case attackFlood:
		out = flood(a)
	case attackTrickle:
		raiseFileLimit(t, slowConns+100)
		out = trickle(t, a)
	default:
		t.Fatalf("attack %q", a.Kind)
	}
	data, _ := json.Marshal(out)
	fmt.Println(attackResult + string(data))
}

// attackerAddr is the attacker's own source address, as a tenant's pod has an address of its
// own: the webhook bounds connections per address, and the API server and the ordinary
// reviews come from 127.0.0.1.
const attackerAddr = "127.0.0.2"

func attackerDialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(attackerAddr)}}
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

// flood sends a.Body from floodConns connections at once, again and again, for floodFor or
// floodRequests requests. Every answer must allow, with the review's UID or, when the
// webhook did not read the body, none.
func flood(a attack) attackOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), floodFor)
	defer cancel()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxConnsPerHost: floodConns, MaxIdleConnsPerHost: floodConns,
		DialContext: attackerDialer().DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := fmt.Sprintf("https://127.0.0.1:%d/validate-pods", a.Port)
	var (
		mu   sync.Mutex
		res  attackOutcome
		sent atomic.Int64
		wg   sync.WaitGroup
	)
	fmt.Println(attackReady)
	for range floodConns {
		wg.Go(func() {
			for ctx.Err() == nil && sent.Add(1) <= floodRequests {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(a.Body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				mu.Lock()
				switch {
				case err == nil:
					uid, err := answerUID(resp)
					if err == nil && uid != a.UID && uid != "" {
						err = fmt.Errorf("answered uid %q for %q", uid, a.UID)
					}
					res.Answered++
					if err == nil {
						res.Allowed++
					} else if res.FirstBad == "" {
						res.FirstBad = err.Error()
					}
					if uid == a.UID {
						res.Read++
					}
				case ctx.Err() == nil:
					// The webhook answered a body it would not read and closed the
					// connection while this end was still sending.
					res.Unanswered++
				default:
					res.Unfinished++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return res
}

// trickle opens slowConns connections, a few at a time, that send their headers and then
// their body one byte a second, and returns how many of them the webhook left open
// webhook.ReadTimeout+closeMargin after they started, and how long it let the others live.
func trickle(t *testing.T, a attack) attackOutcome {
	t.Helper()
	header := fmt.Sprintf("POST /validate-pods HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(a.Body))
	started, closed := make([]time.Time, slowConns), make([]time.Time, slowConns)
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	dialer := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}, NetDialer: attackerDialer()}
	gate := make(chan struct{}, 16) // handshakes at once
	var refused atomic.Int64
	var dialing sync.WaitGroup
	for i := range slowConns {
		gate <- struct{}{}
		dialing.Go(func() {
			defer func() { <-gate }()
			conn, err := dialer.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", a.Port))
			if err != nil { // closed by the webhook during the handshake
				refused.Add(1)
				return
			}
			if _, err := conn.Write([]byte(header)); err != nil {
				conn.Close()
				refused.Add(1)
				return
			}
			mu.Lock()
			started[i] = time.Now()
			mu.Unlock()
			wg.Go(func() { // the webhook's answer or close ends the connection
				_, _ = io.Copy(io.Discard, conn)
				mu.Lock()
				closed[i] = time.Now()
				mu.Unlock()
			})
			wg.Go(func() { // one byte a second, never all of it
				defer conn.Close()
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for _, b := range a.Body[:len(a.Body)-1] {
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
	if refused.Load() == slowConns {
		t.Fatalf("none of %d slow connections could be opened", slowConns)
	}
	fmt.Println(attackReady)

	after := webhook.ReadTimeout + closeMargin
	mu.Lock()
	last := slices.MaxFunc(started, time.Time.Compare) // zero for the refused
	mu.Unlock()
	time.Sleep(time.Until(last.Add(after)))
	mu.Lock()
	defer mu.Unlock()
	out := attackOutcome{Refused: int(refused.Load())}
	for i, s := range started {
		if s.IsZero() {
			continue
		}
		if closed[i].IsZero() || closed[i].Sub(s) > after {
			out.Open++
		} else {
			out.Lived = append(out.Lived, closed[i].Sub(s))
		}
	}
	return out
}
