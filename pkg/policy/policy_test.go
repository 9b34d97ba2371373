package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syntheticpods "github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// API server limits the fake client enforces, as the real one does.
const (
	apiMaxConfigMapBytes = 1 << 20
	apiMaxRequestBytes   = 3 << 20
)

// cluster is a fake API server that refuses what the real one refuses (a ConfigMap over 1 MiB,
// a request over 3 MiB) and counts the writes per ConfigMap.
type cluster struct {
	client.WithWatch
	writes map[string]int
}

func newCluster(objs ...client.Object) *cluster {
	c := &cluster{writes: map[string]int{}}
	check := func(obj client.Object) error {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return nil
		}
		size := 0
		for k, v := range cm.Data {
			size += len(k) + len(v)
		}
		if size > apiMaxConfigMapBytes {
			return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind(), cm.Name,
				field.ErrorList{field.TooLong(field.NewPath("data"), "", apiMaxConfigMapBytes)})
		}
		if body, _ := json.Marshal(cm); len(body) > apiMaxRequestBytes {
			return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", apiMaxRequestBytes))
		}
		c.writes[cm.Name]++
		return nil
	}
	c.WithWatch = interceptor.NewClient(fake.NewClientBuilder().WithObjects(objs...).Build(), interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := check(obj); err != nil {
				return err
			}
			return cl.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := check(obj); err != nil {
				return err
			}
			return cl.Update(ctx, obj, opts...)
		},
	})
	return c
}

func list(t *testing.T, c client.Client) map[string]*corev1.ConfigMap {
	t.Helper()
	cms := &corev1.ConfigMapList{}
	if err := c.List(context.Background(), cms); err != nil {
		t.Fatal(err)
	}
	out := map[string]*corev1.ConfigMap{}
	for i := range cms.Items {
		out[cms.Items[i].Name] = &cms.Items[i]
	}
	return out
}

func publisher(c client.Client, scope string) *Publisher {
	return &Publisher{Reader: c, Client: c, Namespace: "psa", Name: "psa-policy", Scope: scope}
}

// withBounds sets the ConfigMap bounds for one test.
func withBounds(t *testing.T, maxBytes, maxRequest int) {
	oldBytes, oldRequest := MaxBytes, MaxRequestBytes
	MaxBytes, MaxRequestBytes = maxBytes, maxRequest
	t.Cleanup(func() { MaxBytes, MaxRequestBytes = oldBytes, oldRequest })
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	c := newCluster()
	p := publisher(c, "namespace")
	agg := syntheticpods.Aggregate("r", 0, 16, 1) // small enough that every key fits in one ConfigMap

	if err := p.Publish(ctx, agg); err != nil {
		t.Fatal(err)
	}
	cms := list(t, c)
	cm := cms["psa-policy"]
	if len(cms) != 1 || cm == nil {
		t.Fatalf("want one policy ConfigMap, got %d", len(cms))
	}
	for key, f := range Keys {
		var b strings.Builder
		if err := render.Render(&b, agg, render.Options{Format: f, Scope: "namespace"}); err != nil {
			t.Fatal(err)
		}
		if cm.Data[key] != b.String() {
			t.Errorf("key %s is not the rendering of the whole cluster", key)
		}
	}
	if !strings.Contains(cm.Data[ReadmeKey], `kubectl get configmap psa-policy -n psa -o jsonpath='{.data.validating-admission-policy\.yaml}'`) {
		t.Errorf("README lacks the fetch command:\n%s", cm.Data[ReadmeKey])
	}

	// Same learning: nothing is rewritten.
	if err := p.Publish(ctx, agg); err != nil {
		t.Fatal(err)
	}
	if c.writes["psa-policy"] != 1 {
		t.Errorf("unchanged policy rewritten: %d writes", c.writes["psa-policy"])
	}
}

// split publishes agg split into parts of at most maxBytes and returns the ConfigMaps.
func split(t *testing.T, c *cluster, p *Publisher, agg *aggregate.Aggregate, maxBytes int) map[string]*corev1.ConfigMap {
	t.Helper()
	withBounds(t, maxBytes, maxBytes*2)
	if err := p.Publish(context.Background(), agg); err != nil {
		t.Fatal(err)
	}
	return list(t, c)
}

// documents are the YAML documents of a stream, comments and empty ones dropped, sorted.
func documents(stream string) []string {
	var out []string
	for _, doc := range strings.Split(stream, "\n---\n") {
		var lines []string
		for _, l := range strings.Split(doc, "\n") {
			if !strings.HasPrefix(l, "#") && l != "---" && l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	slices.Sort(out)
	return out
}

// TestPublishSplits: a policy too large for one ConfigMap is split into parts that each fit,
// hold every namespace exactly once, are labelled with them, and together hold the documents of
// the whole cluster's rendering.
func TestPublishSplits(t *testing.T) {
	c := newCluster()
	p := publisher(c, "serviceaccount")
	agg := syntheticpods.Spread("r", 120, 40)
	cms := split(t, c, p, agg, 256*1024)
	main := cms["psa-policy"]
	if len(cms) < 4 || main == nil || !strings.Contains(main.Data[ReadmeKey], "is split into") {
		t.Fatalf("README does not say the policy is split:\n%v", main)
	}
	holder := map[string]string{}
	joined := map[string]string{}
	for name, cm := range cms {
		if name == "psa-policy" {
			continue
		}
		if cm.Labels[LabelPolicy] != "psa-policy" || name != "psa-policy-part-"+cm.Labels[LabelPart] || !strings.Contains(main.Data[ReadmeKey], name) {
			t.Errorf("part %s: labels %v, or the README does not list it", name, cm.Labels)
		}
		if size := dataCost(cm.Data).raw; size > MaxBytes {
			t.Errorf("part %s: %d bytes, bound %d", name, size, MaxBytes)
		}
		for k := range cm.Labels {
			if ns, ok := strings.CutPrefix(k, LabelNamespacePrefix); ok {
				if holder[ns] != "" {
					t.Errorf("namespace %s in %s and %s", ns, holder[ns], name)
				}
				holder[ns] = name
				if !strings.Contains(cm.Data[ReadmeKey], ns) {
					t.Errorf("part %s does not name namespace %s", name, ns)
				}
			}
		}
		for key := range Keys {
			joined[key] += cm.Data[key]
		}
		var rl struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal([]byte(cm.Data["report.json"]), &rl); err != nil || rl.Kind != render.ReportListKind {
			t.Errorf("part %s: report.json is no ReportList: %v", name, err)
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(holder)), agg.NamespaceNames()) {
		t.Errorf("namespaces held %v, want %v", slices.Sorted(maps.Keys(holder)), agg.NamespaceNames())
	}
	for _, f := range []string{"pod-security-standards.yaml", "validating-admission-policy.yaml", "pod-security-policy.yaml"} {
		var whole strings.Builder
		if err := render.Render(&whole, agg, render.Options{Format: Keys[f], Scope: p.Scope}); err != nil {
			t.Fatal(err)
		}
		if got, want := documents(joined[f]), documents(whole.String()); !slices.Equal(got, want) {
			t.Errorf("%s: the parts hold %d documents, the whole cluster's rendering %d (or they differ)", f, len(got), len(want))
		}
	}

	// Another publisher, remembering nothing, lays out the same parts with the same content.
	again, err := publisher(nil, "serviceaccount").Render(agg)
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range again {
		if have := cms[cm.Name]; have == nil || !maps.Equal(have.Data, cm.Data) {
			t.Errorf("%s is not laid out the same way twice", cm.Name)
		}
	}
	if len(again) != len(cms) {
		t.Errorf("%d ConfigMaps, then %d", len(cms), len(again))
	}

	// It fits again: one ConfigMap, no stale parts.
	withBounds(t, 900*1024, 2560*1024)
	if err := p.Publish(context.Background(), aggregate.New("r")); err != nil {
		t.Fatal(err)
	}
	if cms := list(t, c); len(cms) != 1 {
		t.Errorf("stale parts left: %d ConfigMaps", len(cms))
	}
}

// grow adds one workload to namespace ns.
func grow(agg *aggregate.Aggregate, ns string, i int) {
	one := syntheticpods.Aggregate("r", 100000+i, 1, 2)
	for _, n := range one.Namespaces {
		for k, w := range n.Workloads {
			agg.Namespaces[ns].Workloads[k] = w
		}
	}
}

// TestPublishOneNamespaceChanged: a change in one namespace rewrites its part only, whether
// found by fingerprints or named by the caller; a deleted ConfigMap is written again even when
// nothing changed.
func TestPublishOneNamespaceChanged(t *testing.T) {
	ctx := context.Background()
	c := newCluster()
	p := publisher(c, "namespace")
	agg := syntheticpods.Spread("r", 400, 60)
	cms := split(t, c, p, agg, 48*1024)
	if len(cms) < 4 {
		t.Fatalf("want several parts, got %d ConfigMaps", len(cms))
	}
	partOf := func(ns string) string {
		for name, cm := range list(t, c) {
			if _, ok := cm.Labels[LabelNamespacePrefix+ns]; ok {
				return name
			}
		}
		return ""
	}
	for i, publish := range []func(ns string) error{
		func(string) error { return p.Publish(ctx, agg) },
		func(ns string) error { return p.PublishChanged(ctx, agg, []string{ns}) },
	} {
		ns := agg.NamespaceNames()[7+i]
		grow(agg, ns, i)
		before := maps.Clone(c.writes)
		if err := publish(ns); err != nil {
			t.Fatal(err)
		}
		var rewritten []string
		for name, n := range c.writes {
			if n != before[name] {
				rewritten = append(rewritten, name)
			}
		}
		if len(list(t, c)) != len(cms) {
			t.Fatalf("the layout changed (%d ConfigMaps, then %d): choose another namespace", len(cms), len(list(t, c)))
		}
		if !slices.Equal(rewritten, []string{partOf(ns)}) {
			t.Errorf("namespace %s changed: rewritten %v, want only its part %s", ns, rewritten, partOf(ns))
		}
	}

	// Deleted ConfigMaps come back, and only they are written.
	part := partOf("tenant-0003")
	for _, name := range []string{"psa-policy", part} {
		if err := c.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "psa", Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	before := maps.Clone(c.writes)
	if err := p.Publish(ctx, agg); err != nil {
		t.Fatal(err)
	}
	cms = list(t, c)
	for name, n := range c.writes {
		if want := before[name] + map[bool]int{true: 1}[name == part || name == "psa-policy"]; n != want || cms[name] == nil {
			t.Errorf("%s: %d writes, want %d", name, n-before[name], want-before[name])
		}
	}
}

// TestPublishBudget: formats whose renderings pass the budget are left out whole, the README
// and every part saying how to render them.
func TestPublishBudget(t *testing.T) {
	c := newCluster()
	p := publisher(c, "namespace")
	agg := syntheticpods.Spread("r", 200, 20)
	withBounds(t, 256*1024, 512*1024)
	all, err := publisher(nil, "namespace").Render(agg)
	if err != nil {
		t.Fatal(err)
	}
	total, reports := 0, 0
	for _, cm := range all[1:] {
		total += dataCost(cm.Data).raw
		reports += len(cm.Data["report.json"])
	}
	if len(all) < 3 || strings.Contains(all[0].Data[ReadmeKey], "Left out") {
		t.Fatalf("want a split policy with nothing left out, got %d ConfigMaps", len(all))
	}
	p.MaxTotalBytes = total - reports/2
	if err := p.Publish(context.Background(), agg); err != nil {
		t.Fatal(err)
	}
	cms := list(t, c)
	readme := cms["psa-policy"].Data[ReadmeKey]
	if !strings.Contains(readme, "Left out:\n  report.json: all namespaces' renderings pass the policy budget") ||
		!strings.Contains(readme, "pod-security-advisor render --format report --namespaces <namespace>") {
		t.Errorf("README does not say the report was left out:\n%s", readme)
	}
	for name, cm := range cms {
		if name == "psa-policy" {
			continue
		}
		if !strings.HasPrefix(cm.Data["report.json"], "# Left out: report.json of all namespaces passes the policy budget") ||
			!strings.Contains(cm.Data["report.json"], "render --format report --namespaces tenant-") {
			t.Errorf("%s: report.json is %.100q", name, cm.Data["report.json"])
		}
		if !strings.Contains(cm.Data["validating-admission-policy.yaml"], "kind: ValidatingAdmissionPolicy") {
			t.Errorf("%s lost its VAPs", name)
		}
	}
}

// TestPublishOversizedNamespace: a namespace whose report alone passes a ConfigMap has it left
// out of its part with a note naming it; its other keys and the other namespaces' stay.
func TestPublishOversizedNamespace(t *testing.T) {
	c := newCluster()
	p := publisher(c, "namespace")
	agg := syntheticpods.Spread("r", 40, 4)
	big := "tenant-0002"
	for i := range 300 {
		grow(agg, big, i)
	}
	cms := split(t, c, p, agg, 200*1024)
	for name, cm := range cms {
		if name == "psa-policy" {
			if !strings.Contains(cm.Data[ReadmeKey], "report.json of namespace "+big+": more than one ConfigMap holds") {
				t.Errorf("README does not name the namespace whose report was left out:\n%s", cm.Data[ReadmeKey])
			}
			continue
		}
		_, holdsBig := cm.Labels[LabelNamespacePrefix+big]
		note := strings.HasPrefix(cm.Data["report.json"], "# Left out: report.json of namespace "+big+" does not fit")
		if holdsBig != note || holdsBig && !strings.Contains(cm.Data["report.json"], "render --format report --namespaces "+big+"\n") {
			t.Errorf("%s (holds %s: %t): report.json %.120q", name, big, holdsBig, cm.Data["report.json"])
		}
		for _, key := range []string{"pod-security-standards.yaml", "validating-admission-policy.yaml", "pod-security-policy.yaml"} {
			if strings.HasPrefix(cm.Data[key], "# Left out") {
				t.Errorf("%s lost its %s", name, key)
			}
		}
	}
}

// TestPublishRequestBound: data that JSON escapes heavily (line breaks, quotes) is bounded by
// its request size, not only by its bytes.
func TestPublishRequestBound(t *testing.T) {
	c := newCluster()
	p := publisher(c, "namespace")
	agg := syntheticpods.Spread("r", 300, 30)
	withBounds(t, 64*1024, 64*1024)
	if err := p.Publish(context.Background(), agg); err != nil {
		t.Fatal(err)
	}
	for name, cm := range list(t, c) {
		cm.ManagedFields = nil
		body, _ := json.Marshal(cm)
		if len(body) > MaxRequestBytes+4096 {
			t.Errorf("%s: a %d-byte request, bound %d", name, len(body), MaxRequestBytes)
		}
		if dataCost(cm.Data).json > MaxRequestBytes {
			t.Errorf("%s: %d bytes of data as JSON", name, dataCost(cm.Data).json)
		}
	}
}

// TestPublishClusterScope: the cluster-scope VAP and PSP, one document for every namespace, stay
// whole in the main ConfigMap; the per-namespace keys are split; a whole format that does not
// fit is left out with the command that renders it.
func TestPublishClusterScope(t *testing.T) {
	c := newCluster()
	p := publisher(c, "cluster")
	agg := syntheticpods.Spread("r", 300, 20)
	var vap strings.Builder
	render.Render(&vap, agg, render.Options{Format: render.FormatVAP, Scope: "cluster"})
	cms := split(t, c, p, agg, 2*vap.Len()+16*1024)
	main := cms["psa-policy"]
	if main.Data["validating-admission-policy.yaml"] != vap.String() || len(cms) < 3 {
		t.Errorf("main ConfigMap lacks the cluster VAP, or nothing was split (%d ConfigMaps)", len(cms))
	}
	if !strings.Contains(main.Data[ReadmeKey], "validating-admission-policy.yaml (scope cluster: one document for every namespace) is in this ConfigMap") {
		t.Errorf("README does not say where the cluster VAP is:\n%s", main.Data[ReadmeKey])
	}
	for name, cm := range cms {
		if name != "psa-policy" && (cm.Data["validating-admission-policy.yaml"] != "" || cm.Data["report.json"] == "") {
			t.Errorf("part %s: keys %v", name, slices.Sorted(maps.Keys(cm.Data)))
		}
	}

	// A fresh publisher: the limits are constants in a running webhook.
	c = newCluster()
	cms = split(t, c, publisher(c, "cluster"), agg, len(vap.String())/2)
	if note := cms["psa-policy"].Data["validating-admission-policy.yaml"]; !strings.HasPrefix(note, "# Left out: at scope cluster") ||
		!strings.Contains(note, "render --format vap --scope cluster\n") {
		t.Errorf("whole VAP too large, main holds %.200q", note)
	}
}

// TestPublishRemovesOldParts: per-namespace parts an older release wrote go.
func TestPublishRemovesOldParts(t *testing.T) {
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "psa", Name: "psa-policy-ns-web",
		Labels: map[string]string{LabelPolicy: "psa-policy", "pod-security-advisor.io/namespace": "web"}}}
	c := newCluster(old)
	if err := publisher(c, "namespace").Publish(context.Background(), syntheticpods.Aggregate("r", 0, 3, 1)); err != nil {
		t.Fatal(err)
	}
	if cms := list(t, c); cms["psa-policy-ns-web"] != nil || cms["psa-policy"] == nil {
		t.Errorf("ConfigMaps after publishing: %v", slices.Sorted(maps.Keys(cms)))
	}
}

// TestPublishKeepsUserLabels: re-rendering sets our labels and keeps the ones a user added.
func TestPublishKeepsUserLabels(t *testing.T) {
	ctx := context.Background()
	c := newCluster()
	p := publisher(c, "namespace")
	if err := p.Publish(ctx, syntheticpods.Aggregate("r", 0, 3, 1)); err != nil {
		t.Fatal(err)
	}
	cm := list(t, c)["psa-policy"]
	cm.Labels["team"] = "platform"
	if err := c.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, syntheticpods.Aggregate("r", 0, 6, 1)); err != nil {
		t.Fatal(err)
	}
	cm = list(t, c)["psa-policy"]
	if cm.Labels["team"] != "platform" || cm.Labels[LabelManagedBy] != ManagedBy || cm.Labels[LabelPolicy] != "psa-policy" {
		t.Errorf("labels after re-render: %v", cm.Labels)
	}
}

// TestPartNames: parts are named by the hash bucket they hold, and a namespace's bucket is the
// low bits of its hash.
func TestPartNames(t *testing.T) {
	if got := "psa" + partSuffix(5, 3); got != "psa-part-5-of-8" {
		t.Errorf("part name %q", got)
	}
	h := nsHash("web")
	for depth := range 8 {
		if idx := h & (1<<depth - 1); h%(1<<depth) != idx {
			t.Errorf("depth %d: bucket %d", depth, idx)
		}
	}
	if nsHash("web") == nsHash("web2") {
		t.Error("hash collision")
	}
}

func TestJSONLen(t *testing.T) {
	for _, s := range []string{"plain", "a\"b\\c\nd\te\r", "<tag>&", "\x01\x1f", "é ü 日本", "\u2028\u2029", "\xff\xfe"} {
		want, _ := json.Marshal(s)
		if got := jsonLen(s) + 2; got != len(want) {
			t.Errorf("jsonLen(%q) = %d, encoding/json writes %d", s, got, len(want))
		}
	}
}
