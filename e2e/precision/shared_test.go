package precision

import (
	"fmt"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// agreementEvery picks the fixtures the agreement test learns from: every tenth.
const agreementEvery = 10

// TestSharedAgreesWithPerNamespace: vap-shared decides as vap does, on more than the pods a
// policy was learned from. The policies learned from a sample of fixtures, one namespace each,
// are applied in both renderings, and every fixture is created in every one of those
// namespaces: each (learned from, pod) pair must be admitted by both or denied by both.
func TestSharedAgreesWithPerNamespace(t *testing.T) {
	all, version := fixtures(t)
	var learned []int
	for i := 0; i < len(all); i += agreementEvery {
		learned = append(learned, i)
	}
	c := newClient(t)
	formats := []string{render.FormatVAP, render.FormatVAPShared}
	nss := make(map[string][]string, len(formats))
	vaps := make(map[string][]vap, len(formats))
	for _, format := range formats {
		nss[format] = namespaces(t, c, "prec-agree", len(learned), nil, "default")
		probes := make([]*corev1.Pod, len(learned))
		for k, i := range learned {
			vaps[format] = append(vaps[format], learnPolicy(t, all[i].Pod, nss[format][k], format))
			probes[k] = probe(nss[format][k], "")
		}
		apply(t, c, vaps[format])
		waitInEffect(t, c, vaps[format], probes)
	}

	ty := &tally{figure: "shared agreement", invalid: invalidFixtures(t, c)}
	var denied atomic.Int64
	parallel(len(learned)*len(all), func(n int) {
		k, j := n/len(all), n%len(all)
		var got [2]outcome
		var msgs [2]string
		for f, format := range formats {
			got[f], msgs[f] = dryRun(c, onNamespace(all[j].Pod, nss[format][k]), vaps[format][k].name())
		}
		agree := got[0] == got[1] && (got[0] == admitted || got[0] == deniedByPolicy)
		if agree && got[0] == deniedByPolicy {
			denied.Add(1)
		}
		ty.record(all[j].String(), agree, fmt.Sprintf("learned from %s: vap outcome %d (%s), vap-shared outcome %d (%s)",
			all[learned[k]], got[0], msgs[0], got[1], msgs[1]))
	})
	ty.report(t, fmt.Sprintf("(learned from, pod) pairs of %s fixtures where vap-shared and vap agree, %d of them denied by both (%d learned from, every fixture created in each)",
		version, denied.Load(), len(learned)))
}
