package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

func userPod(name string, uid int) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  securityContext: {runAsUser: %d}
  containers: [{name: c, image: busybox:1.36}]
`, name, uid)
}

// waitAdmissions waits until the webhook has answered n pod CREATEs.
func waitAdmissions(t *testing.T, w *Webhook, n float64) {
	t.Helper()
	harness.Eventually(t, 60*time.Second, fmt.Sprintf("%s answers %v pod creates", w.Name, n), func() error {
		if got := w.Metric(t, "pod_security_advisor_admissions_total", "operation", "CREATE"); got < n {
			return fmt.Errorf("%v answered", got)
		}
		return nil
	})
}

// TestSIGTERMLosesNothing: with a flush interval of an hour nothing is saved while the webhook
// runs, so what is stored after SIGTERM is the final flush. A restarted webhook (which loads
// the state and backfills the same pods) leaves state and policy as they were, and learns on.
func TestSIGTERMLosesNothing(t *testing.T) {
	r := install(t, installOptions{})
	ns := r.TestNamespace(t, "restart")
	w1 := r.Start(t, webhookOptions{label: "webhook-1", replica: "r", backfill: true, args: []string{"--flush-interval=1h"}})
	apply(t, ns, webManifests())
	apply(t, ns, infraManifests())
	waitAdmissions(t, w1, 5) // 2 web replicas, solo, agent, db-0
	if cms := r.StateConfigMaps(t); len(cms) != 0 {
		t.Fatalf("state saved before SIGTERM despite --flush-interval=1h: %d ConfigMaps", len(cms))
	}
	start := time.Now()
	if err := w1.Stop(40 * time.Second); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	t.Logf("webhook exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))

	all := []string{ns + "/Deployment/web", ns + "/Pod/solo", ns + "/DaemonSet/agent", ns + "/StatefulSet/db"}
	agg, err := r.State(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := hasWorkloads(agg, all...); err != nil {
		t.Fatalf("state after SIGTERM: %v", err)
	}
	policy := r.Policy(t)
	for _, key := range all {
		if !strings.Contains(policy["validating-admission-policy.yaml"], key) {
			t.Fatalf("policy after SIGTERM does not name %s", key)
		}
	}
	before := learning(t, agg)

	w2 := r.Start(t, webhookOptions{label: "webhook-2", replica: "r", backfill: true})
	harness.Eventually(t, 30*time.Second, "backfill", func() error {
		if !strings.Contains(w2.Log(), "backfill done") {
			return fmt.Errorf("no backfill log line yet")
		}
		return nil
	})
	time.Sleep(3 * time.Second) // > --flush-interval: whatever the restart changes is saved by now
	agg, err = r.State(t)
	if err != nil {
		t.Fatal(err)
	}
	if after := learning(t, agg); after != before {
		t.Errorf("state learning changed across the restart:\nbefore %s\nafter %s", before, after)
	}
	now := r.Policy(t)
	for _, key := range []string{"pod-security-standards.yaml", "validating-admission-policy.yaml", "pod-security-policy.yaml"} {
		if now[key] != policy[key] {
			t.Errorf("policy key %s changed across the restart:\nbefore:\n%s\nafter:\n%s", key, policy[key], now[key])
		}
	}
	if a, b := withoutCounters(t, policy["report.json"]), withoutCounters(t, now["report.json"]); a != b {
		t.Errorf("report.json changed across the restart (counters aside):\nbefore %s\nafter %s", a, b)
	}

	apply(t, ns, userPod("late", 4242))
	agg = r.WaitWorkloads(t, 30*time.Second, append(all, ns+"/Pod/late")...)
	if !strings.Contains(learning(t, agg), "4242") {
		t.Error("the restarted webhook did not learn runAsUser 4242")
	}
}

// withoutCounters drops count, firstSeen and lastSeen from report.json: they count
// observations (backfill re-observes), they do not change what is allowed.
func withoutCounters(t *testing.T, report string) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(report), &doc); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "count")
			delete(v, "firstSeen")
			delete(v, "lastSeen")
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	data, _ := json.Marshal(doc)
	return string(data)
}

// TestSIGKILLLosesAtMostOneFlush: what was learned more than a flush interval before a
// SIGKILL is stored; what the kill lost is re-learned by the next start's backfill.
func TestSIGKILLLosesAtMostOneFlush(t *testing.T) {
	r := install(t, installOptions{})
	ns := r.TestNamespace(t, "kill")
	w1 := r.Start(t, webhookOptions{label: "webhook-1", replica: "r"})
	apply(t, ns, userPod("early", 1111))
	waitAdmissions(t, w1, 1)
	// No peeking at the state: one flush interval (1s) plus time for the save.
	time.Sleep(3 * time.Second)
	apply(t, ns, userPod("late", 2222))
	waitAdmissions(t, w1, 2)
	w1.Kill()
	agg, err := r.State(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := hasWorkloads(agg, ns+"/Pod/early"); err != nil {
		t.Fatalf("learned more than a flush interval before SIGKILL, yet not stored: %v", err)
	}
	t.Logf("stored at SIGKILL: Pod/late %v (learned just before the kill: may be lost)", workloads(agg)[ns+"/Pod/late"] != nil)

	r.Start(t, webhookOptions{label: "webhook-2", replica: "r", backfill: true})
	agg = r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/early", ns+"/Pod/late")
	if s := learning(t, agg); !strings.Contains(s, "1111") || !strings.Contains(s, "2222") {
		t.Errorf("after restart: runAsUser 1111 and 2222 not both learned:\n%s", s)
	}
}

// TestDeletedStateRecreated: a state ConfigMap deleted by hand is written again from memory,
// without waiting for new learning.
func TestDeletedStateRecreated(t *testing.T) {
	r := install(t, installOptions{})
	ns := r.TestNamespace(t, "deleted")
	r.Start(t, webhookOptions{})
	apply(t, ns, userPod("one", 1234))
	want := learning(t, r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/one"))
	for _, cm := range r.StateConfigMaps(t) {
		if err := r.c.Delete(context.Background(), &cm); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("deleted the state ConfigMaps")
	r.WaitState(t, 30*time.Second, "state recreated with what was learned", func(agg *aggregate.Aggregate) error {
		if got := learning(t, agg); got != want {
			return fmt.Errorf("state is %s", got)
		}
		return nil
	})
}
