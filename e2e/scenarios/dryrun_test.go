package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

func hostPortPod(name string, port int) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers: [{name: c, image: busybox:1.36, ports: [{containerPort: 80, hostPort: %d}]}]
`, name, port)
}

// TestDryRunNotLearned: a `kubectl create --dry-run=server` pod reaches the webhook, is
// allowed, and is not learned: its distinctive hostPort never shows up in the state or the
// policy, though a real pod created after it is learned and flushed.
func TestDryRunNotLearned(t *testing.T) {
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{})
	ns := r.TestNamespace(t, "dry")

	harness.Kubectl(t, hostPortPod("dry", 31337), "create", "--dry-run=server", "-n", ns, "-f", "-")
	// The webhook answered it (rather than not being asked): counted as a dry run.
	if n := w.Metric(t, "pod_security_advisor_admissions_total", "operation", "CREATE", "outcome", "dry_run"); n != 1 {
		t.Fatalf("dry-run admissions counted: %v, want 1", n)
	}
	if out, _, err := harness.Run(t, "", harness.Bin(t, "kubectl"), "get", "pod", "dry", "-n", ns); err == nil {
		t.Fatalf("the dry-run pod exists: %s", out)
	}

	// A real pod, created after the dry run was answered: once it is flushed, a learned dry run
	// would have been flushed with it.
	apply(t, ns, hostPortPod("real", 8080))
	agg := r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/real")
	if w := workloads(agg)[ns+"/Pod/dry"]; w != nil {
		t.Errorf("dry-run pod learned: %+v", w)
	}
	if s := learning(t, agg); strings.Contains(s, "31337") || !strings.Contains(s, "8080") {
		t.Errorf("state: want hostPort 8080 and not 31337:\n%s", s)
	}
	harness.Eventually(t, 10*time.Second, "policy published", func() error {
		if !strings.Contains(r.Policy(t)["report.json"], "hostPort 8080") {
			return fmt.Errorf("report.json does not name hostPort 8080 yet")
		}
		return nil
	})
	for key, text := range r.Policy(t) {
		if strings.Contains(text, "31337") {
			t.Errorf("policy key %s mentions the dry-run hostPort 31337", key)
		}
	}
	// The real pod is new: held until seen stored, then confirmed; the dry run never is.
	if n := w.Metric(t, "pod_security_advisor_admissions_total", "operation", "CREATE", "outcome", "held"); n != 1 {
		t.Errorf("held admissions: %v, want 1 (the real pod)", n)
	}
	if n := w.Metric(t, "pod_security_advisor_confirmed_total"); n != 1 {
		t.Errorf("confirmed: %v, want 1 (the real pod)", n)
	}
}
