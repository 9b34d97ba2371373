package precision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// The Gatekeeper figures run the real policy engine offline: gator (Gatekeeper's CLI, built by
// e2e/hack/tools.sh) evaluates the rendered constraints with the gatekeeper-library's own
// pod-security-policy templates against every fixture as the API server stores it (the object a
// server-side dry-run create returns: defaulted, with the ServiceAccount plugin's token volume).
// One gator invocation evaluates every fixture: each fixture's pod is in a namespace of its own,
// which its constraints match.

// gatekeeperLibrary is where the gatekeeper-library checkout is expected, beside the repository.
var gatekeeperLibrary = filepath.Join(harness.Root(), "..", "shared", "third_party", "gatekeeper-library", "library", "pod-security-policy")

// gatorEngines are the engines Gatekeeper evaluates the library's templates with: their CEL
// code (K8sNativeValidation, Gatekeeper's default) and their Rego (where CEL is turned off).
// Each figure is measured with both.
var gatorEngines = []struct {
	name string
	cel  bool
}{{"cel", true}, {"rego", false}}

// gatekeeperGaps are, per engine, the fail fixtures the constraints learned from the minimal
// restricted pod cannot deny, because the library template cannot say what that pod did not
// use. Asserted exactly: a new gap, or a gap closed, fails the test.
var gatekeeperGaps = map[string]map[string]string{
	"cel": {
		// The template's Rego checks each port; its CEL code only whether all of a container's are out of range.
		"restricted/v1.37/fail/hostports2": "K8sPSPHostNetworkingPorts (CEL) flags a container only if every one of its ports has an out-of-range hostPort; each container here also has a port without one",
	},
	"rego": {},
}

// gatorSetup returns the gator binary and the library's template files, or skips the test.
func gatorSetup(t *testing.T) (string, []string) {
	t.Helper()
	dir := os.Getenv("E2E_BIN")
	if dir == "" {
		dir = filepath.Join(harness.Root(), "e2e", "bin")
	}
	bin := filepath.Join(dir, "gator")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("gator is not built (run e2e/hack/tools.sh): %v", err)
	}
	templates, err := filepath.Glob(filepath.Join(gatekeeperLibrary, "*", "template.yaml"))
	if err != nil || len(templates) == 0 {
		t.Skipf("no gatekeeper-library templates in %s (a checkout of github.com/open-policy-agent/gatekeeper-library is expected there)", gatekeeperLibrary)
	}
	return bin, templates
}

// stored is pod as the API server would store it in ns (server-side dry-run create), renamed
// name, as YAML; "" and the error when the API server rejects it.
func stored(c client.Client, pod *corev1.Pod, ns, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := onNamespace(pod, ns)
	if err := c.Create(ctx, p, client.DryRunAll); err != nil {
		return "", err
	}
	p.Name = name
	p.APIVersion, p.Kind = "v1", "Pod"
	p.ManagedFields, p.UID, p.ResourceVersion, p.CreationTimestamp = nil, "", "", metav1.Time{}
	data, err := yaml.Marshal(p)
	return string(data), err
}

// gatorViolations runs `gator test` on the templates, constraints and pods and returns, per
// "namespace/name" of a pod, the violations ("Kind name: message"), sorted.
func gatorViolations(t *testing.T, bin string, cel bool, templates []string, constraints, pods []string) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"constraints.yaml": strings.Join(constraints, "\n---\n"), "pods.yaml": strings.Join(pods, "\n---\n")}
	args := []string{"test", "-o", "json", fmt.Sprintf("--enable-k8s-native-validation=%t", cel)}
	for _, tpl := range templates {
		args = append(args, "-f", tpl)
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-f", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run() // exits non-zero when a deny constraint is violated
	t.Logf("gator test (CEL %t): %d constraints, %d pods, %s", cel, len(constraints), len(pods), time.Since(start).Round(time.Millisecond))
	var results []struct {
		Msg        string `json:"msg"`
		Constraint struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"constraint"`
		Object struct {
			Metadata struct {
				Namespace string `json:"namespace"`
				Name      string `json:"name"`
			} `json:"metadata"`
		} `json:"violatingObject"`
	}
	if out := bytes.TrimSpace(stdout.Bytes()); len(out) > 0 {
		if jerr := json.Unmarshal(out, &results); jerr != nil {
			t.Fatalf("gator test output: %v (exit: %v)\n%s\n%s", jerr, err, out, stderr.Bytes())
		}
	}
	if err != nil && len(results) == 0 {
		t.Fatalf("gator test: %v\n%s", err, stderr.Bytes())
	}
	out := map[string][]string{}
	for _, r := range results {
		key := r.Object.Metadata.Namespace + "/" + r.Object.Metadata.Name
		out[key] = append(out[key], fmt.Sprintf("%s %s: %s", r.Constraint.Kind, r.Constraint.Metadata.Name, r.Msg))
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// TestGatekeeperSelfAdmission: for every fixture, the Gatekeeper constraints learned from that
// fixture alone (namespace scope, enforcementAction deny) admit it as the API server stores it.
func TestGatekeeperSelfAdmission(t *testing.T) {
	bin, templates := gatorSetup(t)
	all, version := fixtures(t)
	c := newClient(t)
	nss := namespaces(t, c, "prec-gk-self", len(all), nil, "default")
	invalid := invalidFixtures(t, c)
	pods := make([]string, len(all))
	errs := make([]error, len(all))
	parallel(len(all), func(i int) { pods[i], errs[i] = stored(c, all[i].Pod, nss[i], fixtureName(i)) })
	var constraints, inputs []string
	for i, f := range all {
		if _, bad := invalid[f.String()]; bad {
			continue
		}
		if errs[i] != nil {
			t.Fatalf("%s: the API server rejects it in namespace %s: %v", f, nss[i], errs[i])
		}
		inputs = append(inputs, pods[i])
		constraints = append(constraints, gatekeeperConstraints(t, f.Pod, nss[i])...)
	}
	for _, engine := range gatorEngines {
		t.Run(engine.name, func(t *testing.T) {
			ty := &tally{figure: "gatekeeper self-admission (" + engine.name + ")", invalid: invalid}
			violations := gatorViolations(t, bin, engine.cel, templates, constraints, inputs)
			for i, f := range all {
				v := violations[nss[i]+"/"+fixtureName(i)]
				ty.record(f.String(), len(v) == 0, strings.Join(v, "; "))
			}
			ty.report(t, fmt.Sprintf("fixtures of %s (as the API server stores them) admitted by gator with the gatekeeper constraints learned from each alone (namespace scope, deny)", version))
		})
	}
}

// TestGatekeeperEscalationDenied: the constraints learned from the minimal restricted pod deny
// every fail fixture of both levels, except the listed gaps no library template can close.
func TestGatekeeperEscalationDenied(t *testing.T) {
	bin, templates := gatorSetup(t)
	all, version := fixtures(t)
	var base *psafixtures.Fixture
	for i, f := range all {
		if f.Level == "restricted" && f.Pass && f.Name == "base" {
			base = &all[i]
		}
	}
	if base == nil {
		t.Fatalf("no restricted/%s/pass/base.yaml among the fixtures", version)
	}
	c := newClient(t)
	ns := namespaces(t, c, "prec-gk-esc", 1, nil, "default")[0]
	invalid := invalidFixtures(t, c)
	pods := make([]string, len(all))
	errs := make([]error, len(all))
	parallel(len(all), func(i int) { pods[i], errs[i] = stored(c, all[i].Pod, ns, fixtureName(i)) })
	var inputs []string
	for i, f := range all {
		if _, bad := invalid[f.String()]; !bad && errs[i] != nil {
			t.Fatalf("%s: the API server rejects it in namespace %s: %v", f, ns, errs[i])
		}
		if f == *base || !f.Pass && errs[i] == nil {
			inputs = append(inputs, pods[i])
		}
	}
	constraints := gatekeeperConstraints(t, base.Pod, ns)
	for _, engine := range gatorEngines {
		t.Run(engine.name, func(t *testing.T) {
			ty := &tally{figure: "gatekeeper escalation denial (" + engine.name + ")", invalid: invalid}
			violations := gatorViolations(t, bin, engine.cel, templates, constraints, inputs)
			if v := violations[ns+"/"+fixtureName(slices.IndexFunc(all, func(f psafixtures.Fixture) bool { return f == *base }))]; len(v) > 0 {
				t.Errorf("%s is not admitted by the constraints learned from it: %s", base, strings.Join(v, "; "))
			}
			gaps := escalationGaps(t, all, gatekeeperGaps[engine.name], func(i int) bool { return len(violations[ns+"/"+fixtureName(i)]) > 0 }, ty)
			ty.report(t, fmt.Sprintf("fail fixtures (baseline and restricted) denied by gator with the gatekeeper constraints learned from %s.yaml alone, besides %d the library templates cannot express", base, gaps))
		})
	}
}

// escalationGaps records in ty whether each fail fixture was denied, except the listed gaps,
// which it prints with their reasons and checks: each must be a fixture, and admitted. It
// returns how many there were.
func escalationGaps(t *testing.T, all []psafixtures.Fixture, listed map[string]string, denied func(i int) bool, ty *tally) int {
	t.Helper()
	var gaps []miss
	for i, f := range all {
		if f.Pass {
			continue
		}
		gap, isGap := listed[f.String()]
		switch {
		case isGap && denied(i):
			t.Errorf("%s is listed as a gap (%s) but is denied now: take it off gatekeeperGaps", f, gap)
		case isGap:
			gaps = append(gaps, miss{f.String(), gap})
		default:
			ty.record(f.String(), denied(i), "admitted")
		}
	}
	for fixture := range listed {
		if !slices.ContainsFunc(all, func(f psafixtures.Fixture) bool { return f.String() == fixture && !f.Pass }) {
			t.Errorf("gatekeeperGaps lists %s, which is no fail fixture: update the list", fixture)
		}
	}
	for _, m := range gaps {
		fmt.Printf("  not expressible: %s: %s\n", m.fixture, m.reason)
		t.Logf("not expressible: %s: %s", m.fixture, m.reason)
	}
	return len(gaps)
}

// gatekeeperConstraints are the enforcing constraints learned from pod in ns, one document each.
func gatekeeperConstraints(t *testing.T, pod *corev1.Pod, ns string) []string {
	t.Helper()
	var out []string
	for _, o := range decode(t, learn(t, pod, ns, render.Options{Format: render.FormatGatekeeper, Scope: render.ScopeNamespace, Enforce: true})) {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(data))
	}
	return out
}

// fixtureName names fixture i's pod in gator's input (fixture names repeat across levels).
func fixtureName(i int) string { return fmt.Sprintf("fixture-%d", i) }
