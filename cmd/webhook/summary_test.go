package main

import (
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestSummary: one line per learned namespace, whose level is the enforce label the pss format
// renders, with the checks blocking the next level, and a count of learned restrictions.
func TestSummary(t *testing.T) {
	state, _, err := run(t, "", "convert", "-f", "../../examples/", "--format", "aggregate")
	if err != nil {
		t.Fatal(err)
	}
	labels, _, err := run(t, state, "render", "--format", "pss")
	if err != nil {
		t.Fatal(err)
	}
	enforce := map[string]string{}
	for _, part := range yamlDocSeparator.Split(labels, -1) {
		var ns corev1.Namespace
		if err := yaml.Unmarshal([]byte(part), &ns); err != nil {
			t.Fatal(err)
		}
		if ns.Kind == "Namespace" {
			enforce[ns.Name] = ns.Labels["pod-security.kubernetes.io/enforce"]
		}
	}
	out, _, err := run(t, state, "summary")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "NAMESPACE") || len(lines)-1 != len(enforce) || len(enforce) < 2 {
		t.Fatalf("want a header and one line for each of %d namespaces:\n%s", len(enforce), out)
	}
	levels := map[string]bool{}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		ns, level, blocking := f[0], f[2], strings.Join(f[4:], " ")
		levels[level] = true
		if level != enforce[ns] {
			t.Errorf("%s: level %s, the pss format enforces %q", ns, level, enforce[ns])
		}
		if n, err := strconv.Atoi(f[3]); err != nil || n == 0 {
			t.Errorf("%s: restrictions %q", ns, f[3])
		}
		next := map[string]string{"privileged": "baseline: ", "baseline": "restricted: "}[level]
		if (level == "restricted") != (blocking == "-") || !strings.HasPrefix(blocking, next) {
			t.Errorf("%s (%s): blocking %q", ns, level, blocking)
		}
	}
	if len(levels) < 2 {
		t.Errorf("examples/ hold one level only (%v): the test would not see a wrong level", levels)
	}
}
