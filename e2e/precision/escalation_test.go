package precision

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// TestEscalationDenied: the VAP learned from the minimal restricted pod alone
// (restricted/v1.N/pass/base.yaml), bound with [Deny], denies every fail fixture of both
// levels: each asks for one privilege that pod never used. Every fixture, pass and fail, is
// also evaluated offline against that policy, and the verdicts compared.
func TestEscalationDenied(t *testing.T) { escalationDenied(t, render.FormatVAP, "escalation denial") }

// TestSharedEscalationDenied is TestEscalationDenied with the vap-shared rendering.
func TestSharedEscalationDenied(t *testing.T) {
	escalationDenied(t, render.FormatVAPShared, "shared escalation denial")
}

func escalationDenied(t *testing.T, format, figure string) {
	all, version := fixtures(t)
	var base *psafixtures.Fixture
	for i, f := range all {
		if f.Level == "restricted" && f.Pass && f.Name == "base" {
			base = &all[i]
		}
	}
	if base == nil {
		t.Fatalf("no restricted/%s/pass/base.yaml among the fixtures", version)
	}
	c := newClient(t)
	ns := namespaces(t, c, "prec-esc", 1, nil, "default")[0]
	v := learnPolicy(t, base.Pod, ns, format)
	apply(t, c, []vap{v})
	waitInEffect(t, c, []vap{v}, []*corev1.Pod{probe(ns, "")})
	if got, msg := dryRun(c, onNamespace(base.Pod, ns), v.name()); got != admitted {
		t.Fatalf("%s is not admitted by the policy learned from it: %s", base, msg)
	}

	ty := &tally{figure: figure, invalid: invalidFixtures(t, c)}
	off := newOffline(t, figure, ty.invalid, []vap{v})
	parallel(len(all), func(i int) {
		pod := onNamespace(all[i].Pod, ns)
		got, msg := dryRun(c, pod, v.name())
		off.compare(all[i].String(), 0, pod, got, msg)
		if all[i].Pass {
			return
		}
		reason := msg
		if got == admitted {
			reason = "admitted"
		}
		ty.record(all[i].String(), got == deniedByPolicy, reason)
	})
	ty.report(t, fmt.Sprintf("fail fixtures (baseline and restricted) denied by the %s policy learned from %s.yaml alone", format, base))
	off.report(t, fmt.Sprintf("fixtures (pass and fail) on which the offline evaluator's verdict on the policy learned from %s.yaml is the API server's", base))
}
