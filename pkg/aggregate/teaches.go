package aggregate

import (
	"slices"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// Teaches reports whether Add(o) would learn something new, without changing a: the webhook
// asks it of every admitted pod, and holds what would teach something until the pod is seen
// stored (what only counts needs no confirmation). It allocates nothing for a known workload.
func (a *Aggregate) Teaches(o Observation) bool {
	ns := a.Namespaces[o.Namespace]
	if ns == nil {
		if ns = a.Namespaces[boundName(o.Namespace)]; ns == nil {
			return true
		}
	}
	w := ns.lookup(o.Owner)
	if w == nil {
		if w = ns.Workloads[boundRef(o.Owner).Key()]; w == nil {
			// A new record, unless the budget is spent and this one joins the overflow record
			// (see slot: a namespace smaller than the biggest still gets one of its own).
			if !a.full() || a.biggest() != ns && ns.owned+1 < a.biggest().owned {
				return true
			}
			if w = ns.Workloads[overflowKey]; w == nil {
				return true
			}
		}
	}
	return !w.serviceAccounts().covers(o.ServiceAccount) || !w.images().covers(o.Images...) ||
		!attributes.Covers(*w.Profile, o.Profile) || w.verdictGrows(o.Verdict)
}

// covers reports whether joining values would leave the set and its count as they are.
func (e evidence) covers(values ...string) bool {
	for _, v := range values {
		if _, found := slices.BinarySearch(*e.set, v); found {
			continue
		}
		v = boundName(v)
		if _, found := slices.BinarySearch(*e.set, v); found {
			continue
		}
		// Beyond a full set's largest rank a value is only counted, once the count says so.
		if len(*e.set) < MaxEvidence || *e.notListed == 0 || compareRank(v, slices.MaxFunc(*e.set, compareRank)) < 0 {
			return false
		}
	}
	return true
}

// verdictGrows reports whether joining v would change w's bounded verdict (joinProfile's test).
func (w *Workload) verdictGrows(v pss.Verdict) bool {
	fast := pss.Join(w.PSS, v)
	if sameFindings(fast.Baseline, w.PSS.Baseline) && sameFindings(fast.Restricted, w.PSS.Restricted) {
		return false
	}
	return !equalVerdicts(boundVerdict(pss.Join(w.PSS, boundVerdict(v))), w.PSS)
}
