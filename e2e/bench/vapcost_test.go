package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// vapcostEnv lists the numbers of namespaces whose policies TestVAPCost binds, in steps
// (`make bench` sets it). Unset, the test is skipped. vapcostFormatEnv picks the rendering:
// vap (one policy per namespace, the default) or vap-shared.
const (
	vapcostEnv       = "E2E_VAPCOST"
	vapcostFormatEnv = "E2E_VAPCOST_FORMAT"
)

const (
	// workloadsPerNamespace is the target's density: 100,000 workloads in 5,000 namespaces.
	workloadsPerNamespace = 20
	// creates is the sample of timed dry-run creates per figure, after warmup untimed ones.
	creates, warmup = 200, 20
	// settle lets the API server finish compiling, and a GC cycle pass, before memory is read.
	settle = 30 * time.Second
	// chunk is how many namespaces' policies are bound at a time within a step.
	chunk = 250
	// rssLimitMiB stops the binding when the API server's RSS passes it: the machine is shared.
	rssLimitMiB = 8192
	// workers bounds the concurrent requests that create the objects.
	workers = 8
	// nsPrefix names the namespaces: vapcost-0000, vapcost-0001, …
	nsPrefix = "vapcost-"
)

// TestVAPCost learns synthetic workloads for the largest step's namespaces, renders them with
// the project's renderer, creates every namespace, and then binds the policies of the first N
// namespaces step by step. Before the first step, after each, and again after all policies are
// deleted, it prints the API server's memory and the dry-run create latency of a restricted pod
// in the first namespace (bound from the first step on). It fails when a policy does not take
// effect or denies the pod it was learned from.
func TestVAPCost(t *testing.T) {
	spec := os.Getenv(vapcostEnv)
	if spec == "" {
		t.Skipf("the run takes many minutes: set %s=10,100,1000,5000 (make bench does)", vapcostEnv)
	}
	steps, err := parseSteps(spec)
	if err != nil {
		t.Fatalf("%s=%q: %v", vapcostEnv, spec, err)
	}
	b := newBench(t)
	total := steps[len(steps)-1]
	names := make([]string, total)
	for i := range names {
		names[i] = fmt.Sprintf("%s%04d", nsPrefix, i)
	}
	opts := render.Options{Format: cmp.Or(os.Getenv(vapcostFormatEnv), render.FormatVAP), Enforce: true}
	policies := b.render(learned(names), opts)
	b.createNamespaces(names)

	b.warmUp()
	base := b.measure(0)
	base.print(base, opts.Format)
	bound := 0
	for _, n := range steps {
		start := time.Now()
		stopped := false
		// In chunks, each in effect before the next: the memory guard then sees what the
		// compiled policies take.
		for bound < n && !stopped {
			next := min(bound+chunk, n)
			b.bind(policies, names[bound:next])
			bound = next
			b.waitDenied(names[bound-1])
			rss, err := harness.MemoryMiB(b.pid, "VmRSS")
			if err != nil {
				t.Fatal(err)
			}
			stopped = rss > rssLimitMiB
		}
		ready := time.Since(start)
		policies := b.waitTypeChecked()
		f := b.measure(bound)
		f.ready, f.policies = ready, policies
		f.print(base, opts.Format)
		if stopped {
			fmt.Printf("FIGURE vapcost stopped at namespaces=%d of %d: the API server's RSS passed %d MiB\n", bound, n, rssLimitMiB)
			break
		}
	}
	b.unbindAll()
	b.waitAdmitted(harness.PrivilegedProbe(names[0], "vapcost-probe", ""))
	b.measure(0).print(base, opts.Format+"-unbound")
}

func parseSteps(spec string) ([]int, error) {
	var steps []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("want positive numbers of namespaces, comma-separated: %q", f)
		}
		steps = append(steps, n)
	}
	slices.Sort(steps)
	return slices.Compact(steps), nil
}

// learned is what the webhook would have learned from workloadsPerNamespace synthetic
// workloads in each namespace, plus the restricted pod whose creates are timed, in the first.
func learned(names []string) *aggregate.Aggregate {
	r := rand.New(rand.NewPCG(1, 1))
	agg := aggregate.New("vapcost")
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range len(names) * workloadsPerNamespace {
		pod, ref := synthetic.Pod(r, i)
		pod.Namespace = names[i%len(names)]
		agg.Add(aggregate.Observe(pod, ref, at))
	}
	web := restrictedPod(names[0])
	defaulting.Apply(web)
	agg.Add(aggregate.Observe(web, owner.Ref{Kind: "Deployment", Name: web.Name}, at))
	return agg
}

// restrictedPod is a typical pod that passes the restricted Pod Security Standard.
func restrictedPod(ns string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vapcost-web"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](10001),
				FSGroup:        ptr.To[int64](10001),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  "web",
				Image: "registry.example.com/shop/web:v1.4.2",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
			}},
			Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

type bench struct {
	t       *testing.T
	c       client.Client
	cs      *kubernetes.Clientset
	pid     int
	timed   *corev1.Pod
	control *corev1.Pod // the same pod in a namespace no policy applies to
	applied []*unstructured.Unstructured
}

func newBench(t *testing.T) *bench {
	cfg, err := clientcmd.BuildConfigFromFlags("", harness.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	// The control plane is local; client-go's default of 5 requests/s would make the run hours.
	cfg.QPS, cfg.Burst = 200, 400
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{t: t, c: c, cs: cs, pid: harness.APIServerPid(t)}
	t.Cleanup(b.unbindAll)
	return b
}

// render returns the rendered objects in their order, grouped by the namespace they apply to
// ("" for cluster-wide objects, applied with the first namespace).
func (b *bench) render(agg *aggregate.Aggregate, opts render.Options) map[string][]*unstructured.Unstructured {
	var out bytes.Buffer
	if err := render.Render(&out, agg, opts); err != nil {
		b.t.Fatal(err)
	}
	size := out.Len()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(&out, 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.t.Fatalf("decoding the rendered %s: %v", opts.Format, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	// A policy goes with the namespace its bindings select; a binding of no one namespace, or
	// a policy of several, is cluster-wide.
	policyNS := map[string]string{}
	for _, u := range objs {
		if u.GetKind() == "ValidatingAdmissionPolicyBinding" {
			name, _, _ := unstructured.NestedString(u.Object, "spec", "policyName")
			ns := selectedNamespace(u)
			if prev, seen := policyNS[name]; seen && prev != ns {
				ns = ""
			}
			policyNS[name] = ns
		}
	}
	byNS := map[string][]*unstructured.Unstructured{}
	policies, validations := 0, 0
	for _, u := range objs {
		ns := u.GetNamespace()
		switch u.GetKind() {
		case "Namespace":
			ns = u.GetName()
		case "ValidatingAdmissionPolicy":
			ns = policyNS[u.GetName()]
			policies++
			v, _, _ := unstructured.NestedSlice(u.Object, "spec", "validations")
			validations += len(v)
		case "ValidatingAdmissionPolicyBinding":
			ns = selectedNamespace(u)
		}
		byNS[ns] = append(byNS[ns], u)
	}
	b.t.Logf("rendered %s: %d bytes, %d objects, %d policies, %.1f validations per policy",
		opts.Format, size, len(objs), policies, float64(validations)/float64(max(policies, 1)))
	return byNS
}

// selectedNamespace is the one namespace a binding selects by name, or "".
func selectedNamespace(binding *unstructured.Unstructured) string {
	ns, _, _ := unstructured.NestedString(binding.Object, "spec", "matchResources", "namespaceSelector", "matchLabels", corev1.LabelMetadataName)
	return ns
}

// createNamespaces creates the namespaces, and the default ServiceAccount of the first (the
// controller manager creates it too, but later), and deletes them when the test ends.
func (b *bench) createNamespaces(names []string) {
	var errs harness.ErrorList
	parallel(len(names), func(i int) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i]}}
		if err := b.c.Create(context.Background(), ns); err != nil {
			errs.Add("creating namespace %s: %v", names[i], err)
		}
	})
	b.t.Cleanup(func() {
		parallel(len(names), func(i int) {
			_ = b.c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i]}})
		})
	})
	errs.Check(b.t, "creating namespaces")
	control := nsPrefix + "control"
	if err := b.c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: control}}); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() {
		_ = b.c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: control}})
	})
	for _, ns := range []string{names[0], control} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}}
		if err := b.c.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
			b.t.Fatal(err)
		}
	}
	b.timed, b.control = restrictedPod(names[0]), restrictedPod(control)
	// The controller manager gives each new namespace a ServiceAccount and a ConfigMap; the
	// baseline waits until that work is done.
	harness.Eventually(b.t, 10*time.Minute, "the controller manager done with the namespaces", func() error {
		sas := &corev1.ServiceAccountList{}
		cms := &corev1.ConfigMapList{}
		if err := b.c.List(context.Background(), sas, client.MatchingFields{"metadata.name": "default"}); err != nil {
			return err
		}
		if err := b.c.List(context.Background(), cms, client.MatchingFields{"metadata.name": "kube-root-ca.crt"}); err != nil {
			return err
		}
		if len(sas.Items) <= len(names) || len(cms.Items) <= len(names) { // and the control namespace
			return fmt.Errorf("%d default ServiceAccounts and %d kube-root-ca.crt ConfigMaps for %d namespaces", len(sas.Items), len(cms.Items), len(names))
		}
		return nil
	})
}

// bind creates the rendered objects of the namespaces (and the cluster-wide ones, first).
func (b *bench) bind(byNS map[string][]*unstructured.Unstructured, names []string) {
	var objs []*unstructured.Unstructured
	if len(b.applied) == 0 {
		objs = append(objs, byNS[""]...)
	}
	for _, ns := range names {
		objs = append(objs, byNS[ns]...)
	}
	if len(objs) == 0 {
		b.t.Fatalf("nothing rendered for namespaces %s…", names[0])
	}
	// Policies before their bindings, and Namespaces before what is in them: kinds in order.
	sortByKind(objs)
	var errs harness.ErrorList
	var mu sync.Mutex
	for _, group := range groupByKind(objs) {
		parallel(len(group), func(i int) {
			obj := group[i].DeepCopy()
			if err := createOrUpdate(b.c, obj); err != nil {
				errs.Add("applying %s %s: %v", obj.GetKind(), obj.GetName(), err)
				return
			}
			if obj.GetKind() != "Namespace" {
				mu.Lock()
				b.applied = append(b.applied, obj)
				mu.Unlock()
			}
		})
	}
	errs.Check(b.t, "applying the rendered policies")
}

// kindOrder is the order objects are applied in: what others refer to first.
var kindOrder = []string{"Namespace", "ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

func sortByKind(objs []*unstructured.Unstructured) {
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return slices.Index(kindOrder, a.GetKind()) - slices.Index(kindOrder, b.GetKind())
	})
}

func groupByKind(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	var groups [][]*unstructured.Unstructured
	for i, o := range objs {
		if i == 0 || o.GetKind() != objs[i-1].GetKind() {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], o)
	}
	return groups
}

// createOrUpdate creates obj, or merges its labels and annotations into the existing object
// (the Namespaces a rendering labels exist already).
func createOrUpdate(c client.Client, obj *unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.Create(ctx, obj)
	if !apierrors.IsAlreadyExists(err) || obj.GetKind() != "Namespace" {
		return err
	}
	cur := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: obj.GetName()}, cur); err != nil {
		return err
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Labels = merged(cur.Labels, obj.GetLabels())
	cur.Annotations = merged(cur.Annotations, obj.GetAnnotations())
	return c.Patch(ctx, cur, patch)
}

func merged(into, from map[string]string) map[string]string {
	if into == nil {
		into = map[string]string{}
	}
	for k, v := range from {
		into[k] = v
	}
	return into
}

// unbindAll deletes every policy object applied so far.
func (b *bench) unbindAll() {
	parallel(len(b.applied), func(i int) {
		if err := b.c.Delete(context.Background(), b.applied[i]); err != nil && !apierrors.IsNotFound(err) {
			b.t.Errorf("deleting %s %s: %v", b.applied[i].GetKind(), b.applied[i].GetName(), err)
		}
	})
	b.applied = nil
}

// waitDenied waits until a policy denies a privileged probe in ns: the policies bound last are
// compiled and in effect (the API server compiles them asynchronously).
func (b *bench) waitDenied(ns string) {
	probe := harness.PrivilegedProbe(ns, "vapcost-probe", "")
	harness.Eventually(b.t, 15*time.Minute, "the policy of "+ns+" in effect", func() error {
		err := b.dryRun(probe)
		switch {
		case err == nil:
			return errors.New("the privileged probe is admitted")
		case !strings.Contains(err.Error(), "ValidatingAdmissionPolicy"):
			return fmt.Errorf("the probe is rejected, but not by a policy: %w", err)
		case strings.Contains(err.Error(), "resulted in error") || strings.Contains(err.Error(), "failed configuration"):
			b.t.Fatalf("the policy fails instead of denying: %v", err)
		}
		return nil
	})
}

func (b *bench) waitAdmitted(pod *corev1.Pod) {
	harness.Eventually(b.t, 5*time.Minute, "no policy in effect", func() error { return b.dryRun(pod) })
}

// waitTypeChecked waits until the controller manager has type-checked every policy, so its
// work does not compete with the timed creates, and returns how many policies there are.
func (b *bench) waitTypeChecked() int {
	var policies int
	harness.Eventually(b.t, 15*time.Minute, "type checking of the bound policies", func() error {
		list := &admv1.ValidatingAdmissionPolicyList{}
		if err := b.c.List(context.Background(), list); err != nil {
			return err
		}
		unchecked := 0
		for _, p := range list.Items {
			if p.Status.ObservedGeneration != p.Generation || p.Status.TypeChecking == nil {
				unchecked++
			}
		}
		if unchecked > 0 {
			return fmt.Errorf("%d of %d policies not type-checked yet", unchecked, len(list.Items))
		}
		policies = len(list.Items)
		return nil
	})
	return policies
}

func (b *bench) dryRun(pod *corev1.Pod) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.c.Create(ctx, pod.DeepCopy(), client.DryRunAll)
}

// warmUp has the API server build what it builds once, on first use, whatever the policies:
// the OpenAPI documents the controller manager's type checking reads (the clients of a real
// cluster read them all the time), so that the baseline does not leave them out.
func (b *bench) warmUp() {
	for _, path := range []string{"/openapi/v2", "/openapi/v3", "/openapi/v3/api/v1", "/openapi/v3/apis/admissionregistration.k8s.io/v1"} {
		if _, err := b.cs.RESTClient().Get().AbsPath(path).DoRaw(context.Background()); err != nil {
			b.t.Fatalf("GET %s: %v", path, err)
		}
	}
}

// figure is one measurement.
type figure struct {
	namespaces     int
	rss, hwm, heap float64 // MiB
	p50, p99       time.Duration
	cpu            float64       // the API server's CPU nanoseconds per create
	plugin         float64       // seconds the ValidatingAdmissionPolicy plugin took per create
	pairedRatio    float64       // p50 in the bound namespace over p50 in the control one, interleaved
	ready          time.Duration // from the first create of a step to its policies in effect
	policies       int           // ValidatingAdmissionPolicies in the cluster
}

// measure lets the API server settle, reads its memory, then times the dry-run creates of the
// restricted pod, one at a time; each must be admitted. Besides the latency seen by the client,
// it reads two figures the other processes on the machine disturb less: the API server's CPU
// time per create (less its idle rate, measured while settling) and the mean time the
// ValidatingAdmissionPolicy plugin took per create, from the server's own metrics.
func (b *bench) measure(namespaces int) figure {
	idle, idleSince := b.cpu(), time.Now()
	time.Sleep(settle)
	idleRate := float64(b.cpu()-idle) / float64(time.Since(idleSince))
	f := figure{namespaces: namespaces}
	var err error
	if f.rss, err = harness.MemoryMiB(b.pid, "VmRSS"); err != nil {
		b.t.Fatal(err)
	}
	if f.hwm, err = harness.MemoryMiB(b.pid, "VmHWM"); err != nil {
		b.t.Fatal(err)
	}
	create := func(pod *corev1.Pod) time.Duration {
		start := time.Now()
		if err := b.dryRun(pod); err != nil {
			b.t.Fatalf("the restricted pod is not admitted in %s: %v", pod.Namespace, err)
		}
		return time.Since(start)
	}
	for range warmup {
		create(b.timed)
	}
	before := b.metrics()
	f.heap = before.value(heapInuse) / (1 << 20)
	cpu, start := b.cpu(), time.Now()
	times := make([]time.Duration, creates)
	for i := range times {
		times[i] = create(b.timed)
	}
	busy := time.Since(start)
	f.cpu = (float64(b.cpu()-cpu) - idleRate*float64(busy)) / creates
	after := b.metrics()
	f.plugin = (after.value(pluginSum) - before.value(pluginSum)) / (after.value(pluginCount) - before.value(pluginCount))
	slices.Sort(times)
	f.p50, f.p99 = quantile(times, 0.50), quantile(times, 0.99)

	// The same creates alternating with creates in the control namespace: both see the same
	// moments of the machine, so their ratio is what the policy costs the bound namespace now.
	paired, control := make([]time.Duration, creates), make([]time.Duration, creates)
	for i := range creates {
		paired[i], control[i] = create(b.timed), create(b.control)
	}
	slices.Sort(paired)
	slices.Sort(control)
	f.pairedRatio = float64(quantile(paired, 0.5)) / float64(quantile(control, 0.5))
	return f
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpu is the CPU time the API server has used, all its threads.
func (b *bench) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.pid))
	if err != nil {
		b.t.Fatal(err)
	}
	// The fields after "(comm) " start at field 3, state; utime and stime are fields 14 and 15.
	_, rest, _ := bytes.Cut(data, []byte(") "))
	fields := strings.Fields(string(rest))
	if len(fields) < 13 {
		b.t.Fatalf("/proc/%d/stat: %q", b.pid, data)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.t.Fatalf("/proc/%d/stat: %q", b.pid, data)
	}
	return time.Duration(utime+stime) * clockTick
}

// Series of the API server's /metrics the figures read.
const (
	heapInuse   = "go_memstats_heap_inuse_bytes"
	pluginSum   = `apiserver_admission_controller_admission_duration_seconds_sum{name="ValidatingAdmissionPolicy",operation="CREATE",rejected="false",type="validate"}`
	pluginCount = `apiserver_admission_controller_admission_duration_seconds_count{name="ValidatingAdmissionPolicy",operation="CREATE",rejected="false",type="validate"}`
)

// metrics is one scrape of the API server's /metrics.
type metrics struct {
	t    *testing.T
	text string
}

func (b *bench) metrics() metrics {
	data, err := b.cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.t.Fatalf("reading the API server's metrics: %v", err)
	}
	return metrics{b.t, string(data)}
}

// value is the sample of one series, named with its labels as the server writes them.
func (m metrics) value(series string) float64 {
	for _, line := range strings.Split(m.text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				m.t.Fatalf("%s %q: %v", series, v, err)
			}
			return f
		}
	}
	m.t.Fatalf("the API server's metrics have no %s", series)
	return 0
}

func (f figure) print(base figure, format string) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("FIGURE vapcost namespaces=%d rss_mib=%.0f p50_ms=%.2f p99_ms=%.2f latency_ratio=%.2f "+
		"p99_ratio=%.2f cpu_ms=%.2f cpu_ratio=%.2f vap_plugin_ms=%.3f rss_delta_mib=%.0f heap_inuse_delta_mib=%.0f hwm_mib=%.0f "+
		"paired_ratio=%.2f ready_s=%.1f policies=%d format=%s\n",
		f.namespaces, f.rss, ms(f.p50), ms(f.p99), ms(f.p50)/ms(base.p50), ms(f.p99)/ms(base.p99),
		f.cpu/1e6, f.cpu/base.cpu, f.plugin*1e3, f.rss-base.rss, f.heap-base.heap, f.hwm,
		f.pairedRatio, f.ready.Seconds(), f.policies, format)
}

// parallel runs fn(0..n-1) on at most workers goroutines.
func parallel(n int, fn func(i int)) { harness.Parallel(workers, n, fn) }
