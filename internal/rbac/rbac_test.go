package rbac

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

func TestClusterRulesFollowWatched(t *testing.T) {
	grants := Grants(ClusterRules(false))
	for _, gvk := range owner.Watched {
		resource := strings.ToLower(gvk.Kind) + "s"
		for _, verb := range ownerVerbs {
			if !slices.Contains(grants, Grant{Group: gvk.Group, Resource: resource, Verb: verb}) {
				t.Errorf("no %s on %s.%s, which pkg/owner watches", verb, resource, gvk.Group)
			}
		}
	}
	if want := 2 + len(owner.Watched)*len(ownerVerbs); len(grants) != want {
		t.Errorf("%d grants, want %d (pods get and list, and the watched kinds): %v", len(grants), want, grants)
	}
	namespaces := Grant{Resource: "namespaces", Verb: "list"}
	if slices.Contains(grants, namespaces) {
		t.Error("namespaces listed without a namespace selector")
	}
	if !slices.Contains(Grants(ClusterRules(true)), namespaces) {
		t.Error("no list on namespaces, which backfill needs under a namespace selector")
	}
}

func TestCompare(t *testing.T) {
	need := []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get", "list"}}}
	for _, tc := range []struct {
		name            string
		granted         []rbacv1.PolicyRule
		excess, missing string
	}{
		{"same, grouped otherwise", []rbacv1.PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list"}},
			{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get", "list"}},
		}, "", ""},
		{"over-grant", []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"replicasets", "deployments"}, Verbs: []string{"get", "list"}}},
			"get deployments.apps list deployments.apps", ""},
		{"wildcard", []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"*"}}},
			"* replicasets.apps", "get replicasets.apps list replicasets.apps"},
		{"by name is not the same", []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, ResourceNames: []string{"a"}, Verbs: []string{"get", "list"}}},
			"get replicasets.apps/a list replicasets.apps/a", "get replicasets.apps list replicasets.apps"},
	} {
		excess, missing := Compare(tc.granted, need)
		if got := join(excess); got != tc.excess {
			t.Errorf("%s: excess %q, want %q", tc.name, got, tc.excess)
		}
		if got := join(missing); got != tc.missing {
			t.Errorf("%s: missing %q, want %q", tc.name, got, tc.missing)
		}
	}
}

func join(grants []Grant) string {
	var s []string
	for _, g := range grants {
		s = append(s, g.String())
	}
	return strings.Join(s, " ")
}
