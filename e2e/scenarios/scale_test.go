package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
)

// scaleEnv selects the scale runs of TestScale: "workloads/namespaces" pairs, comma-separated
// (`make bench` sets it). Unset, TestScale is skipped: a run takes minutes.
const scaleEnv = "E2E_SCALE"

// TestScale learns N distinct synthetic workloads spread over M namespaces through the live
// webhook (reviews posted straight to its port, as fast as it answers them) and prints what a
// platform team sizes the deployment by: the webhook's resident memory idle and at its peak
// (flushes included), how long the backlog takes to reach the state, the largest ConfigMap it
// writes and how many ConfigMaps the policy takes. It fails when learning is lost or the
// policy is not published.
func TestScale(t *testing.T) {
	spec := os.Getenv(scaleEnv)
	if spec == "" {
		t.Skipf("scale runs take minutes: set %s=100000/5000,50000/10 (make bench does)", scaleEnv)
	}
	for _, run := range strings.Split(spec, ",") {
		n, ns, ok := parseScale(run)
		if !ok {
			t.Fatalf("%s=%q: want workloads/namespaces pairs such as 100000/5000", scaleEnv, spec)
		}
		t.Run(fmt.Sprintf("%d-workloads-%d-namespaces", n, ns), func(t *testing.T) { scaleRun(t, n, ns) })
	}
}

func parseScale(s string) (workloads, namespaces int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "/")
	w, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	return w, n, found && err1 == nil && err2 == nil && w > 0 && n > 0
}

func scaleRun(t *testing.T, n, namespaces int) {
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{args: []string{"--max-workloads=" + strconv.Itoa(2*n), "--zap-log-level=info", trustReviews}})

	var peakSampled atomic.Int64 // KiB
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := w.MemoryMiB("VmRSS"); err == nil && int64(rss*1024) > peakSampled.Load() {
				peakSampled.Store(int64(rss * 1024))
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	defer func() { close(stop); sampler.Wait() }()

	poster := newReviewPoster(t, r, w.Port)
	start := time.Now()
	const workers = 4
	var next atomic.Int64
	var failed atomic.Int64
	var posting sync.WaitGroup
	for range workers {
		posting.Go(func() {
			rnd := rand.New(rand.NewPCG(1, uint64(next.Load())))
			for {
				i := int(next.Add(1) - 1)
				if i >= n || time.Since(start) > 20*time.Minute {
					return
				}
				pod, _ := synthetic.Pod(rnd, i)
				pod.Namespace = fmt.Sprintf("scale-%04d", i%namespaces)
				if err := poster.post(pod); err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("review %d: %v", i, err)
					}
				}
			}
		})
	}
	posting.Wait()
	posted := time.Since(start)
	fmt.Printf("FIGURE scale workloads=%d namespaces=%d post_seconds=%.1f reviews_per_second=%.0f failed=%d\n",
		n, namespaces, posted.Seconds(), float64(n)/posted.Seconds(), failed.Load())

	savedAt := time.Now()
	r.WaitState(t, 10*time.Minute, fmt.Sprintf("state holds %d workloads", n), func(agg *aggregate.Aggregate) error {
		if got := agg.Workloads(); got < n {
			return fmt.Errorf("%d of %d workloads saved", got, n)
		}
		return nil
	})
	backlog := time.Since(savedAt)
	// A first publication at this size takes minutes after the backlog is saved: read the policy
	// and the idle figure once its ConfigMaps have been still for a while.
	published := time.Now()
	policyCMs := r.policySettled(t, 30*time.Second, 15*time.Minute)
	fmt.Printf("FIGURE scale workloads=%d namespaces=%d policy_settled_seconds=%.1f\n", n, namespaces, time.Since(published).Seconds())
	idle, _ := w.MemoryMiB("VmRSS")
	peak, _ := w.MemoryMiB("VmHWM")
	fmt.Printf("FIGURE scale workloads=%d namespaces=%d rss_idle_mib=%.0f rss_peak_mib=%.0f rss_peak_sampled_mib=%.0f backlog_saved_seconds=%.1f under=%q\n",
		n, namespaces, idle, peak, float64(peakSampled.Load())/1024, backlog.Seconds(), strings.Join(r.chartEnv(t), " "))
	if errs := w.Metric(t, "pod_security_advisor_flushes_total", "result", "error"); errs > 0 {
		t.Errorf("%v flushes failed", errs)
	}

	state := r.StateConfigMaps(t)
	stateMax, stateTotal := largest(state)
	policyMax, policyTotal := largest(policyCMs)
	fmt.Printf("FIGURE scale workloads=%d namespaces=%d state_configmaps=%d state_largest_bytes=%d state_total_bytes=%d policy_configmaps=%d policy_largest_bytes=%d policy_total_bytes=%d\n",
		n, namespaces, len(state), stateMax, stateTotal, len(policyCMs), policyMax, policyTotal)
	if left := strings.Count(policyCMs[len(policyCMs)-1].Data["README"], "Left out"); left > 0 {
		fmt.Printf("FIGURE scale workloads=%d namespaces=%d policy_formats_left_out=%d\n", n, namespaces, left)
	}
	const limit = 1 << 20
	if stateMax >= limit || policyMax >= limit {
		t.Errorf("a ConfigMap is %d bytes, over the API server's %d", max(stateMax, policyMax), limit)
	}
}

// policySettled returns the policy ConfigMaps (the main one last) once none has changed for
// still, waiting at most limit.
func (r *Release) policySettled(t *testing.T, still, limit time.Duration) []corev1.ConfigMap {
	t.Helper()
	var last string
	since, deadline := time.Now(), time.Now().Add(limit)
	for {
		parts := &corev1.ConfigMapList{}
		if err := r.c.List(context.Background(), parts, client.InNamespace(r.Namespace), client.MatchingLabels{policy.LabelPolicy: r.Fullname + "-policy"}); err != nil {
			t.Fatal(err)
		}
		main := &corev1.ConfigMap{}
		err := r.c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Fullname + "-policy"}, main)
		versions := main.ResourceVersion
		for _, cm := range parts.Items {
			versions += " " + cm.Name + "@" + cm.ResourceVersion
		}
		if versions != last {
			last, since = versions, time.Now()
		}
		switch {
		case err == nil && time.Since(since) >= still:
			return append(parts.Items, *main)
		case time.Now().After(deadline):
			t.Fatalf("the policy ConfigMaps did not settle within %s (main: %v)", limit, err)
		}
		time.Sleep(5 * time.Second)
	}
}

// largest returns the JSON size of the largest ConfigMap and of all of them.
func largest(cms []corev1.ConfigMap) (biggest, total int) {
	for i := range cms {
		data, _ := json.Marshal(&cms[i])
		biggest = max(biggest, len(data))
		total += len(data)
	}
	return biggest, total
}

// reviewPoster posts AdmissionReviews to a webhook the way the API server does: TLS verified
// against the release's CA for 127.0.0.1, kept-alive connections.
type reviewPoster struct {
	url    string
	client *http.Client
	seq    atomic.Int64
}

func newReviewPoster(t *testing.T, r *Release, port int) *reviewPoster {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(r.servingSecret(t).Data["ca.crt"]) {
		t.Fatal("serving Secret: no CA certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &reviewPoster{url: fmt.Sprintf("https://127.0.0.1:%d/validate-pods", port), client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// post sends a CREATE review of pod and checks that it is allowed.
func (p *reviewPoster) post(pod *corev1.Pod) error {
	raw, err := json.Marshal(pod)
	if err != nil {
		return err
	}
	uid := types.UID(fmt.Sprintf("review-%d", p.seq.Add(1)))
	review := admv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admv1.AdmissionRequest{
			UID:       uid,
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: pod.Namespace, Name: pod.Name,
			Operation: admv1.Create,
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, _ := json.Marshal(review)
	resp, err := p.client.Post(p.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var answer admv1.AdmissionReview
	if err := json.Unmarshal(data, &answer); err != nil || answer.Response == nil {
		return fmt.Errorf("%s: not an AdmissionReview: %.200s", resp.Status, data)
	}
	if !answer.Response.Allowed || answer.Response.UID != uid {
		return fmt.Errorf("answer allowed=%v uid=%q for uid %q", answer.Response.Allowed, answer.Response.UID, uid)
	}
	return nil
}
