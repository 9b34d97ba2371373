package pss

import (
	"testing"

	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/pod-security-advisor/pod-security-advisor/internal/psafixtures"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
)

// TestAgreesWithEvaluator checks that running the checks one at a time gives the same level as
// the API server's combined evaluator, on every pod the standard's own fixtures label.
func TestAgreesWithEvaluator(t *testing.T) {
	fixtures, version, err := psafixtures.Load()
	if err != nil {
		t.Fatal(err)
	}
	full, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	passes := func(f psafixtures.Fixture, level psaapi.Level) bool {
		lv := psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}
		for _, r := range full.EvaluatePod(lv, &f.Pod.ObjectMeta, &f.Pod.Spec) {
			if !r.Allowed {
				return false
			}
		}
		return true
	}
	for _, f := range fixtures {
		// The fixtures are labelled as the API server admits them, after defaulting.
		defaulting.Apply(f.Pod)
		v := Evaluate(&f.Pod.ObjectMeta, &f.Pod.Spec)
		want := psaapi.LevelPrivileged
		switch {
		case passes(f, psaapi.LevelRestricted):
			want = psaapi.LevelRestricted
		case passes(f, psaapi.LevelBaseline):
			want = psaapi.LevelBaseline
		}
		if v.Level() != want {
			t.Errorf("%s: level %s, evaluator says %s (%+v)", f, v.Level(), want, v)
		}
		// The fixture's own label must agree too: a fail fixture fails its level.
		if passesLevel := psaapi.CompareLevels(v.Level(), psaapi.Level(f.Level)) >= 0; passesLevel != f.Pass {
			t.Errorf("%s: level %s contradicts the fixture's label", f, v.Level())
		}
		if v.Level() != psaapi.LevelRestricted && len(v.Blocking()) == 0 {
			t.Errorf("%s: level %s without a blocking finding", f, v.Level())
		}
	}
	t.Logf("%d fixtures of %s agree", len(fixtures), version)
}

func TestJoin(t *testing.T) {
	priv := Verdict{Baseline: []Finding{{ID: "privileged", Reason: "privileged", Details: []string{`container "a"`}}},
		Restricted: []Finding{{ID: "privileged", Reason: "privileged", Details: []string{`container "a"`}}}}
	base := Verdict{Restricted: []Finding{{ID: "runAsNonRoot", Reason: "runAsNonRoot != true", Details: []string{`pod`}}}}
	base2 := Verdict{Restricted: []Finding{{ID: "runAsNonRoot", Reason: "runAsNonRoot != true", Details: []string{`container "b"`}}}}
	tests := []struct {
		name  string
		a, b  Verdict
		level psaapi.Level
		ids   []string
	}{
		{"restricted with restricted", Verdict{}, Verdict{}, psaapi.LevelRestricted, nil},
		{"restricted with baseline", Verdict{}, base, psaapi.LevelBaseline, []string{"runAsNonRoot"}},
		{"baseline with privileged", base, priv, psaapi.LevelPrivileged, []string{"privileged"}},
		{"details merge", base, base2, psaapi.LevelBaseline, []string{"runAsNonRoot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ab, ba := Join(tt.a, tt.b), Join(tt.b, tt.a)
			if ab.Level() != tt.level || ba.Level() != tt.level {
				t.Fatalf("level %s/%s, want %s", ab.Level(), ba.Level(), tt.level)
			}
			var ids []string
			for _, f := range ab.Blocking() {
				ids = append(ids, f.ID)
			}
			if len(ids) != len(tt.ids) || (len(ids) > 0 && ids[0] != tt.ids[0]) {
				t.Errorf("blocking %v, want %v", ids, tt.ids)
			}
		})
	}
	if got := Join(base, base2).Restricted[0].Details; len(got) != 2 {
		t.Errorf("details not merged: %v", got)
	}
}
