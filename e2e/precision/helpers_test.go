package precision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/manifest"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// workers bounds the concurrent API requests: the control plane shares a small machine.
const workers = 8

var (
	loadOnce    sync.Once
	allFixtures []psafixtures.Fixture
	fixturesVer string
	loadErr     error
)

// fixtures returns every fixture of the newest version directory and that version. Callers
// must not modify the pods (DeepCopy them).
//
// Pod names are made valid object names ("capabilities_baseline0" → "capabilities-baseline0"),
// as the upstream fixture tests do; nothing else is changed.
func fixtures(t *testing.T) ([]psafixtures.Fixture, string) {
	t.Helper()
	loadOnce.Do(func() {
		allFixtures, fixturesVer, loadErr = psafixtures.Load()
		for _, f := range allFixtures {
			f.Pod.Name = strings.ReplaceAll(strings.ToLower(f.Pod.Name), "_", "-")
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if len(allFixtures) == 0 {
		t.Fatal("no Pod Security Admission fixtures found")
	}
	return allFixtures, fixturesVer
}

// newClient returns an admin client whose client-side rate limit (client-go's default is 5
// requests/s) does not throttle the batches; the control plane is local.
func newClient(t *testing.T) client.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", harness.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// learn does what `pod-security-advisor convert -f POD.yaml -n ns` does with one pod and returns
// the rendered output: the pod (in namespace ns) is written as a manifest, read back with
// package manifest, changed as the API server admits it (package defaulting), observed, and
// rendered with opts.
func learn(t *testing.T, pod *corev1.Pod, ns string, opts render.Options) []byte {
	t.Helper()
	p := pod.DeepCopy()
	p.Namespace = ns
	p.APIVersion, p.Kind = "v1", "Pod"
	data, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	objects, _, err := manifest.Read(bytes.NewReader(data), p.Name+".yaml", ns)
	if err != nil {
		t.Fatalf("reading %s as a manifest: %v", p.Name, err)
	}
	if len(objects) != 1 {
		t.Fatalf("%s: %d pods read from the manifest, want 1", p.Name, len(objects))
	}
	agg := aggregate.New("precision")
	for _, o := range objects {
		defaulting.Apply(o.Pod)
		agg.Add(aggregate.Observe(o.Pod, o.Owner, time.Time{}))
	}
	var out bytes.Buffer
	if err := render.Render(&out, agg, opts); err != nil {
		t.Fatalf("rendering %s: %v", p.Name, err)
	}
	return out.Bytes()
}

// decode splits rendered YAML into its objects.
func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding rendered output: %v\n%s", err, data)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// vap is one rendered policy and its binding, and for vap-shared the Namespace that carries
// what was learned (the policy and binding are then the same for every namespace).
type vap struct {
	policy, binding *unstructured.Unstructured
	namespace       *unstructured.Unstructured // nil for vap
}

func (v vap) name() string { return v.policy.GetName() }

// learnVAP renders the enforcing VAP learned from pod in ns with scope, and checks that the
// output is exactly one policy and one binding.
func learnVAP(t *testing.T, pod *corev1.Pod, ns, scope string) vap {
	t.Helper()
	objs := decode(t, learn(t, pod, ns, render.Options{Format: render.FormatVAP, Scope: scope, Enforce: true}))
	if scope == render.ScopeServiceAccount {
		// The learned account's unit; its namespace's fallback for the other accounts (the
		// union of the namespace's pods) is enforced in e2e/scenarios.
		objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
			return strings.HasSuffix(o.GetName(), "-other-service-accounts")
		})
	}
	if len(objs) != 2 || objs[0].GetKind() != "ValidatingAdmissionPolicy" || objs[1].GetKind() != "ValidatingAdmissionPolicyBinding" {
		t.Fatalf("learning %s: want one policy and one binding, got %d objects", pod.Name, len(objs))
	}
	return vap{policy: objs[0], binding: objs[1]}
}

// sharedRun suffixes the shared policy's name in this test process, so that runs on one
// control plane do not share (and delete) each other's policy.
var sharedRun = rand.String(5)

// learnPolicy renders, in format vap or vap-shared, the enforcing policy learned from pod in ns
// (namespace scope).
func learnPolicy(t *testing.T, pod *corev1.Pod, ns, format string) vap {
	t.Helper()
	if format == render.FormatVAP {
		return learnVAP(t, pod, ns, render.ScopeNamespace)
	}
	objs := decode(t, learn(t, pod, ns, render.Options{Format: format, Enforce: true}))
	if len(objs) != 3 || objs[0].GetKind() != "ValidatingAdmissionPolicy" || objs[1].GetKind() != "ValidatingAdmissionPolicyBinding" ||
		objs[2].GetKind() != "Namespace" || objs[2].GetName() != ns {
		t.Fatalf("learning %s: want a policy, a binding and Namespace %s, got %d objects", pod.Name, ns, len(objs))
	}
	name := objs[0].GetName() + "-" + sharedRun
	objs[0].SetName(name)
	objs[1].SetName(name)
	if err := unstructured.SetNestedField(objs[1].Object, name, "spec", "policyName"); err != nil {
		t.Fatal(err)
	}
	return vap{policy: objs[0], binding: objs[1], namespace: objs[2]}
}

// parallel runs fn(0..n-1) on at most workers goroutines.
func parallel(n int, fn func(i int)) { harness.Parallel(workers, n, fn) }

// namespaces creates n namespaces named prefix-<run>-<i> with the given service accounts
// ("default" among them is created too rather than awaited from the controller), and deletes
// them when the test ends. labels may be nil.
func namespaces(t *testing.T, c client.Client, prefix string, n int, labels func(i int) map[string]string, serviceAccounts ...string) []string {
	t.Helper()
	run := rand.String(5)
	names := make([]string, n)
	var errs harness.ErrorList
	parallel(n, func(i int) {
		ctx := context.Background()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s-%03d", prefix, run, i)}}
		if labels != nil {
			ns.Labels = labels(i)
		}
		if err := c.Create(ctx, ns); err != nil {
			errs.Add("creating namespace %s: %v", ns.Name, err)
			return
		}
		names[i] = ns.Name
		for _, sa := range serviceAccounts {
			err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: sa}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				errs.Add("creating service account %s/%s: %v", ns.Name, sa, err)
			}
		}
	})
	t.Cleanup(func() {
		parallel(n, func(i int) {
			if names[i] != "" {
				_ = c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i]}})
			}
		})
	})
	errs.Check(t, "creating namespaces")
	return names
}

// apply creates the policies and bindings (each once: vap-shared's are the same for every
// namespace) and deletes them when the test ends, and labels and annotates the Namespaces of
// vap-shared as rendered.
func apply(t *testing.T, c client.Client, vaps []vap) {
	t.Helper()
	var objs []*unstructured.Unstructured
	seen := map[string]bool{}
	for _, v := range vaps {
		for _, obj := range []*unstructured.Unstructured{v.policy, v.binding} {
			if key := obj.GetKind() + "/" + obj.GetName(); !seen[key] {
				seen[key] = true
				objs = append(objs, obj)
			}
		}
	}
	var errs harness.ErrorList
	created := make([]client.Object, len(objs))
	parallel(len(objs), func(i int) {
		obj := objs[i].DeepCopy()
		if err := c.Create(context.Background(), obj); err != nil {
			errs.Add("creating %s %s: %v", obj.GetKind(), obj.GetName(), err)
			return
		}
		created[i] = obj
	})
	t.Cleanup(func() {
		parallel(len(created), func(i int) {
			if created[i] != nil {
				_ = c.Delete(context.Background(), created[i])
			}
		})
	})
	parallel(len(vaps), func(i int) {
		if ns := vaps[i].namespace; ns != nil {
			patch, err := ns.MarshalJSON()
			if err == nil {
				err = c.Patch(context.Background(), ns.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
			}
			if err != nil {
				errs.Add("labelling and annotating Namespace %s: %v", ns.GetName(), err)
			}
		}
	})
	errs.Check(t, "applying the learned policies")
}

// probe is the pod whose denial shows a learned policy is in effect (harness.PrivilegedProbe).
func probe(ns, serviceAccount string) *corev1.Pod {
	return harness.PrivilegedProbe(ns, "precision-probe", serviceAccount)
}

// outcome is what the API server did with a dry-run pod.
type outcome int

const (
	admitted outcome = iota
	deniedByPolicy
	policyError // the policy failed (expression error, bad configuration): denied, but not by a rule
	deniedByPSA
	otherError
)

// dryRun creates pod with server-side dry run and classifies the answer; policy names the VAP
// whose denials count as deniedByPolicy. The error text comes back for messages.
func dryRun(c client.Client, pod *corev1.Pod, policy string) (outcome, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.Create(ctx, pod.DeepCopy(), client.DryRunAll)
	if err == nil {
		return admitted, ""
	}
	msg := err.Error()
	switch {
	case policy != "" && strings.Contains(msg, "ValidatingAdmissionPolicy '"+policy+"'"):
		if strings.Contains(msg, "resulted in error") || strings.Contains(msg, "failed configuration") {
			return policyError, msg
		}
		return deniedByPolicy, msg
	case strings.Contains(msg, "violates PodSecurity"):
		return deniedByPSA, msg
	}
	return otherError, msg
}

// onNamespace returns a copy of the fixture's pod in namespace ns.
func onNamespace(pod *corev1.Pod, ns string) *corev1.Pod {
	p := pod.DeepCopy()
	p.Namespace = ns
	return p
}

// waitInEffect waits until every policy denies its probe (VAP bindings take effect
// asynchronously), then until the type-checking controller has checked every policy, and
// fails on any type-checking warning.
func waitInEffect(t *testing.T, c client.Client, vaps []vap, probes []*corev1.Pod) {
	t.Helper()
	pending := make([]int, len(vaps))
	for i := range pending {
		pending[i] = i
	}
	last := make([]string, len(vaps))
	harness.Eventually(t, 2*time.Minute, "learned policies in effect", func() error {
		var mu sync.Mutex
		var still []int
		parallel(len(pending), func(k int) {
			i := pending[k]
			got, msg := dryRun(c, probes[i], vaps[i].name())
			if got != deniedByPolicy {
				mu.Lock()
				still = append(still, i)
				last[i] = fmt.Sprintf("probe in %s: outcome %d %s", probes[i].Namespace, got, msg)
				mu.Unlock()
			}
		})
		pending = still
		if len(pending) > 0 {
			return fmt.Errorf("%d of %d policies not in effect yet, e.g. %s", len(pending), len(vaps), last[pending[0]])
		}
		return nil
	})

	warnings := make([][]string, len(vaps))
	harness.Eventually(t, 2*time.Minute, "type checking of the learned policies", func() error {
		var unchecked []string
		var mu sync.Mutex
		parallel(len(vaps), func(i int) {
			p := &admv1.ValidatingAdmissionPolicy{}
			err := c.Get(context.Background(), client.ObjectKey{Name: vaps[i].name()}, p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				unchecked = append(unchecked, vaps[i].name()+": "+err.Error())
			case p.Status.ObservedGeneration != p.Generation || p.Status.TypeChecking == nil:
				unchecked = append(unchecked, vaps[i].name())
			default:
				warnings[i] = nil
				for _, w := range p.Status.TypeChecking.ExpressionWarnings {
					warnings[i] = append(warnings[i], w.FieldRef+": "+w.Warning)
				}
			}
		})
		if len(unchecked) > 0 {
			return fmt.Errorf("%d policies not type-checked yet, e.g. %s", len(unchecked), unchecked[0])
		}
		return nil
	})
	for i, ws := range warnings {
		for _, w := range ws {
			t.Errorf("policy %s has a type-checking warning: %s", vaps[i].name(), w)
		}
	}
}

var (
	validOnce sync.Once
	invalid   map[string]string
)

// invalidFixtures dry-runs every fixture into a namespace without any policy or Pod Security
// label, once per test process, and returns those the API server rejects anyway, with its
// reason. Such a pod cannot be admitted by anything, nor denied by a policy (validation comes
// first): it is left out of every figure and listed with the reason. Upstream marks these
// fixtures failRequiresError (for example procMount Unmasked with hostUsers: true since v1.35).
// A pass fixture must always be valid.
func invalidFixtures(t *testing.T, c client.Client) map[string]string {
	t.Helper()
	all, _ := fixtures(t)
	validOnce.Do(func() {
		ns := namespaces(t, c, "prec-valid", 1, nil, "default")[0]
		invalid = map[string]string{}
		var mu sync.Mutex
		parallel(len(all), func(i int) {
			if got, msg := dryRun(c, onNamespace(all[i].Pod, ns), ""); got != admitted {
				mu.Lock()
				invalid[all[i].String()] = msg
				mu.Unlock()
			}
		})
	})
	for _, f := range all {
		if reason, ok := invalid[f.String()]; ok && f.Pass {
			t.Fatalf("%s is labelled pass but the API server rejects it without any policy: %s", f, reason)
		}
	}
	return invalid
}

// tally counts one figure: hits of the valid fixtures measured, each miss with its reason, and
// the invalid fixtures left out with theirs.
type tally struct {
	figure   string
	invalid  map[string]string // from invalidFixtures
	mu       sync.Mutex
	total    int
	hits     int
	misses   []miss
	excluded []miss
}

type miss struct{ fixture, reason string }

// record counts fixture (hit or not, why not), or leaves it out if it is invalid.
func (ty *tally) record(fixture string, hit bool, reason string) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if why, ok := ty.invalid[fixture]; ok {
		ty.excluded = append(ty.excluded, miss{fixture, why})
		return
	}
	ty.total++
	if hit {
		ty.hits++
		return
	}
	ty.misses = append(ty.misses, miss{fixture, reason})
}

// report prints the figure and the fixtures left out, with t.Logf and on stdout, and fails the
// test with every miss and its reason.
func (ty *tally) report(t *testing.T, what string) {
	t.Helper()
	pct := 0.0
	if ty.total > 0 {
		pct = 100 * float64(ty.hits) / float64(ty.total)
	}
	say := func(format string, args ...any) {
		t.Helper()
		t.Logf(format, args...)
		fmt.Printf(format+"\n", args...)
	}
	say("PRECISION %s: %d/%d %s (%.1f%%)", ty.figure, ty.hits, ty.total, what, pct)
	byFixture := func(ms []miss) {
		sort.Slice(ms, func(i, j int) bool { return ms[i].fixture < ms[j].fixture })
	}
	byFixture(ty.excluded)
	for _, m := range ty.excluded {
		say("  not measured: %s is not a valid pod for this API server: %s", m.fixture, m.reason)
	}
	byFixture(ty.misses)
	for _, m := range ty.misses {
		t.Errorf("MISS %s: %s", m.fixture, m.reason)
	}
	if ty.total == 0 {
		t.Errorf("%s: nothing measured", ty.figure)
	}
}
