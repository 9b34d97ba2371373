package precision

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// TestSelfAdmission: for every fixture, the VAP learned from that fixture alone (namespace
// scope, bound with [Deny] to a fresh namespace) admits it there, and the offline evaluator
// gives the API server's verdict on it.
func TestSelfAdmission(t *testing.T) { selfAdmission(t, render.FormatVAP, "self-admission") }

// TestSharedSelfAdmission is TestSelfAdmission with the vap-shared rendering: one policy for
// every fixture's namespace, each namespace carrying the values learned from its fixture.
func TestSharedSelfAdmission(t *testing.T) {
	selfAdmission(t, render.FormatVAPShared, "shared self-admission")
}

func selfAdmission(t *testing.T, format, figure string) {
	all, version := fixtures(t)
	c := newClient(t)
	nss := namespaces(t, c, "prec-self", len(all), nil, "default")
	vaps := make([]vap, len(all))
	probes := make([]*corev1.Pod, len(all))
	for i, f := range all {
		vaps[i] = learnPolicy(t, f.Pod, nss[i], format)
		probes[i] = probe(nss[i], "")
	}
	apply(t, c, vaps)
	waitInEffect(t, c, vaps, probes)

	ty := &tally{figure: figure, invalid: invalidFixtures(t, c)}
	off := newOffline(t, figure, ty.invalid, vaps)
	parallel(len(all), func(i int) {
		pod := onNamespace(all[i].Pod, nss[i])
		got, msg := dryRun(c, pod, vaps[i].name())
		ty.record(all[i].String(), got == admitted, msg)
		off.compare(all[i].String(), i, pod, got, msg)
	})
	ty.report(t, fmt.Sprintf("fixtures of %s admitted by the %s policy learned from each alone (namespace scope, [Deny])", version, format))
	off.report(t, fmt.Sprintf("fixtures of %s on which the offline evaluator's verdict is the API server's", version))
}
