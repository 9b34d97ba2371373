package render

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// wideWebPod is webPod with n containers, each with the web container's ports, probe, mounts
// and capabilities, and m read-only host paths mounted in each (so the hostPath variable is
// read): the shape that makes every per-container check iterate.
func wideWebPod(n, m int) *corev1.Pod {
	pod := webPod("default")
	proto := pod.Spec.Containers[0]
	for i := range m {
		name := fmt.Sprintf("logs%d", i)
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name,
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log/" + name}}})
		proto.VolumeMounts = append(proto.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/" + name, ReadOnly: true})
	}
	pod.Spec.Containers = nil
	for i := range n {
		c := *proto.DeepCopy()
		c.Name = fmt.Sprintf("c%d", i)
		c.Ports[0].ContainerPort += int32(i)
		pod.Spec.Containers = append(pod.Spec.Containers, c)
	}
	return pod
}

// TestVAPRuntimeCost prints the CEL runtime cost of the policy learned from a pod of n
// containers, evaluated against that pod, in both VAP formats, against the API server's
// budgets: vapeval.PolicyBudget per policy and request, vapeval.ExpressionBudget per
// expression. From the cost per added container it says at how many containers a budget
// would run out, beside how many such containers fit in the largest object etcd stores
// (1.5 MiB). The policy must admit the pod it was learned from at every n measured.
//
//	go test ./pkg/render -run VAPRuntimeCost -v | grep FIGURE
func TestVAPRuntimeCost(t *testing.T) {
	const etcdObjectLimit = 3 << 19 // etcd's default --max-request-bytes, 1.5 MiB
	ctx := context.Background()
	// measure returns the policy's cost, and that of its costliest validation alone.
	measure := func(format string, n, m int) (total, largest int64, largestName string) {
		pod := wideWebPod(n, m)
		s := readSet(t, format, learnFrom(t, format, pod))
		if d := denials(decide(t, s, pod)); len(d) > 0 {
			t.Errorf("%s, %d containers: the pod learned from is denied: %s", format, n, strings.Join(d, "; "))
		}
		pod = pod.DeepCopy()
		defaulting.Apply(pod)
		ns := s.Namespace(pod.Namespace)
		for _, p := range s.Policies() {
			c, err := p.Cost(ctx, pod, ns)
			if err != nil {
				t.Fatalf("%s, %d containers: %v", format, n, err)
			}
			total += c
			for i, v := range p.Spec().Spec.Validations {
				one := p.Spec().DeepCopy()
				one.Spec.Validations = one.Spec.Validations[i : i+1]
				compiled, err := compiler.Compile(one)
				if err != nil {
					t.Fatal(err)
				}
				if c, err := compiled.Cost(ctx, pod, ns); err != nil {
					t.Fatal(err)
				} else if c > largest {
					largest, largestName = c, firstPart(v.Message)
				}
			}
		}
		return total, largest, largestName
	}
	podBytes := func(n int) int {
		data, err := json.Marshal(wideWebPod(n, 1))
		if err != nil {
			t.Fatal(err)
		}
		return len(data)
	}
	for _, format := range []string{FormatVAP, FormatVAPShared} {
		var total, largest [2]int64 // at 50 and 100 containers
		var largestName string
		for _, n := range []int{1, 10, 50, 100} {
			tot, lg, name := measure(format, n, 1)
			t.Logf("FIGURE vap_cost format=%s containers=%d cost=%d policy_budget_used=%.2f%% largest_expression_cost=%d expression_budget_used=%.2f%%",
				format, n, tot, 100*float64(tot)/vapeval.PolicyBudget, lg, 100*float64(lg)/vapeval.ExpressionBudget)
			if n >= 50 {
				total[n/100], largest[n/100], largestName = tot, lg, name
			}
		}
		if total[1] <= total[0] || largest[1] <= largest[0] {
			t.Fatalf("%s: the cost does not grow with the containers: %v %v", format, total, largest)
		}
		// The cost is linear in the containers: extrapolate from the last two points.
		at := func(budget int64, c [2]int64) int64 { return 100 + (budget-c[1])*50/(c[1]-c[0]) }
		fit := int64(100 + (etcdObjectLimit-podBytes(100))*50/(podBytes(100)-podBytes(50)))
		t.Logf("FIGURE vap_cost_limit format=%s policy_budget_at_containers=%d expression_budget_at_containers=%d (costliest: %q) containers_in_1.5MiB_pod=%d",
			format, at(vapeval.PolicyBudget, total), at(vapeval.ExpressionBudget, largest), largestName, fit)
		// Host path mounts are checked against the list of read-only paths: containers ×
		// mounts × paths.
		for _, m := range []int{10, 30} {
			tot, lg, name := measure(format, 10, m)
			t.Logf("FIGURE vap_cost format=%s containers=10 read_only_host_paths_mounted_in_each=%d cost=%d policy_budget_used=%.2f%% largest_expression_cost=%d expression_budget_used=%.2f%% (costliest: %q)",
				format, m, tot, 100*float64(tot)/vapeval.PolicyBudget, lg, 100*float64(lg)/vapeval.ExpressionBudget, name)
		}
	}
}

// firstPart is a validation message up to its first semicolon: what it limits.
func firstPart(message string) string {
	part, _, _ := strings.Cut(message, ";")
	return part
}
