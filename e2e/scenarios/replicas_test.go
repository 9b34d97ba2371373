package scenarios

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

// addWebhookEntry adds a copy of the release's webhook that sends the pods of namespaces
// labelled with selector to port.
func (r *Release) addWebhookEntry(t *testing.T, name, selector string, port int) {
	t.Helper()
	vwc := &admissionv1.ValidatingWebhookConfiguration{}
	if err := r.c.Get(context.Background(), client.ObjectKey{Name: r.Fullname}, vwc); err != nil {
		t.Fatal(err)
	}
	wh := vwc.Webhooks[0].DeepCopy()
	wh.Name = name
	url := fmt.Sprintf("https://127.0.0.1:%d/validate-pods", port)
	wh.ClientConfig.URL = &url
	found := false
	for i, e := range wh.NamespaceSelector.MatchExpressions {
		if e.Key == labelRelease {
			wh.NamespaceSelector.MatchExpressions[i].Values = []string{selector}
			found = true
		}
	}
	if !found {
		t.Fatalf("the chart's namespaceSelector lacks webhook.namespaceSelectorExpressions: %+v", wh.NamespaceSelector)
	}
	vwc.Webhooks = append(vwc.Webhooks, *wh)
	if err := r.c.Update(context.Background(), vwc); err != nil {
		t.Fatal(err)
	}
}

// TestTwoWebhooksShareOneState: two webhook processes with the same state (same --name and
// namespace), each sent the pods of its own namespaces by its own webhook entry, learn at the
// same time. Both save every second into the same ConfigMaps; in the end the state holds what
// both learned, and each process holds (and renders) all of it.
func TestTwoWebhooksShareOneState(t *testing.T) {
	r := install(t, installOptions{})
	portB := harness.FreePort(t)
	r.addWebhookEntry(t, "pods-b.pod-security-advisor.io", r.Name+"-b", portB)
	wa := r.Start(t, webhookOptions{label: "webhook-a"})
	wb := r.Start(t, webhookOptions{label: "webhook-b", port: portB})

	const perGroup = 9
	groups := map[string][]string{}
	for i := range 3 {
		groups["a"] = append(groups["a"], r.TestNamespace(t, fmt.Sprintf("a%d", i)))
		groups["b"] = append(groups["b"], r.TestNamespace(t, fmt.Sprintf("b%d", i), r.Name+"-b"))
	}
	kubectl := harness.Bin(t, "kubectl")
	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, 2*perGroup)
	for g, base := range map[string]int{"a": 10000, "b": 20000} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One pod every 250 ms, each teaching something new (its own UID), so both processes
			// flush again and again while the other does too.
			for i := range perGroup {
				ns := groups[g][i%3]
				_, _, err := harness.Run(t, userPod(fmt.Sprintf("%s%d", g, i), base+i), kubectl, "apply", "-n", ns, "-f", "-")
				if err != nil {
					errs <- err
				}
				time.Sleep(250 * time.Millisecond)
			}
		}()
		for i := range perGroup {
			want = append(want, fmt.Sprintf("%s/Pod/%s%d", groups[g][i%3], g, i))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	agg := r.WaitWorkloads(t, 60*time.Second, want...)
	if n := len(workloads(agg)); n != 2*perGroup {
		t.Errorf("state holds %d workloads, want %d", n, 2*perGroup)
	}
	s := learning(t, agg)
	for g, base := range map[string]int{"a": 10000, "b": 20000} {
		for i := range perGroup {
			if !strings.Contains(s, fmt.Sprint(base+i)) {
				t.Errorf("group %s: runAsUser %d lost", g, base+i)
			}
		}
	}
	// Each process was sent only its own namespaces' pods...
	for _, w := range []*Webhook{wa, wb} {
		if n := w.Metric(t, "pod_security_advisor_admissions_total", "operation", "CREATE"); n != perGroup {
			t.Errorf("%s answered %v pod creates, want %d", w.Name, n, perGroup)
		}
	}
	// ...and holds everything, joined from the other's saves.
	for _, w := range []*Webhook{wa, wb} {
		harness.Eventually(t, 30*time.Second, w.Name+" holds every workload", func() error {
			if n := w.Metric(t, "pod_security_advisor_workloads"); n != 2*perGroup {
				return fmt.Errorf("%v workloads", n)
			}
			return nil
		})
	}
	t.Logf("save conflicts: a %v, b %v; state writes: a %v, b %v",
		wa.Metric(t, "pod_security_advisor_state_conflicts_total"), wb.Metric(t, "pod_security_advisor_state_conflicts_total"),
		wa.Metric(t, "pod_security_advisor_state_writes_total"), wb.Metric(t, "pod_security_advisor_state_writes_total"))
	harness.Eventually(t, 30*time.Second, "the policy names every workload", func() error {
		vap := r.Policy(t)["validating-admission-policy.yaml"]
		for _, w := range want {
			if !strings.Contains(vap, w) {
				return fmt.Errorf("missing %s", w)
			}
		}
		return nil
	})

	// Both stop with a final save each; still nothing lost.
	for _, w := range []*Webhook{wa, wb} {
		if err := w.Stop(40 * time.Second); err != nil {
			t.Errorf("%s: %v", w.Name, err)
		}
	}
	agg, err := r.State(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := learning(t, agg); got != s {
		t.Errorf("state changed by the final saves:\nbefore %s\nafter %s", s, got)
	}
}
