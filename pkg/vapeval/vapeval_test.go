package vapeval

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// policies is a stream of two policies (one with a match condition on the service account) and
// three bindings: one per namespace by its name label, one by another label, one unbound.
const policies = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-host-network}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  variables:
  - {name: hostNetwork, expression: "has(object.spec.hostNetwork) && object.spec.hostNetwork"}
  validations:
  - {expression: "!variables.hostNetwork", message: no host network}
  - {expression: "object.spec.containers.size() <= 1", message: one container}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: builder-only}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  matchConditions:
  - {name: sa, expression: "object.spec.serviceAccountName == 'builder'"}
  validations:
  - {expression: "namespaceObject.metadata.labels['tier'] == 'build'", message: builders build}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: a}
spec:
  policyName: no-host-network
  validationActions: [Deny]
  matchResources: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec:
  policyName: builder-only
  validationActions: [Warn]
  matchResources: {namespaceSelector: {matchLabels: {team: ci}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ci, labels: {team: ci, tier: test}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
`

func pod(ns, sa string, hostNetwork bool, containers int) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"}, Spec: corev1.PodSpec{ServiceAccountName: sa, HostNetwork: hostNetwork}}
	for range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c", Image: "i"})
	}
	return p
}

func TestSet(t *testing.T) {
	s, err := Read(strings.NewReader(policies))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		want    []string // policy: messages, of every decision
		denied  bool
		binding int
	}{
		{"admitted", pod("web", "default", false, 1), nil, false, 1},
		{"two failed validations", pod("web", "default", true, 2), []string{"no-host-network: no host network", "no-host-network: one container"}, true, 1},
		{"unbound namespace", pod("other", "default", true, 1), nil, false, 0},
		{"match condition excludes", pod("ci", "default", false, 1), nil, false, 1},
		{"warn only, namespaceObject read", pod("ci", "builder", false, 1), []string{"builder-only: builders build"}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := s.Evaluate(context.Background(), tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				for _, x := range d.Denials {
					got = append(got, d.Policy+": "+x.Message)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || Denied(ds) != tc.denied || len(ds) != tc.binding {
				t.Errorf("got %d decisions, denials %q, denied %t; want %d, %q, %t", len(ds), got, Denied(ds), tc.binding, tc.want, tc.denied)
			}
		})
	}
}

// TestCompileErrors: every expression that does not compile is named, in each part of a policy.
func TestCompileErrors(t *testing.T) {
	broken := strings.NewReplacer(
		`"has(object.spec.hostNetwork) && object.spec.hostNetwork"`, `"object.spec.("`,
		`"object.spec.containers.size() <= 1"`, `"object.spec.containers.sizee() <= 1"`,
		`"object.spec.serviceAccountName == 'builder'"`, `"object.spec.serviceAccountName == 1 +"`,
	).Replace(policies)
	_, err := Read(strings.NewReader(broken))
	if err == nil {
		t.Fatal("broken expressions compiled")
	}
	for _, want := range []string{"policy no-host-network: variable hostNetwork", "policy no-host-network: validations", "policy builder-only: match conditions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}

// TestCost: an evaluation has a cost, and a runtime error (a missing map key) is reported.
func TestCost(t *testing.T) {
	s, err := Read(strings.NewReader(policies))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Policies()["no-host-network"]
	ns := s.Namespace("web")
	small, err := p.Cost(context.Background(), pod("web", "", false, 1), ns)
	if err != nil {
		t.Fatal(err)
	}
	if small <= 0 {
		t.Errorf("cost %d", small)
	}
	if _, err := s.Policies()["builder-only"].Cost(context.Background(), pod("other", "builder", false, 1), s.Namespace("other")); err == nil {
		t.Error("no error for a label the namespace lacks")
	}
}
