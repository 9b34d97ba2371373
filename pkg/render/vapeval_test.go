package render

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/vapeval"
)

// The rendered ValidatingAdmissionPolicies, compiled and evaluated in process with the API
// server's own code (package vapeval): go test compiles every expression the project renders.

func celFormat(f string) bool { return f == FormatVAP || f == FormatVAPShared }

// compiler compiles each distinct policy of the tests once (vap-shared renders one policy).
var compiler vapeval.Compiler

// readSet compiles every policy of a rendering; a failing expression fails the test.
func readSet(t *testing.T, what string, rendered []byte) *vapeval.Set {
	t.Helper()
	s, err := compiler.Read(bytes.NewReader(rendered))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return s
}

// decide evaluates the creation of pod, as the API server has it at validating admission.
func decide(t *testing.T, s *vapeval.Set, pod *corev1.Pod) []vapeval.Decision {
	t.Helper()
	pod = pod.DeepCopy()
	defaulting.Apply(pod)
	ds, err := s.Evaluate(context.Background(), pod)
	if err != nil {
		t.Fatalf("evaluating %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return ds
}

// denials are the messages of every failed validation of every decision.
func denials(ds []vapeval.Decision) []string {
	var out []string
	for _, d := range ds {
		for _, x := range d.Denials {
			out = append(out, d.Policy+": "+x.Message)
		}
	}
	return out
}

// TestGoldenPoliciesEvaluate compiles every policy of every VAP golden file, as written, and
// evaluates the pods it was learned from (each is admitted by the policies that bind it, and
// some policy binds it) and a privileged variant of one (denied).
func TestGoldenPoliciesEvaluate(t *testing.T) {
	for name, opts := range goldenCases() {
		if !celFormat(opts.Format) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			s := readSet(t, name, data)
			if len(s.Policies()) == 0 {
				t.Fatal("no policies")
			}
			for _, o := range realistic() {
				ds := decide(t, s, o.pod)
				if len(ds) == 0 {
					t.Errorf("%s/%s: no policy binds the pod", o.pod.Namespace, o.pod.Name)
				}
				if d := denials(ds); len(d) > 0 {
					t.Errorf("%s/%s (learned from) is denied: %s", o.pod.Namespace, o.pod.Name, strings.Join(d, "; "))
				}
			}
			pod := webPod("default")
			pod.Spec.Containers[0].SecurityContext.Privileged = new(true)
			if d := denials(decide(t, s, pod)); len(d) == 0 {
				t.Errorf("a privileged web pod is admitted")
			}
		})
	}
}

// learnFrom renders, in format (namespace scope, enforcing), what pod alone teaches.
func learnFrom(t *testing.T, format string, pods ...*corev1.Pod) []byte {
	t.Helper()
	agg := aggregate.New("test")
	for _, p := range pods {
		p = p.DeepCopy()
		defaulting.Apply(p)
		agg.Add(aggregate.Observe(p, owner.Ref{Kind: "Pod", Name: p.Name}, time.Time{}))
	}
	return render(t, agg, Options{Format: format, Enforce: true})
}

// fixtureNamespace is where the PSA fixtures are learned and evaluated.
const fixtureNamespace = "fixtures"

func psaFixtures(t *testing.T) []psafixtures.Fixture {
	t.Helper()
	all, _, err := psafixtures.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no Pod Security Admission fixtures")
	}
	for _, f := range all {
		f.Pod.Namespace = fixtureNamespace
	}
	return all
}

// TestFixturePolicies is the precision suite of e2e/precision, offline, in both VAP formats:
// the policy learned from each PSA fixture alone compiles and admits it, and the policy
// learned from the minimal restricted pod denies every fail fixture of both levels.
func TestFixturePolicies(t *testing.T) {
	all := psaFixtures(t)
	var base *corev1.Pod
	for _, f := range all {
		if f.Level == "restricted" && f.Pass && f.Name == "base" {
			base = f.Pod
		}
	}
	if base == nil {
		t.Fatal("no restricted base fixture")
	}
	for _, format := range []string{FormatVAP, FormatVAPShared} {
		t.Run(format, func(t *testing.T) {
			for _, f := range all {
				s := readSet(t, f.String(), learnFrom(t, format, f.Pod))
				if d := denials(decide(t, s, f.Pod)); len(d) > 0 {
					t.Errorf("%s is denied by the policy learned from it: %s", f, strings.Join(d, "; "))
				}
			}
			s := readSet(t, "base", learnFrom(t, format, base))
			for _, f := range all {
				if !f.Pass && !vapeval.Denied(decide(t, s, f.Pod)) {
					t.Errorf("%s is admitted by the policy learned from base", f)
				}
			}
		})
	}
}
