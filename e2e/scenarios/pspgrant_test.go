package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// TestPSPGrant: the RBAC that the psp format writes with each PodSecurityPolicy is accepted by
// the real API server, and its authorizer says that exactly the service accounts a policy was
// learned for may use it (PSP itself is no longer served, so the policies are not applied).
func TestPSPGrant(t *testing.T) {
	c := harness.Client(t)
	ns := harness.Namespace(t, c, "pspgrant", nil)
	other := harness.Namespace(t, c, "pspgrant-other", nil)
	manifest := filepath.Join(t.TempDir(), "workloads.yaml")
	var docs []string
	for _, sa := range []string{"alpha", "beta"} {
		docs = append(docs, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      serviceAccountName: %[1]s
      containers: [{name: c, image: busybox:1.36}]
`, sa, ns))
	}
	if err := os.WriteFile(manifest, []byte(docs[0]+"---\n"+docs[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	sa := func(namespace, name string) string { return "system:serviceaccount:" + namespace + ":" + name }

	for _, tc := range []struct {
		scope string
		// may: for each policy (by its name's suffix after the namespace), who may use it, and
		// who may not.
		may, mayNot map[string][]string
	}{
		{render.ScopeCluster, map[string][]string{"cluster": {sa(ns, "alpha"), sa(other, "default")}}, map[string][]string{"cluster": {"alice"}}},
		{render.ScopeNamespace, map[string][]string{ns: {sa(ns, "alpha"), sa(ns, "beta")}}, map[string][]string{ns: {sa(other, "alpha"), "alice"}}},
		{render.ScopeServiceAccount,
			map[string][]string{ns + "-alpha": {sa(ns, "alpha")}, ns + "-beta": {sa(ns, "beta")}, ns + "-other-service-accounts": {sa(ns, "gamma"), sa(ns, "alpha")}},
			map[string][]string{ns + "-alpha": {sa(ns, "beta"), sa(other, "alpha")}, ns + "-beta": {sa(ns, "alpha")}, ns + "-other-service-accounts": {sa(other, "gamma")}}},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			out, stderr, err := harness.Run(t, "", harness.Advisor(t), "convert", "-f", manifest, "--format", render.FormatPSP, "--scope", tc.scope)
			if err != nil {
				t.Fatalf("convert: %v\n%s", err, stderr)
			}
			var policies []string
			dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
			for {
				u := &unstructured.Unstructured{}
				if err := dec.Decode(&u.Object); err != nil {
					break
				}
				if len(u.Object) == 0 {
					continue
				}
				if u.GetKind() == "PodSecurityPolicy" {
					policies = append(policies, u.GetName())
					continue
				}
				if err := c.Create(context.Background(), u); err != nil {
					t.Fatalf("the API server refused %s %s: %v", u.GetKind(), u.GetName(), err)
				}
				t.Cleanup(func() { _ = c.Delete(context.Background(), u) })
			}
			for suffix := range tc.may {
				if name := "pod-security-advisor-" + suffix; !slices.Contains(policies, name) {
					t.Fatalf("no policy %s among %v", name, policies)
				}
			}
			for want, who := range map[bool]map[string][]string{true: tc.may, false: tc.mayNot} {
				for suffix, users := range who {
					for _, user := range users {
						harness.Eventually(t, 10*time.Second, "RBAC in effect", func() error {
							podNS := ns // a service account's pods are in its namespace
							if saNS, _, err := serviceaccount.SplitUsername(user); err == nil {
								podNS = saNS
							}
							if got := mayUse(t, c, user, podNS, "pod-security-advisor-"+suffix); got != want {
								return fmt.Errorf("%s may use pod-security-advisor-%s: %v, want %v", user, suffix, got, want)
							}
							return nil
						})
					}
				}
			}
			t.Logf("FIGURE psp grant %s scope: %d policies, each usable by the service accounts it was learned for and by none of the others asked", tc.scope, len(policies))
		})
	}
}

// mayUse asks the API server's authorizer whether user may use the PodSecurityPolicy named
// policy for a pod in namespace ns, as PSP admission asked it (in the pod's namespace, so that
// RoleBindings count). Service account users are in their groups, as the authenticator puts
// them.
func mayUse(t *testing.T, c client.Client, user, ns, policy string) bool {
	t.Helper()
	groups := []string{"system:authenticated"}
	if saNS, _, err := serviceaccount.SplitUsername(user); err == nil {
		groups = append(groups, serviceaccount.AllServiceAccountsGroup, serviceaccount.MakeNamespaceGroupName(saNS))
	}
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: user, Groups: groups,
		ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Group: "policy", Resource: "podsecuritypolicies", Name: policy, Verb: "use"},
	}}
	if err := c.Create(context.Background(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}
