package scenarios

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/internal/rbac"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// TestUninstallKeepsLearning: `helm uninstall` keeps the state and policy ConfigMaps and
// cert-manager's Secrets, as NOTES.txt says, and `pod-security-advisor uninstall`, run with
// exactly the access internal/rbac gives the chart's uninstall hook, deletes them all.
func TestUninstallKeepsLearning(t *testing.T) {
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{})
	ns := r.TestNamespace(t, "app")
	apply(t, ns, hostPortPod("web", 8080))
	r.WaitWorkloads(t, 30*time.Second, ns+"/Pod/web")
	harness.Eventually(t, 10*time.Second, "policy published", func() error {
		if r.Policy(t)["report.json"] == "" {
			return errors.New("no report.json yet")
		}
		return nil
	})
	if err := w.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := harness.Run(t, "", harness.Bin(t, "helm"), "uninstall", r.Name, "-n", r.Namespace, "--wait", "--timeout", "60s"); err != nil {
		t.Fatal(err)
	}

	secrets := []string{r.Fullname + "-serving-cert", r.Fullname + "-ca"}
	left := leftovers(t, r, secrets)
	for _, want := range []string{"configmap/" + r.Fullname + "-state-0", "configmap/" + r.Fullname + "-policy", "secret/" + secrets[0], "secret/" + secrets[1]} {
		if !strings.Contains(left, want+"\n") {
			t.Errorf("helm uninstall did not keep %s; left:\n%s", want, left)
		}
	}

	// The hook's access, and nothing more.
	c := harness.Client(t)
	name := r.Fullname + "-uninstall"
	meta := metav1.ObjectMeta{Namespace: r.Namespace, Name: name}
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.Role{ObjectMeta: meta, Rules: rbac.UninstallRules(secrets)},
		&rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: r.Namespace, Name: name}}},
	} {
		if err := c.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := harness.Run(t, "", harness.Advisor(t), "uninstall", "--namespace="+r.Namespace, "--name="+r.Fullname,
		"--secrets="+strings.Join(secrets, ","), "--wait-for-pods=app.kubernetes.io/instance="+r.Name+",!app.kubernetes.io/component",
		"--kubeconfig="+harness.ServiceAccountKubeconfig(t, c, r.Namespace, name))
	if err != nil {
		t.Fatalf("uninstall: %v\n%s%s", err, out, stderr)
	}
	t.Logf("uninstall:\n%s", out)
	if left := leftovers(t, r, secrets); left != "" {
		t.Errorf("left after uninstall:\n%s", left)
	}
}

// leftovers lists, one a line, what the release's webhook and cert-manager wrote that is still there.
func leftovers(t *testing.T, r *Release, secrets []string) string {
	t.Helper()
	var b strings.Builder
	for _, selector := range []client.MatchingLabels{{store.LabelState: r.Fullname}, {store.LabelCorrupt: r.Fullname}, {policy.LabelPolicy: r.Fullname + "-policy"}} {
		var list corev1.ConfigMapList
		if err := r.c.List(context.Background(), &list, client.InNamespace(r.Namespace), selector); err != nil {
			t.Fatal(err)
		}
		for _, cm := range list.Items {
			b.WriteString("configmap/" + cm.Name + "\n")
		}
	}
	for _, name := range secrets {
		err := r.c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: name}, &corev1.Secret{})
		if err == nil {
			b.WriteString("secret/" + name + "\n")
		} else if !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	return b.String()
}
