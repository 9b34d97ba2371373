package scenarios

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// confirmTimeout is the webhook's --confirm-timeout in these scenarios: short, so that what is
// never stored is given up quickly.
const confirmTimeout = 5 * time.Second

// storablePod is a pod that uses nothing special, named by generateName as controllers do.
func storablePod(ns, prefix, serviceAccount string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: prefix + "-"},
		Spec: corev1.PodSpec{
			ServiceAccountName: serviceAccount,
			Containers:         []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause"}},
		},
	}
}

func createPod(t *testing.T, r *Release, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	if err := r.c.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// unconfirmed sums the webhook's pod_security_advisor_unconfirmed_total (of one reason, or all).
func (w *Webhook) unconfirmed(t *testing.T, reason ...string) float64 {
	t.Helper()
	if len(reason) == 0 {
		return w.Metric(t, "pod_security_advisor_unconfirmed_total")
	}
	return w.Metric(t, "pod_security_advisor_unconfirmed_total", "reason", reason[0])
}

// TestLearnsOnlyStoredPods: what a review claims is learned only once the API server is seen
// storing the pod. A pod created with generateName is learned under its stored name (the
// review carries it); 1,000 forged reviews posted straight to the webhook, and a forged review
// under a stored pod's namespace, name and UID, change neither the state nor the policy; a pod
// that a later validating webhook rejects is not learned; and a real pod reaches the state
// within one flush interval, the confirmation's added delay printed.
func TestLearnsOnlyStoredPods(t *testing.T) {
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{args: []string{"--confirm-timeout=" + confirmTimeout.String()}})
	ns := r.TestNamespace(t, "forged")
	real := createPod(t, r, storablePod(ns, "real", ""))
	if real.Name == "" || !strings.HasPrefix(real.Name, "real-") {
		t.Fatalf("created pod named %q", real.Name)
	}
	r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/"+real.Name)
	if got := w.Metric(t, "pod_security_advisor_confirmed_total"); got < 1 {
		t.Fatalf("the generateName pod was learned without a confirmation (%v)", got)
	}
	learned := func() (string, string) {
		agg, err := r.State(t)
		if err != nil {
			t.Fatal(err)
		}
		return learning(t, agg), r.PolicyKey(t, "validating-admission-policy.yaml")
	}
	harness.Eventually(t, 30*time.Second, "the policy names "+ns, func() error {
		if _, vap := learned(); !strings.Contains(vap, "pod-security-advisor-"+ns) {
			return errors.New("not yet")
		}
		return nil
	})
	stateBefore, policyBefore := learned()

	t.Run("forged reviews", func(t *testing.T) {
		poster := newReviewPoster(t, r, w.Port)
		readsBefore, givenBefore := w.Metric(t, "pod_security_advisor_confirm_reads_total"), w.unconfirmed(t)
		const forged = 1000
		start := time.Now()
		errs := &harness.ErrorList{}
		harness.Parallel(8, forged, func(i int) {
			pod := harness.PrivilegedProbe(ns, fmt.Sprintf("forged-%d", i), "")
			pod.UID = types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
			if err := poster.post(pod); err != nil {
				errs.Add("review %d: %v", i, err)
			}
		})
		errs.Check(t, "forged reviews answered")
		harness.Eventually(t, confirmTimeout+60*time.Second, "every forged review given up", func() error {
			if n := w.unconfirmed(t) - givenBefore; n < forged {
				return fmt.Errorf("%v of %d given up", n, forged)
			}
			return nil
		})
		time.Sleep(2 * time.Second) // a flush interval and more
		reads := w.Metric(t, "pod_security_advisor_confirm_reads_total") - readsBefore
		fmt.Printf("FIGURE confirm forged_reviews=%d given_up_seconds=%.1f api_reads=%.0f reads_per_review=%.2f not_stored=%.0f full=%.0f\n",
			forged, time.Since(start).Seconds(), reads, reads/forged, w.unconfirmed(t, "not_stored"), w.unconfirmed(t, "full"))
		if state, policy := learned(); state != stateBefore || policy != policyBefore {
			t.Fatalf("forged reviews changed the learning or the policy:\nstate before %s\nafter %s", stateBefore, state)
		}
	})

	t.Run("forged review of a stored pod's identity", func(t *testing.T) {
		differs := w.unconfirmed(t, "differs")
		claim := harness.PrivilegedProbe(ns, real.Name, "")
		claim.UID = real.UID
		claim.Spec.Containers[0].Image = "forged.example/privileged"
		if err := newReviewPoster(t, r, w.Port).post(claim); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, confirmTimeout+30*time.Second, "the claim given up as differing from the stored pod", func() error {
			if w.unconfirmed(t, "differs") <= differs {
				return errors.New("not yet")
			}
			return nil
		})
		time.Sleep(2 * time.Second)
		if state, policy := learned(); state != stateBefore || policy != policyBefore {
			t.Fatalf("a forged review under a stored pod's identity changed the learning or the policy:\nstate before %s\nafter %s", stateBefore, state)
		}
	})

	t.Run("pod rejected by a later webhook", func(t *testing.T) {
		const denyLabel = "e2e.pod-security-advisor.io/deny"
		denied := harness.Namespace(t, r.c, "rejected", map[string]string{labelRelease: r.Name, denyLabel: r.Name})
		harness.DenyAll(t, r.c, r.Name+"-deny", map[string]string{denyLabel: r.Name})
		probe := harness.PrivilegedProbe(denied, "probe", "")
		harness.Eventually(t, 30*time.Second, "the deny-everything webhook in effect", func() error {
			err := r.c.Create(context.Background(), probe.DeepCopy(), client.DryRunAll)
			if err == nil || !strings.Contains(err.Error(), harness.DenyMessage) {
				return fmt.Errorf("dry-run create: %v", err)
			}
			return nil
		})
		notStored := w.unconfirmed(t, "not_stored")
		held := w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "held")
		if err := r.c.Create(context.Background(), probe.DeepCopy()); err == nil || !strings.Contains(err.Error(), harness.DenyMessage) {
			t.Fatalf("create: %v, want the deny-everything webhook's denial", err)
		}
		if w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "held") <= held {
			t.Fatal("the advisor was not sent the rejected pod (or did not hold it)")
		}
		harness.Eventually(t, confirmTimeout+30*time.Second, "the rejected pod given up as not stored", func() error {
			if w.unconfirmed(t, "not_stored") <= notStored {
				return errors.New("not yet")
			}
			return nil
		})
		time.Sleep(2 * time.Second)
		agg, err := r.State(t)
		if err != nil {
			t.Fatal(err)
		}
		if agg.Namespaces[denied] != nil && len(agg.Namespaces[denied].Workloads) > 0 {
			t.Fatalf("the rejected pod was learned: %v", keys(agg.Namespaces[denied]))
		}
	})

	t.Run("added delay", func(t *testing.T) {
		confirmed := storedToState(t, r, ns, "delay-confirmed")
		if err := w.Stop(40 * time.Second); err != nil {
			t.Fatal(err)
		}
		r.Start(t, webhookOptions{label: "webhook-trusting", args: []string{trustReviews}})
		trusting := storedToState(t, r, ns, "delay-trusting")
		fmt.Printf("FIGURE confirm stored_to_state_ms confirmed=%d unconfirmed=%d added_ms=%d flush_interval_ms=1000\n",
			confirmed.Milliseconds(), trusting.Milliseconds(), (confirmed - trusting).Milliseconds())
		if added := confirmed - trusting; added > time.Second {
			t.Errorf("confirmation added %s before a stored pod reached the state, more than one flush interval (1s)", added)
		}
	})
}

// storedToState creates pods one after another and returns the median time from the API
// server's answer (the pod is stored) to the pod's workload in the stored state.
func storedToState(t *testing.T, r *Release, ns, prefix string) time.Duration {
	t.Helper()
	var took []time.Duration
	for i := range 5 {
		pod := createPod(t, r, storablePod(ns, fmt.Sprintf("%s-%d", prefix, i), ""))
		stored := time.Now()
		key := "Pod/" + pod.Name
		for {
			agg, err := r.State(t)
			if err == nil && agg.Namespaces[ns] != nil && agg.Namespaces[ns].Workloads[key] != nil {
				break
			}
			if time.Since(stored) > 30*time.Second {
				t.Fatalf("%s/%s not in the state after 30s", ns, key)
			}
			time.Sleep(50 * time.Millisecond)
		}
		took = append(took, time.Since(stored))
	}
	slices.Sort(took)
	return took[len(took)/2]
}

func keys(ns *aggregate.Namespace) []string {
	var out []string
	for k := range ns.Workloads {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestServiceAccountScopeEnforced: with --scope serviceaccount rendered and bound in Deny, a
// pod of a service account no pod was learned with is held to its namespace's whole policy: it
// is denied a privilege no pod of the namespace used, and admitted with what one of them used.
func TestServiceAccountScopeEnforced(t *testing.T) {
	r := install(t, installOptions{})
	r.Start(t, webhookOptions{})
	ns := r.TestNamespace(t, "sascope")
	apply(t, ns, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: newcomer}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  serviceAccountName: web
  containers: [{name: web, image: nginx:1.27, securityContext: `+restricted+`}]
---
apiVersion: v1
kind: Pod
metadata: {name: agent}
spec:
  serviceAccountName: agent
  containers: [{name: agent, image: busybox:1.36, securityContext: {capabilities: {add: [NET_ADMIN]}}}]
`)
	r.WaitWorkloads(t, 60*time.Second, ns+"/Pod/web", ns+"/Pod/agent")

	states := harness.Kubectl(t, "", "get", "configmap", "-n", r.Namespace, "-l", "pod-security-advisor.io/state="+r.Fullname, "-o", "json")
	vap, stderr, err := harness.Run(t, states, harness.Advisor(t), "render", "--format", "vap", "--enforce", "--scope", "serviceaccount", "--namespaces", ns)
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Errorf("render: %s", stderr)
	}
	fallback := "pod-security-advisor-" + ns + "-other-service-accounts"
	if !strings.Contains(vap, "name: "+fallback+"\n") {
		t.Fatalf("no policy %s for unlearned service accounts:\n%s", fallback, vap)
	}
	t.Cleanup(func() { harness.Run(t, vap, harness.Bin(t, "kubectl"), "delete", "--ignore-not-found", "-f", "-") })
	harness.Kubectl(t, vap, "apply", "-f", "-")
	harness.Eventually(t, 30*time.Second, "type checking of "+fallback, func() error {
		p := &admissionv1.ValidatingAdmissionPolicy{}
		if err := r.c.Get(context.Background(), client.ObjectKey{Name: fallback}, p); err != nil {
			return err
		}
		if p.Status.ObservedGeneration != p.Generation {
			return errors.New("not checked yet")
		}
		if tc := p.Status.TypeChecking; tc != nil && len(tc.ExpressionWarnings) > 0 {
			t.Fatalf("%s: type checking warnings: %+v", fallback, tc.ExpressionWarnings)
		}
		return nil
	})

	agent := &corev1.Pod{}
	if err := r.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "agent"}, agent); err != nil {
		t.Fatal(err)
	}
	newcomer := readmit(agent)
	newcomer.Spec.ServiceAccountName, newcomer.Spec.DeprecatedServiceAccount = "newcomer", ""
	newcomer.Spec.Volumes, newcomer.Spec.Containers[0].VolumeMounts = nil, nil // its own token volume is added
	hostPID := newcomer.DeepCopy()
	hostPID.Name, hostPID.Spec.HostPID = "newcomer-hostpid", true
	harness.Eventually(t, 30*time.Second, "a newcomer pod with hostPID is denied", func() error {
		err := r.c.Create(context.Background(), hostPID.DeepCopy(), client.DryRunAll)
		switch {
		case err == nil:
			return errors.New("admitted")
		case !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err):
			return err
		case !strings.Contains(err.Error(), fallback) || !strings.Contains(err.Error(), "hostPID"):
			t.Fatalf("denied, but not by %s's hostPID rule: %v", fallback, err)
		}
		t.Logf("denied: %v", err)
		return nil
	})
	if err := r.c.Create(context.Background(), newcomer.DeepCopy(), client.DryRunAll); err != nil {
		t.Errorf("a newcomer pod using only what its namespace used (NET_ADMIN) was denied: %v", err)
	}
	for _, name := range []string{"web", "agent"} {
		p := &corev1.Pod{}
		if err := r.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			t.Fatal(err)
		}
		if err := r.c.Create(context.Background(), readmit(p), client.DryRunAll); err != nil {
			t.Errorf("learned pod %s denied by its own policy: %v", name, err)
		}
	}
}

// TestBackfillHonoursSelectors: backfill learns exactly the pods the API server would send:
// those the chart's objectSelector selects, in namespaces its namespaceSelector expressions
// select.
func TestBackfillHonoursSelectors(t *testing.T) {
	const learnLabel = "e2e.pod-security-advisor.io/learn"
	r := install(t, installOptions{objectSelector: map[string]string{learnLabel: "selected"}})
	ns := r.TestNamespace(t, "selected")
	outside := harness.Namespace(t, r.c, "outside", nil)
	// Created while no webhook runs: only backfill can learn them.
	selected := storablePod(ns, "selected", "")
	selected.Labels = map[string]string{learnLabel: "selected"}
	createPod(t, r, selected)
	unselected := createPod(t, r, storablePod(ns, "unselected", ""))
	elsewhere := storablePod(outside, "elsewhere", "")
	elsewhere.Labels = map[string]string{learnLabel: "selected"}
	createPod(t, r, elsewhere)

	w := r.Start(t, webhookOptions{backfill: true})
	harness.Eventually(t, 60*time.Second, "backfill done", func() error {
		if !strings.Contains(w.Log(), "backfill done") {
			return errors.New("not yet")
		}
		return nil
	})
	agg := r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/"+selected.Name)
	time.Sleep(2 * time.Second) // one flush more: whatever backfill learned is stored
	if agg, _ = r.State(t); agg.Namespaces[outside] != nil {
		t.Errorf("backfill learned pods of a namespace the webhook does not select: %v", keys(agg.Namespaces[outside]))
	}
	if got := keys(agg.Namespaces[ns]); !slices.Equal(got, []string{"Pod/" + selected.Name}) {
		t.Errorf("backfill learned %v in %s, want only Pod/%s (not %s)", got, ns, selected.Name, unselected.Name)
	}
}
