// Package rbac says which API access `pod-security-advisor serve` needs, derived from the code's
// own lists (the owner kinds pkg/owner watches), so the chart's Role and ClusterRole can be
// tested against it: a rule the code does not need is an over-grant, and fails that test.
package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

// ownerVerbs: the metadata-only informers list and watch the owner kinds, and a cache miss
// gets the one object from the API server (owner.CacheResolver.Live).
var ownerVerbs = []string{"get", "list", "watch"}

// ClusterRules is what serve needs in every namespace: list pods (the start-up backfill lists
// them page by page; admission reviews carry the pods themselves, so nothing watches them), get
// a pod that taught something new (learning is confirmed against the stored pod), list
// namespaces when namespace selector expressions bound backfill, and read the owners of pods.
func ClusterRules(namespaceSelector bool) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}
	if namespaceSelector {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}})
	}
	for _, gvk := range owner.Watched {
		// The owner kinds have regular plurals (replicasets, jobs); the chart test and the e2e
		// suite, whose webhook runs with exactly these grants, catch a wrong guess.
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{gvr.Group}, Resources: []string{gvr.Resource}, Verbs: ownerVerbs})
	}
	return rules
}

// NamespaceRules is what serve needs in its own namespace: the state store and the policy
// publisher read, watch, create and update their ConfigMaps, and delete stale policy parts.
// Their names are not known in advance (state shards, corrupt copies, policy parts), and
// create, list and watch cannot be restricted by name anyway.
func NamespaceRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
		Verbs: []string{"get", "list", "watch", "create", "update", "delete"}}}
}

// UninstallRules is what `pod-security-advisor uninstall` (the chart's opt-in post-delete hook)
// needs in the release namespace: list the webhook's pods to wait for them, list and delete
// the ConfigMaps serve wrote, and delete the named Secrets (by name only).
func UninstallRules(secrets []string) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "delete"}},
	}
	if len(secrets) > 0 {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: secrets, Verbs: []string{"delete"}})
	}
	return rules
}

// Grant is one verb on one resource of one API group, optionally of one name: rules compare as
// sets of grants, however they are grouped.
type Grant struct{ Group, Resource, Name, Verb string }

func (g Grant) String() string {
	s := fmt.Sprintf("%s %s", g.Verb, g.Resource)
	if g.Group != "" {
		s += "." + g.Group
	}
	if g.Name != "" {
		s += "/" + g.Name
	}
	return s
}

// Grants expands rules into their sorted, distinct grants.
func Grants(rules []rbacv1.PolicyRule) []Grant {
	var out []Grant
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					for _, v := range r.Verbs {
						out = append(out, Grant{g, res, n, v})
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Grant) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// Compare returns what granted has beyond needed (over-grants; a wildcard is one) and what it
// lacks.
func Compare(granted, needed []rbacv1.PolicyRule) (excess, missing []Grant) {
	have, want := Grants(granted), Grants(needed)
	for _, g := range have {
		if !slices.Contains(want, g) {
			excess = append(excess, g)
		}
	}
	for _, g := range want {
		if !slices.Contains(have, g) {
			missing = append(missing, g)
		}
	}
	return excess, missing
}
