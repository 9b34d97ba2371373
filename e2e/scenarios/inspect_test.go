package scenarios

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

// TestInspectAgreesWithConvert: once the scenario workloads run, `inspect` of each namespace
// of the real control plane (read-only, pods and owners listed) prints the same policy as
// `convert` of their manifests: the same workloads (a Deployment's pods are the Deployment's,
// a Job created from a CronJob under another name is the CronJob's) with the same attributes.
// The webhook is not installed. The DaemonSet is left out: without nodes it has no pods.
// inspect runs with the read-only access the README documents and no more, in the
// kubeconfig context's namespace.
func TestInspectAgreesWithConvert(t *testing.T) {
	c := harness.Client(t)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-security-advisor-inspect-" + rand.String(5)},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
			{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list"}},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"list"}},
		},
	}
	if err := c.Create(context.Background(), role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), role) })
	var infra []string
	for _, doc := range strings.Split(infraManifests(), "\n---\n") {
		if !strings.Contains(doc, "kind: DaemonSet") {
			infra = append(infra, doc)
		}
	}
	cases := []struct {
		prefix, manifests string
		pods              int
		after             func(ns string)
	}{
		{"inspect-web", webManifests(), 3, nil},
		{"inspect-batch", batchManifests(), 2, func(ns string) {
			harness.Kubectl(t, "", "create", "job", "nightly-manual", "--from=cronjob/nightly", "-n", ns)
		}},
		{"inspect-infra", strings.Join(infra, "\n---\n"), 1, nil},
	}
	for _, tc := range cases {
		ns := harness.Namespace(t, c, tc.prefix, nil)
		apply(t, ns, tc.manifests)
		if tc.after != nil {
			tc.after(ns)
		}
		harness.Eventually(t, 90*time.Second, "pods of "+ns, func() error {
			out := harness.Kubectl(t, "", "get", "pods", "-n", ns, "-o", "name")
			if n := strings.Count(out, "pod/"); n < tc.pods {
				return fmt.Errorf("%d of %d pods", n, tc.pods)
			}
			return nil
		})
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "inspector"}}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "inspector"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa.Name}},
		}
		for _, obj := range []client.Object{sa, binding} {
			if err := c.Create(context.Background(), obj); err != nil {
				t.Fatal(err)
			}
		}
		kubeconfig := harness.ServiceAccountKubeconfig(t, c, ns, sa.Name)
		for _, format := range []string{"vap", "psp"} {
			want, _, err := harness.Run(t, tc.manifests, harness.Advisor(t), "convert", "-f", "-", "-n", ns, "--format", format)
			if err != nil {
				t.Fatal(err)
			}
			got, stderr, err := harness.Run(t, "", harness.Advisor(t), "inspect", "--kubeconfig", kubeconfig, "--format", format)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s --format %s: inspect differs from convert (stderr %q)\ninspect:\n%s\nconvert:\n%s", ns, format, stderr, got, want)
			}
		}
	}
}
