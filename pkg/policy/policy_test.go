package policy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	syntheticpods "github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

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

func TestPublish(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().Build()
	p := &Publisher{Reader: c, Client: c, Namespace: "psa", Name: "psa-policy", Scope: "namespace"}
	agg := syntheticpods.Aggregate("r", 0, 30, 1)

	if err := p.Publish(ctx, agg); err != nil {
		t.Fatal(err)
	}
	cms := list(t, c)
	cm := cms["psa-policy"]
	if len(cms) != 1 || cm == nil {
		t.Fatalf("want one policy ConfigMap, got %d", len(cms))
	}
	for key := range Keys {
		if strings.TrimSpace(cm.Data[key]) == "" {
			t.Errorf("key %s empty", key)
		}
	}
	if !strings.Contains(cm.Data["README"], `kubectl get configmap psa-policy -n psa -o jsonpath='{.data.validating-admission-policy\.yaml}'`) {
		t.Errorf("README lacks the fetch command:\n%s", cm.Data["README"])
	}

	// Same learning: nothing is rewritten.
	rv := cm.ResourceVersion
	if err := p.Publish(ctx, agg); err != nil {
		t.Fatal(err)
	}
	if got := list(t, c)["psa-policy"].ResourceVersion; got != rv {
		t.Errorf("unchanged policy rewritten (resourceVersion %s → %s)", rv, got)
	}
}

func TestPublishSplitsAndJoins(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().Build()
	p := &Publisher{Reader: c, Client: c, Namespace: "psa", Name: "psa-policy", Scope: "namespace"}
	agg := syntheticpods.Aggregate("r", 0, 30, 1)

	defer func(old int) { MaxBytes = old }(MaxBytes)
	MaxBytes = 20 * 1024
	if err := p.Publish(ctx, agg); err != nil {
		t.Fatal(err)
	}
	cms := list(t, c)
	if len(cms) != 1+len(agg.Namespaces) {
		t.Fatalf("want the main ConfigMap and %d parts, got %d", len(agg.Namespaces), len(cms))
	}
	if readme := cms["psa-policy"].Data["README"]; !strings.Contains(readme, "is split") {
		t.Errorf("README does not say the policy is split:\n%s", readme)
	}
	for _, ns := range agg.NamespaceNames() {
		part := cms["psa-policy-ns-"+ns]
		if part == nil || part.Labels[LabelNamespace] != ns || !strings.Contains(part.Data["validating-admission-policy.yaml"], "pod-security-advisor-"+ns) {
			t.Fatalf("part for %s missing or wrong: %+v", ns, part)
		}
		for _, other := range agg.NamespaceNames() {
			if other != ns && strings.Contains(part.Data["validating-admission-policy.yaml"], "name: pod-security-advisor-"+other+"\n") {
				t.Errorf("part %s holds namespace %s", ns, other)
			}
		}
	}

	// It fits again: one ConfigMap, no stale parts.
	MaxBytes = 900 * 1024
	if err := p.Publish(ctx, aggregate.New("r")); err != nil {
		t.Fatal(err)
	}
	if cms := list(t, c); len(cms) != 1 {
		t.Errorf("stale parts left: %d ConfigMaps", len(cms))
	}
}

func TestPartName(t *testing.T) {
	long := strings.Repeat("n", 250)
	for _, ns := range []string{"web", long} {
		name := partName("psa-policy", ns)
		if len(name) > 253 || !strings.HasPrefix(name, "psa-policy-ns-") {
			t.Errorf("partName(%q) = %q", ns, name)
		}
	}
	if partName("p", long) == partName("p", long+"x") {
		t.Error("distinct namespaces share a part name")
	}
}

// TestPublishFitsOneNamespace: a rendering that cannot be split further (cluster scope) leaves
// out the report, then the PSP, with a note, and keeps the policies people apply.
func TestPublishFitsOneNamespace(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().Build()
	p := &Publisher{Reader: c, Client: c, Namespace: "psa", Name: "psa-policy", Scope: "cluster"}
	agg := syntheticpods.Aggregate("r", 0, 30, 1)
	data, err := p.Render(agg)
	if err != nil {
		t.Fatal(err)
	}
	full := data[0].Data
	defer func(old int) { MaxBytes = old }(MaxBytes)
	MaxBytes = size(full) - len(full["report.json"]) + 200
	if err := p.Publish(ctx, agg); err != nil {
		t.Fatal(err)
	}
	cm := list(t, c)["psa-policy"]
	if !strings.HasPrefix(cm.Data["report.json"], "# Left out:") || !strings.Contains(cm.Data["report.json"], "render --format report") {
		t.Errorf("report not replaced by a note: %.80q", cm.Data["report.json"])
	}
	for _, key := range []string{"validating-admission-policy.yaml", "pod-security-standards.yaml"} {
		if cm.Data[key] != full[key] {
			t.Errorf("%s changed although it fits", key)
		}
	}
	if size(cm.Data) > MaxBytes {
		t.Errorf("%d bytes over the %d limit", size(cm.Data), MaxBytes)
	}
}

// TestPublishKeepsUserLabels: re-rendering sets our labels and keeps the ones a user added.
func TestPublishKeepsUserLabels(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().Build()
	p := &Publisher{Reader: c, Client: c, Namespace: "psa", Name: "psa-policy", Scope: "namespace"}
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
	if cm.Labels["team"] != "platform" || cm.Labels["app.kubernetes.io/managed-by"] != "pod-security-advisor" {
		t.Errorf("labels after re-render: %v", cm.Labels)
	}
}
