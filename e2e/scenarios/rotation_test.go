package scenarios

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

// TestCertificateRotation: cert-manager reissues the serving certificate (its Secret was
// deleted), the test updates the certificate directory as the kubelet would, and the running
// webhook serves the new certificate, without a restart, and goes on learning through it.
func TestCertificateRotation(t *testing.T) {
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{})
	ns := r.TestNamespace(t, "rotate")
	apply(t, ns, userPod("before", 3001))
	r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/before")

	old, err := r.ServingSerial(t, w.Port)
	if err != nil {
		t.Fatal(err)
	}
	ca := r.servingSecret(t).Data["ca.crt"]
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Fullname + "-serving-cert"}}
	if err := r.c.Delete(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 60*time.Second, "cert-manager reissues the serving certificate", func() error {
		s := &corev1.Secret{}
		if err := r.c.Get(context.Background(), client.ObjectKeyFromObject(secret), s); err != nil {
			return err
		}
		if len(s.Data["tls.crt"]) == 0 || serial(t, s.Data["tls.crt"]).Cmp(old) == 0 {
			return fmt.Errorf("not reissued yet")
		}
		return nil
	})
	fresh := r.SyncCerts(t)
	harness.Eventually(t, 30*time.Second, "the webhook serves the new certificate", func() error {
		got, err := r.ServingSerial(t, w.Port)
		if err != nil {
			return err
		}
		if got.Cmp(fresh) != 0 {
			return fmt.Errorf("serving serial %x, want %x (old %x)", got, fresh, old)
		}
		return nil
	})
	if !w.Running() {
		t.Fatal("the webhook exited")
	}
	// Same CA: the injected caBundle stays valid, and the API server goes on calling us.
	if err := r.caInjected(ca); err != nil {
		t.Errorf("after rotation: %v", err)
	}
	// A new pod is held until it is seen stored: counted "held".
	learnedBefore := w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "held")
	apply(t, ns, userPod("after", 3002))
	r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/before", ns+"/Pod/after")
	if n := w.Metric(t, "pod_security_advisor_admissions_total", "outcome", "held"); n != learnedBefore+1 {
		t.Errorf("learned admissions %v → %v: the pod after rotation was not admitted through this webhook", learnedBefore, n)
	}
}
