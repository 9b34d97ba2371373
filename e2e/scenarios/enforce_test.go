package scenarios

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

// readmit returns a copy of a stored pod to create again: same spec (as admitted, with the
// service-account volume), new name, no owner.
func readmit(p *corev1.Pod) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name + "-again", Labels: p.Labels},
		Spec:       *p.Spec.DeepCopy(),
	}
}

// TestEnforcedPolicy: the ValidatingAdmissionPolicies rendered with --enforce from the state
// ConfigMaps are accepted by the API server (and type-check cleanly); with them bound in Deny
// mode the learned pods are admitted again and a privileged variant of one of them is denied.
// The learned Pod Security Standards labels, applied as the README says, draw no warnings.
func TestEnforcedPolicy(t *testing.T) {
	r := install(t, installOptions{})
	r.Start(t, webhookOptions{})
	web, infra := r.TestNamespace(t, "web"), r.TestNamespace(t, "infra")
	apply(t, web, webManifests())
	apply(t, infra, infraManifests())
	r.WaitWorkloads(t, 60*time.Second, web+"/Deployment/web", web+"/Pod/solo", infra+"/DaemonSet/agent", infra+"/StatefulSet/db")

	states := harness.Kubectl(t, "", "get", "configmap", "-n", r.Namespace, "-l", "pod-security-advisor.io/state="+r.Fullname, "-o", "json")
	vap, stderr, err := harness.Run(t, states, harness.Advisor(t), "render", "--format", "vap", "--enforce")
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Errorf("render: %s", stderr)
	}
	if n, m := strings.Count(vap, "\nkind: ValidatingAdmissionPolicy\n"), strings.Count(vap, "\nkind: ValidatingAdmissionPolicyBinding\n"); n != 2 || m != 2 {
		t.Fatalf("%d policies and %d bindings, want one of each per namespace:\n%s", n, m, vap)
	}
	if strings.Count(vap, "validationActions:\n  - Deny\n") != 2 {
		t.Fatalf("bindings are not [Deny]:\n%s", vap)
	}
	t.Cleanup(func() { harness.Run(t, vap, harness.Bin(t, "kubectl"), "delete", "--ignore-not-found", "-f", "-") })
	harness.Kubectl(t, vap, "apply", "-f", "-")

	for _, ns := range []string{web, infra} {
		name := "pod-security-advisor-" + ns
		harness.Eventually(t, 30*time.Second, "type checking of "+name, func() error {
			p := &admissionv1.ValidatingAdmissionPolicy{}
			if err := r.c.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
				return err
			}
			if p.Status.ObservedGeneration != p.Generation {
				return errors.New("not checked yet")
			}
			if tc := p.Status.TypeChecking; tc != nil && len(tc.ExpressionWarnings) > 0 {
				t.Fatalf("%s: type checking warnings: %+v", name, tc.ExpressionWarnings)
			}
			return nil
		})
	}

	pods := &corev1.PodList{}
	if err := r.c.List(context.Background(), pods, client.InNamespace(infra), client.MatchingLabels{"app": "agent"}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("agent pods: %v (%d)", err, len(pods.Items))
	}
	privileged := readmit(&pods.Items[0])
	privileged.Name = "agent-privileged"
	privileged.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: new(true)}
	// Policies take effect a moment after they are created.
	harness.Eventually(t, 30*time.Second, "the privileged variant of the agent is denied", func() error {
		err := r.c.Create(context.Background(), privileged.DeepCopy(), client.DryRunAll)
		switch {
		case err == nil:
			return errors.New("admitted")
		case !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err):
			return err
		case !strings.Contains(err.Error(), "pod-security-advisor-"+infra) || !strings.Contains(err.Error(), "privileged"):
			t.Fatalf("denied, but not by the learned policy's privileged rule: %v", err)
		}
		t.Logf("denied: %v", err)
		return nil
	})
	// One denial names every learned limit a pod exceeds (the API server shows only the first
	// failing validation's message).
	several := privileged.DeepCopy()
	several.Name = "agent-several"
	several.Spec.HostIPC = true
	several.Spec.Volumes = append(several.Spec.Volumes, corev1.Volume{Name: "etc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}})
	err = r.c.Create(context.Background(), several, client.DryRunAll)
	if err == nil {
		t.Fatal("a pod exceeding three learned limits was admitted")
	}
	for _, limit := range []string{"runs a privileged container", "uses hostIPC", "hostPaths (observed pods only use hostPath /var/log ro)"} {
		if !strings.Contains(err.Error(), limit) {
			t.Errorf("the denial does not name %q: %v", limit, err)
		}
	}
	t.Logf("denied with one message: %v", err)

	for _, ns := range []string{web, infra} {
		if err := r.c.List(context.Background(), pods, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) < 2 {
			t.Fatalf("namespace %s has %d pods", ns, len(pods.Items))
		}
		for i := range pods.Items {
			if err := r.c.Create(context.Background(), readmit(&pods.Items[i]), client.DryRunAll); err != nil {
				t.Errorf("learned pod %s/%s denied by its own policy: %v", ns, pods.Items[i].Name, err)
			}
		}
	}

	// The learned labels, as the README applies them. kubectl's own note about the missing
	// last-applied annotation (the namespaces were not created by apply) is not a PSA warning.
	pss := r.PolicyKey(t, "pod-security-standards.yaml")
	if !strings.Contains(pss, "name: "+web) || !strings.Contains(pss, "name: "+infra) {
		t.Fatalf("pod-security-standards.yaml lacks the namespaces:\n%s", pss)
	}
	_, stderr, err = harness.Run(t, pss, harness.Bin(t, "kubectl"), "apply", "--dry-run=server", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if w := warnings(stderr); len(w) > 0 {
		t.Errorf("applying the learned Pod Security Standards labels warns:\n%s", strings.Join(w, "\n"))
	}
	// The check can fail: a stricter level than learned does warn about the existing pods.
	_, stderr, err = harness.Run(t, "", harness.Bin(t, "kubectl"), "label", "--dry-run=server", "--overwrite", "namespace", infra, "pod-security.kubernetes.io/enforce=restricted")
	if err != nil {
		t.Fatal(err)
	}
	if w := warnings(stderr); len(w) == 0 {
		t.Errorf("enforce=restricted on %s drew no warning: %q", infra, stderr)
	}
}

// warnings are the "Warning:" lines of kubectl's stderr, except the last-applied note.
func warnings(stderr string) []string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "Warning:") && !strings.Contains(line, "last-applied-configuration") {
			out = append(out, line)
		}
	}
	return out
}
