// Package pss gives the Pod Security Standards verdict of a pod: the strictest level it passes
// at "latest", and which checks keep it from the stricter levels. The checks themselves are
// the API server's own (k8s.io/pod-security-admission/policy); this package only runs them one
// at a time so that every failure carries its check ID.
package pss

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Finding is one check a pod fails, with the evaluator's reason and details.
type Finding struct {
	ID      string   `json:"id"`
	Reason  string   `json:"reason"`
	Details []string `json:"details,omitempty"`
}

// Verdict lists the checks failed at each level. Baseline failures keep a pod at privileged;
// Restricted holds every failure at the restricted level (baseline ones included).
type Verdict struct {
	Baseline   []Finding `json:"baseline,omitempty"`
	Restricted []Finding `json:"restricted,omitempty"`
}

// Level is the strictest level whose every check passed.
func (v Verdict) Level() psaapi.Level {
	switch {
	case len(v.Baseline) > 0:
		return psaapi.LevelPrivileged
	case len(v.Restricted) > 0:
		return psaapi.LevelBaseline
	}
	return psaapi.LevelRestricted
}

// Blocking returns the findings that keep the verdict from the next stricter level (none at
// restricted).
func (v Verdict) Blocking() []Finding {
	if len(v.Baseline) > 0 {
		return v.Baseline
	}
	return v.Restricted
}

// Next returns the level above l (restricted stays restricted).
func Next(l psaapi.Level) psaapi.Level {
	if l == psaapi.LevelPrivileged {
		return psaapi.LevelBaseline
	}
	return psaapi.LevelRestricted
}

// Join returns the verdict of a set holding pods of both verdicts: failures per level by union.
func Join(a, b Verdict) Verdict {
	return Verdict{Baseline: joinFindings(a.Baseline, b.Baseline), Restricted: joinFindings(a.Restricted, b.Restricted)}
}

func joinFindings(a, b []Finding) []Finding {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	// The admission path's common case: nothing new. Return a without allocating.
	if covers(a, b) {
		return a
	}
	byID := map[string]Finding{}
	for _, f := range append(slices.Clone(a), b...) {
		prev, ok := byID[f.ID]
		if ok {
			details := append(slices.Clone(prev.Details), f.Details...)
			slices.Sort(details)
			f.Details = slices.Compact(details)
			f.Reason = min(prev.Reason, f.Reason)
		}
		byID[f.ID] = f
	}
	out := make([]Finding, 0, len(byID))
	for _, f := range byID {
		out = append(out, f)
	}
	slices.SortFunc(out, func(x, y Finding) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// covers reports whether every finding of b, details included, is already in sorted a.
func covers(a, b []Finding) bool {
	for _, f := range b {
		i, found := slices.BinarySearchFunc(a, f.ID, func(x Finding, id string) int { return strings.Compare(x.ID, id) })
		if !found || a[i].Reason > f.Reason {
			return false
		}
		for _, d := range f.Details {
			if _, ok := slices.BinarySearch(a[i].Details, d); !ok {
				return false
			}
		}
	}
	return true
}

type check struct {
	id         string
	eval       policy.Evaluator
	level      psaapi.Level
	overridden bool // skipped at restricted: a restricted check replaces it
}

var checks = mustChecks()

func mustChecks() []check {
	all := policy.DefaultChecks()
	overridden := map[policy.CheckID]bool{}
	for _, c := range all {
		if c.Level == psaapi.LevelRestricted {
			for _, id := range c.Versions[len(c.Versions)-1].OverrideCheckIDs {
				overridden[id] = true
			}
		}
	}
	out := make([]check, 0, len(all))
	for _, c := range all {
		eval, err := policy.NewEvaluator([]policy.Check{c}, nil)
		if err != nil {
			panic(fmt.Sprintf("pod security check %s: %v", c.ID, err))
		}
		out = append(out, check{id: string(c.ID), eval: eval, level: c.Level, overridden: overridden[c.ID]})
	}
	slices.SortFunc(out, func(x, y check) int { return strings.Compare(x.id, y.id) })
	return out
}

// Evaluate returns the verdict of one pod at the latest policy version. Each check runs once:
// a baseline check's result holds at restricted too, unless a restricted check replaces it.
func Evaluate(meta *metav1.ObjectMeta, spec *corev1.PodSpec) Verdict {
	var v Verdict
	for _, c := range checks {
		f, failed := run(c, meta, spec)
		if !failed {
			continue
		}
		if c.level == psaapi.LevelBaseline {
			v.Baseline = append(v.Baseline, f)
			if c.overridden {
				continue
			}
		}
		v.Restricted = append(v.Restricted, f)
	}
	return v
}

// run evaluates one check at its own level and returns its failure, if any.
func run(c check, meta *metav1.ObjectMeta, spec *corev1.PodSpec) (Finding, bool) {
	lv := psaapi.LevelVersion{Level: c.level, Version: psaapi.LatestVersion()}
	for _, r := range c.eval.EvaluatePod(lv, meta, spec) {
		if !r.Allowed {
			f := Finding{ID: c.id, Reason: r.ForbiddenReason}
			if r.ForbiddenDetail != "" {
				f.Details = []string{r.ForbiddenDetail}
			}
			return f, true
		}
	}
	return Finding{}, false
}
