package scenarios

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// answered maps a workload ("namespace/Pod/name") to when the webhook answered its review.
type answered struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *answered) keys() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(func(yield func(string) bool) {
		for k := range a.at {
			if !yield(k) {
				return
			}
		}
	})
}

// postWorkloads posts reviews of synthetic workloads first.. (one pod each, no owner: each is
// its own workload), spread over namespaces prefix-NNN, from four workers, until n are
// answered, stop closes or the deadline passes; perWorker > 0 paces each worker to that many
// reviews a second. Failures after stop closes (a killed webhook) are not errors.
func postWorkloads(t *testing.T, p *reviewPoster, prefix string, first, n, namespaces int, perWorker float64, deadline time.Duration, stop <-chan struct{}) *answered {
	t.Helper()
	out := &answered{at: map[string]time.Time{}}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for worker := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(first), uint64(worker)))
			for {
				i := int(next.Add(1) - 1)
				select {
				case <-stop:
					return
				default:
				}
				if i >= n || time.Since(start) > deadline {
					return
				}
				pod, _ := synthetic.Pod(rnd, first+i)
				pod.Namespace = fmt.Sprintf("%s-%03d", prefix, (first+i)%namespaces)
				sent := time.Now()
				if err := p.post(pod); err != nil {
					select {
					case <-stop:
					default:
						t.Errorf("review of %s/%s: %v", pod.Namespace, pod.Name, err)
					}
					return
				}
				out.mu.Lock()
				out.at[pod.Namespace+"/Pod/"+pod.Name] = time.Now()
				out.mu.Unlock()
				if perWorker > 0 {
					time.Sleep(time.Until(sent.Add(time.Duration(float64(time.Second) / perWorker))))
				}
			}
		})
	}
	wg.Wait()
	return out
}

// missing returns the keys agg does not hold.
func missing(agg *aggregate.Aggregate, keys []string) []string {
	have := workloads(agg)
	var out []string
	for _, k := range keys {
		if have[k] == nil {
			out = append(out, k)
		}
	}
	return out
}

// sigkillEnv lists the SIGKILL runs as stored/interval pairs ("100000/2s,100000/10s", as make
// bench sets it). There the bound is a goal the figures measure; without it the suite runs
// 30000/10s, where the bound holds, and fails when it does not.
const sigkillEnv = "E2E_SIGKILL"

// TestStoreSIGKILLMidFlush: with many workloads stored and new ones arriving (200 a second), a
// SIGKILL right after a flush wrote its first shard loses nothing that was answered more than
// one flush interval before the kill. At this rate every flush touches nearly every shard; the
// figures say how long the flushes took.
func TestStoreSIGKILLMidFlush(t *testing.T) {
	runs, goal := os.Getenv(sigkillEnv), true
	if runs == "" {
		runs, goal = "30000/10s", false
	}
	for _, run := range strings.Split(runs, ",") {
		a, b, _ := strings.Cut(strings.TrimSpace(run), "/")
		stored, err1 := strconv.Atoi(a)
		interval, err2 := time.ParseDuration(b)
		if err1 != nil || err2 != nil || stored <= 0 || interval <= 0 {
			t.Fatalf("%s=%q: want stored/interval pairs such as 100000/2s", sigkillEnv, runs)
		}
		t.Run(run, func(t *testing.T) { testSIGKILLMidFlush(t, stored, interval, goal) })
	}
}

// savedSeconds matches how long a save took in the webhook's debug log ("state saved").
var savedSeconds = regexp.MustCompile(`state saved.*"workloads": ?([0-9]+).*"seconds": ?([0-9.e+-]+)`)

// flushes sums up the saves in log, from its debug lines: how many, the mean workloads
// saved, the mean and the longest duration.
func flushes(log string) (n int, workloads, mean, longest float64) {
	for _, m := range savedSeconds.FindAllStringSubmatch(log, -1) {
		w, err1 := strconv.Atoi(m[1])
		v, err2 := strconv.ParseFloat(m[2], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		n, workloads, mean, longest = n+1, workloads+float64(w), mean+v, max(longest, v)
	}
	if n > 0 {
		workloads, mean = workloads/float64(n), mean/float64(n)
	}
	return n, workloads, mean, longest
}

// testSIGKILLMidFlush fails when workloads answered over one interval before the kill are lost,
// unless goal is set: then it only prints by how much the goal is missed.
func testSIGKILLMidFlush(t *testing.T, stored int, interval time.Duration, goal bool) {
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{args: []string{"--flush-interval=" + interval.String(), "--max-workloads=200000", "--zap-log-level=debug", trustReviews}})
	poster := newReviewPoster(t, r, w.Port)

	start := time.Now()
	first := postWorkloads(t, poster, "kill", 0, stored, 300, 0, 5*time.Minute, nil)
	posted := time.Since(start)
	start = time.Now()
	r.WaitState(t, 5*time.Minute, fmt.Sprintf("state holds the %d workloads", stored), func(agg *aggregate.Aggregate) error {
		if m := missing(agg, first.keys()); len(m) > 0 {
			return fmt.Errorf("%d of %d missing", len(m), stored)
		}
		return nil
	})
	fmt.Printf("FIGURE store sigkill stored=%d post_seconds=%.1f saved_after_posting_seconds=%.1f\n", stored, posted.Seconds(), time.Since(start).Seconds())

	// New workloads at a steady pace; kill as soon as a flush writes a shard, after 30 s.
	stop := make(chan struct{})
	var late *answered
	var posting sync.WaitGroup
	logged := len(w.Log()) // the saves of the steady pace start here
	posting.Go(func() { late = postWorkloads(t, poster, "kill", stored, 20_000, 300, 50, 2*time.Minute, stop) })
	time.Sleep(30 * time.Second)
	writes := w.Metric(t, "pod_security_advisor_state_writes_total")
	harness.Eventually(t, 30*time.Second, "a flush writes a shard", func() error {
		if w.Metric(t, "pod_security_advisor_state_writes_total") == writes {
			return fmt.Errorf("no write yet")
		}
		return nil
	})
	close(stop) // reviews failing from here on are the kill's
	w.Kill()
	killed := time.Now()
	posting.Wait()
	saves, perSave, mean, longest := flushes(w.Log()[logged:])

	agg, err := r.State(t)
	if err != nil {
		t.Fatal(err)
	}
	var old, recent []string
	late.mu.Lock()
	for k, at := range late.at {
		if at.Before(killed.Add(-interval)) {
			old = append(old, k)
		} else {
			recent = append(recent, k)
		}
	}
	late.mu.Unlock()
	lostOld, lostRecent := missing(agg, old), missing(agg, recent)
	fmt.Printf("FIGURE store sigkill stored=%d flush_interval_seconds=%.0f learned_before_kill=%d answered_over_one_interval_before=%d lost_over_one_interval=%d lost_within_interval=%d flushes=%d workloads_per_flush=%.0f flush_mean_seconds=%.2f flush_max_seconds=%.2f\n",
		stored, interval.Seconds(), len(old)+len(recent), len(old), len(lostOld), len(lostRecent), saves, perSave, mean, longest)
	if len(lostOld) > 0 {
		slices.Sort(lostOld)
		report := t.Errorf
		if goal {
			report = t.Logf
		}
		report("%d workloads answered more than %s before the SIGKILL are not stored, e.g. %s", len(lostOld), interval, lostOld[0])
	}
	if m := missing(agg, first.keys()); len(m) > 0 {
		t.Errorf("%d workloads stored before the kill are gone", len(m))
	}
}

// proxy forwards TCP connections on 127.0.0.1 to target, and can cut them all.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			in.Close()
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		go func() { io.Copy(out, in); out.Close() }()
		go func() { io.Copy(in, out); in.Close() }()
	}
}

// setCut refuses (true) or forwards (false) connections; cutting closes the open ones.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// proxiedKubeconfig is the release's kubeconfig with the API server behind p.
func proxiedKubeconfig(t *testing.T, r *Release) (string, *proxy) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(r.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	u, err := url.Parse(cluster.Server)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.Fatalf("API server %s is not on loopback", cluster.Server)
	}
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	cluster.Server = u.String()
	path := filepath.Join(t.TempDir(), "proxied.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path, p
}

// TestStoreOutageBacklog: what is learned while the API server is unreachable is saved within
// seconds of its return, without new learning.
func TestStoreOutageBacklog(t *testing.T) {
	const n, outage = 600, 20 * time.Second
	r := install(t, installOptions{})
	kubeconfig, p := proxiedKubeconfig(t, r)
	w := r.Start(t, webhookOptions{args: []string{"--kubeconfig=" + kubeconfig, trustReviews}})
	poster := newReviewPoster(t, r, w.Port)
	p.setCut(true)
	cutAt := time.Now()
	learned := postWorkloads(t, poster, "outage", 0, n, 20, 0, time.Minute, nil)
	harness.Eventually(t, 30*time.Second, "a flush fails while the API server is cut off", func() error {
		if w.Metric(t, "pod_security_advisor_flushes_total", "result", "error") == 0 {
			return fmt.Errorf("no failed flush yet")
		}
		return nil
	})
	time.Sleep(time.Until(cutAt.Add(outage)))
	p.setCut(false)
	restored := time.Now()
	r.WaitState(t, 2*time.Minute, fmt.Sprintf("the %d workloads learned during the outage are stored", n), func(agg *aggregate.Aggregate) error {
		if m := missing(agg, learned.keys()); len(m) > 0 {
			return fmt.Errorf("%d of %d missing", len(m), n)
		}
		return nil
	})
	delay := time.Since(restored)
	fmt.Printf("FIGURE store outage workloads=%d outage_seconds=%.0f saved_after_recovery_seconds=%.1f failed_flushes=%v\n",
		n, outage.Seconds(), delay.Seconds(), w.Metric(t, "pod_security_advisor_flushes_total", "result", "error"))
	if delay > 45*time.Second { // the retry backoff is at most 30 s, jittered
		t.Errorf("the backlog reached the state %s after the API server returned", delay.Round(time.Second))
	}
}

// corruptShard overwrites a state shard's payload with garbage, returning what it held.
func corruptShard(t *testing.T, r *Release, name, garbage string) *aggregate.Aggregate {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := r.c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: name}, cm); err != nil {
		t.Fatal(err)
	}
	held, err := store.Decode(cm)
	if err != nil {
		t.Fatal(err)
	}
	cm.BinaryData[store.PayloadKey] = []byte(garbage)
	if err := r.c.Update(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	return held
}

// TestStoreCorruptShardRepair: a shard made unreadable while a replica runs is rewritten from
// that replica's memory at once; one found unreadable at start-up, with no replica left, comes
// back as far as running pods tell (backfill), and the log says what was lost.
func TestStoreCorruptShardRepair(t *testing.T) {
	const reviewed, pods = 2000, 40
	r := install(t, installOptions{})
	ns := r.TestNamespace(t, "corrupt")
	w1 := r.Start(t, webhookOptions{label: "webhook-1", replica: "r1", args: []string{trustReviews}})
	poster := newReviewPoster(t, r, w1.Port)
	learned := postWorkloads(t, poster, "corrupt", 0, reviewed, 20, 0, 2*time.Minute, nil)
	var manifests strings.Builder
	var podKeys []string
	for i := range pods {
		name := fmt.Sprintf("p%02d", i)
		manifests.WriteString("---\n" + userPod(name, 2000+i))
		podKeys = append(podKeys, ns+"/Pod/"+name)
	}
	apply(t, ns, manifests.String())
	all := append(learned.keys(), podKeys...)
	r.WaitState(t, 2*time.Minute, "state holds every workload", func(agg *aggregate.Aggregate) error {
		if m := missing(agg, all); len(m) > 0 {
			return fmt.Errorf("%d missing", len(m))
		}
		return nil
	})
	shards := r.StateConfigMaps(t)
	if len(shards) < 2 {
		t.Fatalf("%d state shards: the test wants several", len(shards))
	}
	name := r.Fullname + "-state-0"

	// A second replica joins what the first saved; the first stops; the shard is corrupted.
	w2 := r.Start(t, webhookOptions{label: "webhook-2", replica: "r2", port: harness.FreePort(t), args: []string{trustReviews}})
	harness.Eventually(t, 60*time.Second, "webhook-2 holds the state", func() error {
		if got := w2.Metric(t, "pod_security_advisor_workloads"); got < float64(len(all)) {
			return fmt.Errorf("%v workloads", got)
		}
		return nil
	})
	if err := w1.Stop(40 * time.Second); err != nil {
		t.Fatal(err)
	}
	corruptedAt := time.Now()
	held := corruptShard(t, r, name, "\x1f\x8bgarbage one")
	heldKeys := slices.Sorted(func(yield func(string) bool) {
		for k := range workloads(held) {
			if !yield(k) {
				return
			}
		}
	})
	r.WaitState(t, time.Minute, name+" rewritten from webhook-2's memory", func(agg *aggregate.Aggregate) error {
		if m := missing(agg, heldKeys); len(m) > 0 {
			return fmt.Errorf("%d of the %d workloads it held missing", len(m), len(heldKeys))
		}
		return nil
	})
	repair := time.Since(corruptedAt)

	// No replica left: the shard is corrupted again and a new webhook starts with backfill.
	if err := w2.Stop(40 * time.Second); err != nil {
		t.Fatal(err)
	}
	held = corruptShard(t, r, name, "\x1f\x8bgarbage two")
	w3 := r.Start(t, webhookOptions{label: "webhook-3", replica: "r3", backfill: true})
	var podsHeld, reviewsHeld []string
	for k := range workloads(held) {
		if slices.Contains(podKeys, k) {
			podsHeld = append(podsHeld, k)
		} else {
			reviewsHeld = append(reviewsHeld, k)
		}
	}
	agg := r.WaitState(t, time.Minute, "the pods of the unreadable shard are stored again", func(agg *aggregate.Aggregate) error {
		if m := missing(agg, podsHeld); len(m) > 0 {
			return fmt.Errorf("%d of %d pods missing", len(m), len(podsHeld))
		}
		return nil
	})
	var line string
	harness.Eventually(t, 30*time.Second, "a log line saying what backfill restored", func() error {
		for _, l := range strings.Split(w3.Log(), "\n") {
			if strings.Contains(l, "unreadable state shard held again") && strings.Contains(l, name) {
				line = l
				return nil
			}
		}
		return fmt.Errorf("none")
	})
	for _, want := range []string{`"bytes"`, `"workloads"`, name + "-corrupt-"} {
		if !strings.Contains(line, want) && !strings.Contains(line, strings.Trim(want, `"`)) {
			t.Errorf("the log line does not say %s: %s", want, line)
		}
	}
	if !strings.Contains(w3.Log(), "comes back only from running pods") {
		t.Error("the log does not say where the lost workloads come back from")
	}
	fmt.Printf("FIGURE store corrupt shard_workloads=%d repaired_from_replica_seconds=%.1f restart_pods_restored=%d/%d reviews_only_lost=%d\n",
		len(heldKeys), repair.Seconds(), len(podsHeld)-len(missing(agg, podsHeld)), len(podsHeld), len(missing(agg, reviewsHeld)))
	copies := &corev1.ConfigMapList{}
	if err := r.c.List(context.Background(), copies, client.InNamespace(r.Namespace), client.MatchingLabels{store.LabelCorrupt: r.Fullname}); err != nil {
		t.Fatal(err)
	}
	if len(copies.Items) != 2 {
		t.Errorf("%d copies of the two corrupt contents, want 2", len(copies.Items))
	}
}
