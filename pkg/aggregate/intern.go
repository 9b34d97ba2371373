package aggregate

import (
	"slices"
	"unique"

	"github.com/pod-security-advisor/pod-security-advisor/internal/intern"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// Records share their verdicts, and verdicts their details: a pod's verdict is built afresh
// with the evaluator's messages, and most workloads fail the same few checks alike.
var (
	sharedVerdicts = intern.Table[pss.Verdict]{Max: 1 << 15, Equal: equalVerdicts}
	sharedDetails  = intern.Table[[]string]{Max: 1 << 15, Equal: slices.Equal[[]string]}
)

// internVerdict returns a verdict equal to v that other records may share (see
// attributes.Shared: joins never modify their inputs).
func internVerdict(v pss.Verdict) pss.Verdict {
	if len(v.Baseline) == 0 && len(v.Restricted) == 0 {
		return v
	}
	var h intern.Hash
	for _, level := range [][]pss.Finding{v.Baseline, v.Restricted} {
		h.Int(int64(len(level)))
		for _, f := range level {
			h.Strings(f.ID, f.Reason)
			h.Int(int64(len(f.Details)))
			h.Strings(f.Details...)
		}
	}
	return sharedVerdicts.Share(h.Sum(), v, func(v pss.Verdict) pss.Verdict {
		return pss.Verdict{Baseline: shareFindings(v.Baseline), Restricted: shareFindings(v.Restricted)}
	})
}

// shareFindings copies findings, their names and details shared with other verdicts'.
func shareFindings(fs []pss.Finding) []pss.Finding {
	if len(fs) == 0 {
		return fs
	}
	out := make([]pss.Finding, len(fs))
	for i, f := range fs {
		out[i] = pss.Finding{ID: unique.Make(f.ID).Value(), Reason: unique.Make(f.Reason).Value(), Details: f.Details}
		if len(f.Details) > 0 {
			var h intern.Hash
			h.Strings(f.Details...)
			out[i].Details = sharedDetails.Share(h.Sum(), f.Details, func(ds []string) []string {
				out := make([]string, len(ds))
				for i, d := range ds {
					out[i] = unique.Make(d).Value()
				}
				return out
			})
		}
	}
	return out
}

// equalVerdicts reports whether two verdicts hold the same findings.
func equalVerdicts(a, b pss.Verdict) bool {
	return equalFindings(a.Baseline, b.Baseline) && equalFindings(a.Restricted, b.Restricted)
}

func equalFindings(a, b []pss.Finding) bool {
	return slices.EqualFunc(a, b, func(x, y pss.Finding) bool {
		return x.ID == y.ID && x.Reason == y.Reason && slices.Equal(x.Details, y.Details)
	})
}
