package precision

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/internal/check"
	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// TestCheckAgreesWithAPIServer: `pod-security-advisor check`, given the enforced VAP learned
// from the minimal restricted pod, says of every valid PSA fixture (pass and fail, both levels)
// what the real API server says when the fixture is dry-run against that policy: denied or
// admitted. A fixture that adds one privilege to the learned pod makes check exit 1 and name
// the field.
func TestCheckAgreesWithAPIServer(t *testing.T) {
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
	ns := namespaces(t, c, "prec-check", 1, nil, "default")[0]
	v := learnPolicy(t, base.Pod, ns, render.FormatVAP)
	apply(t, c, []vap{v})
	waitInEffect(t, c, []vap{v}, []*corev1.Pod{probe(ns, "")})
	invalid := invalidFixtures(t, c)

	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	writeDocs(t, policy, v.policy.Object, v.binding.Object)

	var valid []psafixtures.Fixture
	var pods []any
	for _, f := range all {
		if _, bad := invalid[f.String()]; bad {
			continue
		}
		p := onNamespace(f.Pod, ns)
		p.APIVersion, p.Kind = "v1", "Pod"
		valid = append(valid, f)
		pods = append(pods, p)
	}
	manifests := filepath.Join(dir, "fixtures.yaml")
	writeDocs(t, manifests, pods...)

	res, code := runCheck(t, "--policy", policy, "-f", manifests, "-o", "json")
	if len(res.Workloads) != len(valid) {
		t.Fatalf("check reported %d workloads for %d fixtures", len(res.Workloads), len(valid))
	}
	want := 0
	if res.Denied > 0 {
		want = 1
	}
	if code != want {
		t.Errorf("exit status %d with %d denied, want %d", code, res.Denied, want)
	}
	verdicts := make([]outcome, len(valid))
	msgs := make([]string, len(valid))
	parallel(len(valid), func(i int) { verdicts[i], msgs[i] = dryRun(c, onNamespace(valid[i].Pod, ns), v.name()) })
	agree, located := 0, 0
	for i, f := range valid {
		server := verdicts[i] == deniedByPolicy || verdicts[i] == policyError
		offline := res.Workloads[i].Verdict == check.Denied
		if verdicts[i] != admitted && !server {
			t.Errorf("%s: the API server's answer is no policy verdict: %s", f, msgs[i])
			continue
		}
		if server != offline {
			t.Errorf("%s: the API server denies: %v (%s), check denies: %v (%+v)", f, server, msgs[i], offline, res.Workloads[i].Violations)
			continue
		}
		agree++
		for _, x := range res.Workloads[i].Violations {
			if len(x.Fields) > 0 {
				located++
				break
			}
		}
	}
	figure := fmt.Sprintf("check agrees with the API server on %d of %d valid fixtures (%d denied, %d of them with an offending field named; %d excluded as invalid)",
		agree, len(valid), res.Denied, located, len(all)-len(valid))
	t.Log(figure)
	fmt.Println("figure:", figure)

	// One privilege more than learned: exit 1, and the field named.
	p := onNamespace(base.Pod, ns)
	p.APIVersion, p.Kind, p.Spec.HostPID = "v1", "Pod", true
	one := filepath.Join(dir, "one.yaml")
	writeDocs(t, one, p)
	if _, code = runCheck(t, "--policy", policy, "-f", one); code != 1 {
		t.Errorf("one added privilege: exit status %d, want 1", code)
	}
	out, _, _ := harness.Run(t, "", harness.Advisor(t), "check", "--policy", policy, "-f", one)
	if !strings.Contains(out, "hostPID: true") || !strings.Contains(out, "1 workload: 1 denied") {
		t.Errorf("check of a pod with hostPID does not name it:\n%s", out)
	}
}

// runCheck runs check; with -o json it decodes the result. It returns the exit status.
func runCheck(t *testing.T, args ...string) (*check.Result, int) {
	t.Helper()
	out, stderr, err := harness.Run(t, "", harness.Advisor(t), append([]string{"check"}, args...)...)
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code == 2 {
		t.Fatalf("check: bad input: %s", stderr)
	}
	if !strings.Contains(strings.Join(args, " "), "-o json") {
		return nil, code
	}
	res := &check.Result{}
	if err := json.Unmarshal([]byte(out), res); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, out)
	}
	return res, code
}

func writeDocs(t *testing.T, path string, objs ...any) {
	t.Helper()
	var docs []string
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	if err := os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}
