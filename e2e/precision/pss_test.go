package precision

import (
	"fmt"
	"testing"

	psaapi "k8s.io/pod-security-admission/api"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// TestPSSAgreement: for every fixture, the enforce level `--format pss` recommends for a
// namespace holding only that pod agrees with the API server's Pod Security admission: the pod
// is admitted under that level and, unless it is restricted already, rejected under the next
// stricter one. One namespace per level serves all fixtures (dry runs store nothing).
func TestPSSAgreement(t *testing.T) {
	all, version := fixtures(t)
	levels := []psaapi.Level{psaapi.LevelPrivileged, psaapi.LevelBaseline, psaapi.LevelRestricted}
	recommended := make([]psaapi.Level, len(all))
	for i, f := range all {
		recommended[i] = pssLevel(t, f.Pod.Name, learn(t, f.Pod, "prec-pss", render.Options{Format: render.FormatPSS}))
	}
	c := newClient(t)
	nss := namespaces(t, c, "prec-pss", len(levels), func(i int) map[string]string {
		return map[string]string{
			psaapi.EnforceLevelLabel:   string(levels[i]),
			psaapi.EnforceVersionLabel: psaapi.VersionLatest,
		}
	}, "default")
	nsOf := map[psaapi.Level]string{}
	for i, l := range levels {
		nsOf[l] = nss[i]
	}

	ty := &tally{figure: "PSS agreement", invalid: invalidFixtures(t, c)}
	parallel(len(all), func(i int) {
		f, level := all[i], recommended[i]
		got, msg := dryRun(c, onNamespace(f.Pod, nsOf[level]), "")
		if got != admitted {
			ty.record(f.String(), false, fmt.Sprintf("recommended enforce=%s, which rejects it: %s", level, msg))
			return
		}
		if level == psaapi.LevelRestricted {
			ty.record(f.String(), true, "")
			return
		}
		next := levels[1]
		if level == psaapi.LevelBaseline {
			next = levels[2]
		}
		got, msg = dryRun(c, onNamespace(f.Pod, nsOf[next]), "")
		if got != deniedByPSA {
			if got == admitted {
				msg = "admitted"
			}
			ty.record(f.String(), false, fmt.Sprintf("recommended enforce=%s, but the stricter %s does not reject it: %s", level, next, msg))
			return
		}
		ty.record(f.String(), true, "")
	})
	ty.report(t, fmt.Sprintf("fixtures of %s whose recommended PSS level is exactly the strictest that admits them", version))
}

// pssLevel returns the enforce level of the one Namespace in rendered pss output.
func pssLevel(t *testing.T, name string, out []byte) psaapi.Level {
	t.Helper()
	objs := decode(t, out)
	if len(objs) != 1 || objs[0].GetKind() != "Namespace" {
		t.Fatalf("%s: pss output is not one Namespace:\n%s", name, out)
	}
	level, err := psaapi.ParseLevel(objs[0].GetLabels()[psaapi.EnforceLevelLabel])
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return level
}
