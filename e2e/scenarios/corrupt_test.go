package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// TestCorruptStateKeptAside: a state ConfigMap with garbage for a payload does not stop the
// webhook: it starts, logs the ConfigMap by name, counts it, copies it aside before reusing
// its slot, and learns on.
func TestCorruptStateKeptAside(t *testing.T) {
	r := install(t, installOptions{})
	name := r.Fullname + "-state-0"
	garbage := []byte("\x1f\x8bnot really gzip, and not JSON either")
	if err := r.c.Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: name, Labels: map[string]string{
			store.LabelState: r.Fullname, store.LabelShards: "1", store.LabelManagedBy: store.ManagedBy,
		}},
		BinaryData: map[string][]byte{store.PayloadKey: garbage},
	}); err != nil {
		t.Fatal(err)
	}

	w := r.Start(t, webhookOptions{}) // ready despite the corrupt shard
	harness.Eventually(t, 10*time.Second, "a log line naming the corrupt ConfigMap", func() error {
		for _, line := range strings.Split(w.Log(), "\n") {
			if strings.Contains(line, "ERROR") && strings.Contains(line, name) {
				return nil
			}
		}
		return fmt.Errorf("no ERROR line names %s", name)
	})
	if n := w.Metric(t, "pod_security_advisor_state_corrupt_total"); n < 1 {
		t.Errorf("pod_security_advisor_state_corrupt_total = %v", n)
	}

	ns := r.TestNamespace(t, "corrupt")
	apply(t, ns, userPod("one", 1001))
	r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/one") // every shard decodes again

	copies := &corev1.ConfigMapList{}
	if err := r.c.List(context.Background(), copies, client.InNamespace(r.Namespace), client.MatchingLabels{store.LabelCorrupt: r.Fullname}); err != nil {
		t.Fatal(err)
	}
	if len(copies.Items) != 1 {
		t.Fatalf("%d copies of the corrupt shard, want 1", len(copies.Items))
	}
	cp := copies.Items[0]
	if !strings.HasPrefix(cp.Name, name+"-corrupt-") || cp.Annotations[store.AnnotationCopiedFrom] != name ||
		!bytes.Equal(cp.BinaryData[store.PayloadKey], garbage) {
		t.Errorf("copy %s (annotations %v) is not the corrupt shard's content", cp.Name, cp.Annotations)
	}
	if !strings.Contains(w.Log(), cp.Name) {
		t.Errorf("the log does not name the copy %s", cp.Name)
	}

	// Learning goes on.
	apply(t, ns, userPod("two", 1002))
	r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/one", ns+"/Pod/two")
}
