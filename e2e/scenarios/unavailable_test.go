package scenarios

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

// timedCreate creates a pod through the API and returns how long the request took.
func timedCreate(t *testing.T, c client.Client, ns, name string) time.Duration {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	start := time.Now()
	if err := c.Create(context.Background(), pod); err != nil {
		t.Fatalf("pod %s not admitted: %v", name, err)
	}
	return time.Since(start)
}

// TestWebhookDownPodsAdmitted: with failurePolicy Ignore, pods are admitted when the webhook
// hangs (the API server waits at most timeoutSeconds) and when it is gone (refused at once).
func TestWebhookDownPodsAdmitted(t *testing.T) {
	const timeout = 2 * time.Second
	const margin = 3 * time.Second
	r := install(t, installOptions{timeoutSeconds: int(timeout.Seconds())})
	w := r.Start(t, webhookOptions{})
	ns := r.TestNamespace(t, "down")

	d := timedCreate(t, r.c, ns, "up")
	waitAdmissions(t, w, 1)
	t.Logf("webhook up: create took %s", d.Round(time.Millisecond))

	// Hung: the kernel still accepts connections on the webhook's port, nothing answers.
	if err := w.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// A create may also come back at once, when the API server's kept-alive connection to the
	// webhook turns out dead (an error, so failurePolicy Ignore admits): that proves nothing about
	// waiting, so up to three creates are made and one must have waited for the timeout.
	longest := time.Duration(0)
	for i := range 3 {
		d = timedCreate(t, r.c, ns, fmt.Sprintf("hung-%d", i))
		t.Logf("webhook hung: create took %s (timeoutSeconds %s)", d.Round(time.Millisecond), timeout)
		if d > timeout+margin {
			t.Errorf("create took %s, more than timeoutSeconds %s + %s", d, timeout, margin)
		}
		longest = max(longest, d)
		if longest >= timeout-500*time.Millisecond {
			break
		}
	}
	if longest < timeout-500*time.Millisecond {
		t.Errorf("longest create took %s: the API server never waited for the hung webhook (is it selected?)", longest)
	}
	if err := w.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	// Gone: connection refused.
	if err := w.Stop(40 * time.Second); err != nil {
		t.Fatal(err)
	}
	d = timedCreate(t, r.c, ns, "stopped")
	t.Logf("webhook stopped: create took %s", d.Round(time.Millisecond))
	if d > timeout+margin {
		t.Errorf("create took %s, more than timeoutSeconds %s + %s", d, timeout, margin)
	}
	// Controllers' pods too.
	apply(t, ns, webManifests())
	harness.Eventually(t, 60*time.Second, "the Deployment's pods are admitted", func() error {
		pods := &corev1.PodList{}
		if err := r.c.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return err
		}
		if len(pods.Items) != 2 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		return nil
	})
}
