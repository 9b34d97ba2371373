package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := run(t, "", args...)
		if err != nil {
			t.Fatal(err)
		}
		if want := "pod-security-advisor dev (commit unknown, " + runtime.Version() + ")\n"; out != want {
			t.Errorf("%v: %q, want %q", args, out, want)
		}
	}
}

// Flags for formats that do not read them, and missing files, are errors that say so.
func TestInputErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"render", "--format", "pss", "--enforce"}, "--enforce does not apply to --format pss"},
		{[]string{"convert", "-f", "../../examples", "--format", "report", "--scope", "cluster"}, "--scope does not apply to --format report"},
		{[]string{"render", "-f", "no-such.json"}, "no-such.json: no such file"},
		{[]string{"summary", "-f", "no-such.json"}, "no-such.json: no such file"},
		{[]string{"convert", "-f", "no-such.yaml"}, "no-such.yaml: no such file"},
		{[]string{"render"}, "empty input"},
		{[]string{"check", "-f", "../../examples"}, "no policy"},
		{[]string{"check", "--policy", "no-such.json", "-f", "../../examples"}, "no-such.json: no such file"},
	} {
		_, _, err := run(t, "", c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
		var usage usageError
		if c.args[0] == "check" && !errors.As(err, &usage) {
			t.Errorf("%v: not a usage error (exit status 2)", c.args)
		}
	}
}

// Skipped documents are one line by kind; -v lists each; no pod template says so and renders
// the header only.
func TestSkippedAndEmpty(t *testing.T) {
	in := "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	out, stderr, err := run(t, in, "convert", "-f", "-", "--format", "pss")
	if err != nil {
		t.Fatal(err)
	}
	if want := "skipped 3 objects without pod templates: Service ×2, ConfigMap ×1 (-v lists them)\nno pod template in the input: nothing to learn or check\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if strings.Contains(out, "kind: Namespace") || !strings.HasPrefix(out, "#") {
		t.Errorf("want the header only:\n%s", out)
	}
	_, stderr, err = run(t, in, "convert", "-f", "-", "-v")
	if err != nil || strings.Count(stderr, "has no pod template") != 3 {
		t.Errorf("-v: %v\n%s", err, stderr)
	}
}

// check exits 1 (a silent exitCode after its report) when a workload would be denied.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	state, _, err := run(t, "", "convert", "-f", "../../examples", "--format", "aggregate")
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "state.json")
	if err := os.WriteFile(policy, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "", "check", "--policy", policy, "-f", "../../examples")
	if err != nil || !strings.HasSuffix(out, "3 workloads: 0 denied, 3 pass, 0 without a learned policy\n") {
		t.Errorf("the learned manifests: %v\n%s", err, out)
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {hostNetwork: true, containers: [{name: c, image: i}]}\n"
	out, _, err = run(t, pod, "check", "--policy", policy, "-f", "-")
	var code exitCode
	if !errors.As(err, &code) || code.code != 1 || !strings.Contains(out, "hostNetwork: true") {
		t.Errorf("a pod with hostNetwork: %v\n%s", err, out)
	}
}
