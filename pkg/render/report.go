package render

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// reportDoc is the evidence behind a policy: for every privilege, the workloads that use it,
// and per namespace which workloads keep it from a stricter Pod Security Standard.
type reportDoc struct {
	APIVersion string                     `json:"apiVersion"`
	Kind       string                     `json:"kind"`
	Allowances []reportAllowance          `json:"allowances"`
	Namespaces map[string]reportNamespace `json:"namespaces"` // keys sorted by encoding/json
}

type reportAllowance struct {
	Allowance string           `json:"allowance"`
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
		Allowances: []reportAllowance{},
		Namespaces: map[string]reportNamespace{},
	}
	byText := map[string][]reportWorkload{}
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
				byText[a.Text] = append(byText[a.Text], rw)
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
	for text, ws := range byText {
		// Namespaces, then workloads within them, were visited in order; sort anyway so the
		// order does not hinge on that.
		slices.SortFunc(ws, func(a, b reportWorkload) int {
			return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
		})
		doc.Allowances = append(doc.Allowances, reportAllowance{Allowance: text, Workloads: ws})
	}
	slices.SortFunc(doc.Allowances, func(a, b reportAllowance) int { return strings.Compare(a.Allowance, b.Allowance) })
	return doc
}
