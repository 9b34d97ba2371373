package render

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// reportDoc is the evidence behind a policy, kept in three lists a person reads apart: the
// privileges workloads use (what the policy has to allow), the other values they use (which
// the policy pins, granting nothing by themselves), and the requirements they hold (which the
// policy keeps); each names the workloads. Per namespace, which workloads keep it from a
// stricter Pod Security Standard.
type reportDoc struct {
	APIVersion   string                     `json:"apiVersion"`
	Kind         string                     `json:"kind"`
	Privileges   []reportEntry              `json:"privileges"`
	Settings     []reportEntry              `json:"settings"`
	Requirements []reportEntry              `json:"requirements"`
	Namespaces   map[string]reportNamespace `json:"namespaces"` // keys sorted by encoding/json
}

// reportEntry is one privilege, setting or requirement, and the workloads that use or hold it.
type reportEntry struct {
	Name      string           `json:"name"`
	Workloads []reportWorkload `json:"workloads"`
}

type reportWorkload struct {
	Namespace       string   `json:"namespace"`
	Kind            string   `json:"kind"`
	Name            string   `json:"name"`
	ServiceAccounts []string `json:"serviceAccounts"`
	// ServiceAccountsNotListed and ImagesNotListed estimate the names the record's bound
	// left out (aggregate.MaxEvidence of each are kept).
	ServiceAccountsNotListed int64     `json:"serviceAccountsNotListed,omitempty"`
	ImagesNotListed          int64     `json:"imagesNotListed,omitempty"`
	Count                    int64     `json:"count"`
	FirstSeen                time.Time `json:"firstSeen,omitzero"`
	LastSeen                 time.Time `json:"lastSeen,omitzero"`
}

type reportNamespace struct {
	Level    string           `json:"level"`
	Next     string           `json:"next"`
	Blocking []reportBlocking `json:"blocking"`
}

type reportBlocking struct {
	Workload string        `json:"workload"` // Kind/name
	Findings []pss.Finding `json:"findings"`
}

func report(agg *aggregate.Aggregate) *reportDoc {
	doc := &reportDoc{
		APIVersion: aggregate.APIVersion,
		Kind:       "Report",
		Namespaces: map[string]reportNamespace{},
	}
	privileges, settings, requirements := map[string][]reportWorkload{}, map[string][]reportWorkload{}, map[string][]reportWorkload{}
	for _, ns := range agg.NamespaceNames() {
		workloads := agg.Namespaces[ns].Sorted()
		var v pss.Verdict
		for _, w := range workloads {
			v = pss.Join(v, w.PSS)
			rw := reportWorkload{
				Namespace: ns, Kind: w.Kind, Name: w.Name, ServiceAccounts: w.ServiceAccounts,
				ServiceAccountsNotListed: w.ServiceAccountsNotListed, ImagesNotListed: w.ImagesNotListed,
				Count: w.Count(), FirstSeen: w.FirstSeen, LastSeen: w.LastSeen,
			}
			for _, a := range Allowances(*w.Profile) {
				into := settings
				if a.Privilege {
					into = privileges
				}
				into[a.Text] = append(into[a.Text], rw)
			}
			for _, r := range Requirements(*w.Profile) {
				requirements[r] = append(requirements[r], rw)
			}
		}
		level := v.Level()
		rn := reportNamespace{Level: string(level), Next: string(pss.Next(level)), Blocking: []reportBlocking{}}
		for _, w := range workloads {
			if f := blocking(w.PSS, level); len(f) > 0 {
				rn.Blocking = append(rn.Blocking, reportBlocking{Workload: w.Ref.String(), Findings: f})
			}
		}
		doc.Namespaces[ns] = rn
	}
	doc.Privileges, doc.Settings, doc.Requirements = reportEntries(privileges), reportEntries(settings), reportEntries(requirements)
	return doc
}

// reportEntries sorts entries by name, and each one's workloads.
func reportEntries(byName map[string][]reportWorkload) []reportEntry {
	out := make([]reportEntry, 0, len(byName))
	for name, ws := range byName {
		// Namespaces, then workloads within them, were visited in order; sort anyway so the
		// order does not hinge on that.
		slices.SortFunc(ws, func(a, b reportWorkload) int {
			return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
		})
		out = append(out, reportEntry{Name: name, Workloads: ws})
	}
	slices.SortFunc(out, func(a, b reportEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}
