package precision

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// Service accounts of the serviceaccount-scope test: the fixture runs as learnedSA, and a pod
// of otherSA in the same namespace is outside the learned policy.
const (
	learnedSA = "learned"
	otherSA   = "other"
)

// sampleEvery picks the serviceaccount-scope sample: every fifth fixture.
const sampleEvery = 5

// TestServiceAccountScope: on a sample, the VAP learned (serviceaccount scope) from one fixture
// running as a non-default service account admits that fixture, and matches only pods of that
// service account: the same pod, and the probe more privileged than any fixture, are admitted
// when they run as another service account of the namespace.
func TestServiceAccountScope(t *testing.T) {
	all, version := fixtures(t)
	var sample []psafixtures.Fixture
	for i := 0; i < len(all); i += sampleEvery {
		f := all[i]
		f.Pod = f.Pod.DeepCopy()
		f.Pod.Spec.ServiceAccountName = learnedSA
		f.Pod.Spec.DeprecatedServiceAccount = "" //nolint:staticcheck // cleared so the name alone decides
		sample = append(sample, f)
	}
	c := newClient(t)
	nss := namespaces(t, c, "prec-sa", len(sample), nil, learnedSA, otherSA)
	vaps := make([]vap, len(sample))
	probes := make([]*corev1.Pod, len(sample))
	for i, f := range sample {
		vaps[i] = learnVAP(t, f.Pod, nss[i], render.ScopeServiceAccount)
		conds, _, _ := unstructured.NestedSlice(vaps[i].policy.Object, "spec", "matchConditions")
		if len(conds) == 0 {
			t.Fatalf("%s: the serviceaccount-scope policy %s has no matchConditions", f, vaps[i].name())
		}
		probes[i] = probe(nss[i], learnedSA)
	}
	apply(t, c, vaps)
	// In effect: the probe of the learned service account is denied.
	waitInEffect(t, c, vaps, probes)

	self := &tally{figure: "serviceaccount self-admission", invalid: invalidFixtures(t, c)}
	scope := &tally{figure: "serviceaccount scope", invalid: invalidFixtures(t, c)}
	parallel(len(sample), func(i int) {
		f, ns, policy := sample[i], nss[i], vaps[i].name()
		got, msg := dryRun(c, onNamespace(f.Pod, ns), policy)
		self.record(f.String(), got == admitted, msg)

		other := onNamespace(f.Pod, ns)
		other.Spec.ServiceAccountName = otherSA
		if got, msg := dryRun(c, other, policy); got != admitted {
			scope.record(f.String(), false, "the pod as service account "+otherSA+" is not admitted: "+msg)
			return
		}
		if got, msg := dryRun(c, probe(ns, otherSA), policy); got != admitted {
			scope.record(f.String(), false, "the privileged probe as service account "+otherSA+" is not admitted: "+msg)
			return
		}
		scope.record(f.String(), true, "")
	})
	self.report(t, fmt.Sprintf("sampled fixtures of %s (every %dth, as service account %q) admitted by the VAP learned from each alone (serviceaccount scope, [Deny])", version, sampleEvery, learnedSA))
	scope.report(t, fmt.Sprintf("sampled policies that leave pods of service account %q alone (the same pod and a privileged probe admitted)", otherSA))
}
