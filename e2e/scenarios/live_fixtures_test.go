package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// TestLiveLearningMatchesOffline learns a sample of the Pod Security Admission fixtures through
// the live webhook (real pods, created for real) and checks, per fixture:
//   - the profile and verdict learned at admission equal what `convert` learns offline from the
//     same manifest (so the offline model of the API server's changes is right), and
//   - the ValidatingAdmissionPolicy rendered from the live state, enforced with Deny, admits the
//     pod again while denying a more privileged probe.
func TestLiveLearningMatchesOffline(t *testing.T) {
	fixtures, version, err := psafixtures.Load()
	if err != nil {
		t.Fatal(err)
	}
	r := install(t, installOptions{})
	r.Start(t, webhookOptions{})
	c := harness.Client(t)
	ctx := context.Background()

	type sample struct {
		fixture psafixtures.Fixture
		pod     *corev1.Pod
	}
	var samples []sample
	var invalid []string
	for i, f := range fixtures {
		if i%4 != 0 {
			continue
		}
		pod := f.Pod.DeepCopy()
		pod.Name = strings.ReplaceAll(pod.Name, "_", "-")
		pod.Namespace = r.TestNamespace(t, "live")
		harness.Eventually(t, 30*time.Second, "default ServiceAccount of "+pod.Namespace, func() error {
			return c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: "default"}, &corev1.ServiceAccount{})
		})
		if err := c.Create(ctx, pod.DeepCopy()); err != nil {
			// Some fail fixtures are not valid pods at all (validation rejects them before any
			// admission plugin); they cannot be learned, and are named here.
			invalid = append(invalid, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		samples = append(samples, sample{f, pod})
	}
	var want []string
	for _, s := range samples {
		want = append(want, s.pod.Namespace+"/Pod/"+s.pod.Name)
	}
	live := r.WaitWorkloads(t, 90*time.Second, want...)

	equal := 0
	for _, s := range samples {
		offline := s.pod.DeepCopy()
		defaulting.Apply(offline)
		o := aggregate.Observe(offline, owner.FromPod(offline), time.Time{})
		w := live.Namespaces[s.pod.Namespace].Workloads["Pod/"+s.pod.Name]
		lp, _ := json.Marshal(w.Profile)
		op, _ := json.Marshal(o.Profile)
		if !bytes.Equal(lp, op) || w.PSS.Level() != o.Verdict.Level() {
			t.Errorf("%s: learned live %s (%s), offline %s (%s)", s.fixture, lp, w.PSS.Level(), op, o.Verdict.Level())
			continue
		}
		equal++
	}

	// The policy learned live, enforced, in every sample namespace.
	var vap bytes.Buffer
	if err := render.Render(&vap, live, render.Options{Format: render.FormatVAP, Scope: render.ScopeNamespace, Enforce: true}); err != nil {
		t.Fatal(err)
	}
	harness.Kubectl(t, vap.String(), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _, _ = harness.Run(t, vap.String(), harness.Bin(t, "kubectl"), "delete", "--ignore-not-found", "-f", "-")
	})
	for _, s := range samples {
		probe := harness.PrivilegedProbe(s.pod.Namespace, "escalated-probe", "")
		harness.Eventually(t, 2*time.Minute, s.fixture.String()+": policy in effect", func() error {
			if err := c.Create(ctx, probe.DeepCopy(), client.DryRunAll); err == nil {
				return fmt.Errorf("a privileged probe is still admitted")
			}
			return nil
		})
	}
	admitted := 0
	for _, s := range samples {
		again := s.pod.DeepCopy()
		again.Name += "-again"
		if err := c.Create(ctx, again, client.DryRunAll); err != nil {
			t.Errorf("%s: the policy learned from it denies it: %v", s.fixture, err)
			continue
		}
		admitted++
	}
	for _, why := range invalid {
		t.Logf("not learnable: %s", why)
	}
	n := len(samples)
	fmt.Printf("FIGURE live learning (%s fixtures, every 4th): %d/%d learned live equal offline; %d/%d admitted by the policy learned live; %d invalid pods named above\n",
		version, equal, n, admitted, n, len(invalid))
	if n == 0 {
		t.Fatal("no fixture could be created")
	}
}
