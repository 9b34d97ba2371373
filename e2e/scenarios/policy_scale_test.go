package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	syntheticpods "github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// TestPolicyAtScale publishes the policy of large synthetic states (100,000 workloads in 5,000
// namespaces, 50,000 in 10) to the real API server, which must accept every part, and runs the
// commands the README prints (kubectl, and `pod-security-advisor render` for what was left out)
// exactly as printed. The state is saved too, as the webhook would, so the render commands read
// real state ConfigMaps.
func TestPolicyAtScale(t *testing.T) {
	c := harness.Client(t)
	bin := filepath.Dir(harness.Advisor(t))
	for _, sc := range []struct{ workloads, namespaces int }{{100_000, 5_000}, {50_000, 10}} {
		t.Run(fmt.Sprintf("%dk-in-%d", sc.workloads/1000, sc.namespaces), func(t *testing.T) {
			ctx := context.Background()
			ns := harness.Namespace(t, c, "policy-scale", nil)
			agg := syntheticpods.Spread("e2e", sc.workloads, sc.namespaces)
			st, err := store.New(store.Options{Namespace: ns, Name: "psa", Reader: c, Client: c})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Save(ctx, agg); err != nil {
				t.Fatal(err)
			}
			p := &policy.Publisher{Reader: c, Client: c, Namespace: ns, Name: "psa-policy", Scope: "namespace"}
			start := time.Now()
			if err := p.Publish(ctx, agg); err != nil {
				t.Fatalf("publishing: %v", err)
			}
			took := time.Since(start)
			cms := policyConfigMaps(t, c, ns)
			largest, total := 0, 0
			for _, cm := range cms {
				size := dataBytes(cm)
				largest, total = max(largest, size), total+size
			}
			t.Logf("FIGURE policy %s: %d ConfigMaps accepted by the API server, largest %d bytes, total %d bytes, first publish %.1fs",
				t.Name(), len(cms), largest, total, took.Seconds())

			// Every namespace is in one part, found by its label as the README says.
			held := map[string]string{}
			for _, cm := range cms {
				for k := range cm.Labels {
					if name, ok := strings.CutPrefix(k, policy.LabelNamespacePrefix); ok {
						held[name] = cm.Name
					}
				}
			}
			if len(held) != len(agg.Namespaces) {
				t.Errorf("%d namespaces labelled in parts, want %d", len(held), len(agg.Namespaces))
			}
			probe := agg.NamespaceNames()[len(agg.Namespaces)/2]
			vap := harness.Kubectl(t, "", "get", "configmap", "-n", ns, "-l", policy.LabelNamespacePrefix+probe,
				"-o", `jsonpath={.items[0].data.validating-admission-policy\.yaml}`)
			readme := cms["psa-policy"].Data[policy.ReadmeKey]
			if !strings.Contains(vap, "name: pod-security-advisor-"+probe+"\n") && !strings.Contains(readme, "validating-admission-policy.yaml: all namespaces") {
				t.Errorf("the part labelled %s has no VAP for it:\n%.300s", probe, vap)
			}

			// Every part's PSS labels at once, with the README's command: every namespace, once.
			pss := harness.Kubectl(t, "", "get", "configmap", "-n", ns, "-l", policy.LabelPolicy+"=psa-policy",
				"-o", `jsonpath={range .items[*]}{.data.pod-security-standards\.yaml}{end}`)
			var labelled []string
			for _, doc := range strings.Split(pss, "\n---\n") {
				var n corev1.Namespace
				if err := yaml.Unmarshal([]byte(doc), &n); err == nil && n.Kind == "Namespace" {
					labelled = append(labelled, n.Name)
				}
			}
			slices.Sort(labelled)
			if !slices.Equal(labelled, agg.NamespaceNames()) {
				t.Errorf("all parts' PSS labels name %d namespaces, want %d", len(labelled), len(agg.Namespaces))
			}

			// What was left out renders with the command its note prints.
			if cmd := noteCommand(cms); cmd != "" {
				start := time.Now()
				out := runShell(t, bin, cmd)
				t.Logf("FIGURE policy %s: a note's command printed %d bytes in %.1fs: %s", t.Name(), len(out), time.Since(start).Seconds(), cmd)
				if strings.Contains(cmd, "--format report") && !json.Valid([]byte(out)) {
					t.Errorf("%s printed no JSON report: %.200q", cmd, out)
				}
			}

			// One namespace changes: its part alone is written.
			before := versions(cms)
			for _, n := range syntheticpods.Aggregate("e2e", 10_000_000, 1, 3).Namespaces {
				for k, w := range n.Workloads {
					agg.Namespaces[probe].Workloads[k] = w
				}
			}
			start = time.Now()
			if err := p.Publish(ctx, agg); err != nil {
				t.Fatal(err)
			}
			took = time.Since(start)
			after := policyConfigMaps(t, c, ns)
			var rewritten []string
			written := 0
			for name, cm := range after {
				if before[name] != cm.ResourceVersion {
					rewritten = append(rewritten, name)
					written += dataBytes(cm)
				}
			}
			t.Logf("FIGURE policy %s: one namespace changed, %d ConfigMaps rewritten (%d bytes) in %.1fs",
				t.Name(), len(rewritten), written, took.Seconds())
			if len(after) == len(cms) && !slices.Equal(rewritten, []string{held[probe]}) {
				t.Errorf("rewritten %v, want only %s", rewritten, held[probe])
			}

			// A deleted part is written again although nothing changed.
			if err := c.Delete(ctx, after[held[probe]]); err != nil {
				t.Fatal(err)
			}
			if err := p.Publish(ctx, agg); err != nil {
				t.Fatal(err)
			}
			if again := policyConfigMaps(t, c, ns); again[held[probe]] == nil {
				t.Errorf("deleted part %s not written again", held[probe])
			}
		})
	}
}

func policyConfigMaps(t *testing.T, c client.Client, ns string) map[string]*corev1.ConfigMap {
	t.Helper()
	list := &corev1.ConfigMapList{}
	if err := c.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{policy.LabelPolicy: "psa-policy"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*corev1.ConfigMap{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func dataBytes(cm *corev1.ConfigMap) int {
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	return n
}

func versions(cms map[string]*corev1.ConfigMap) map[string]string {
	out := map[string]string{}
	for name, cm := range cms {
		out[name] = cm.ResourceVersion
	}
	return out
}

// noteCommand is the render command of the first note left in a part, in name order.
func noteCommand(cms map[string]*corev1.ConfigMap) string {
	for _, name := range slices.Sorted(maps.Keys(cms)) {
		for _, key := range slices.Sorted(maps.Keys(policy.Keys)) {
			if _, cmd, ok := strings.Cut(cms[name].Data[key], "# Left out: "); ok {
				if _, line, ok := strings.Cut(cmd, "\n#   "); ok {
					return strings.TrimSpace(line)
				}
			}
		}
	}
	return ""
}

// runShell runs a command line as printed, with kubectl and pod-security-advisor on PATH.
func runShell(t *testing.T, bin, line string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", line)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+harness.Kubeconfig(t),
		"PATH="+bin+string(os.PathListSeparator)+filepath.Dir(harness.Bin(t, "kubectl"))+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return string(out)
}
