package render

import (
	"fmt"
	"io"
	"strings"

	psaapi "k8s.io/pod-security-admission/api"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// namespaceDoc is the part of a Namespace that carries the labels; applying it changes nothing else.
type namespaceDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

// renderPSS writes one Namespace per observed namespace, enforcing the level all its workloads
// pass and warning and auditing at the next one, so the labels show what tightening would break.
func renderPSS(w io.Writer, agg *aggregate.Aggregate) error {
	s := &stream{w: w}
	s.comment(
		"Pod Security Standards labels learned by pod-security-advisor: one Namespace per observed",
		"namespace, whatever the scope (the standards apply per namespace). enforce is the level every",
		"observed workload passes; warn and audit are the next stricter level.",
	)
	for _, name := range agg.NamespaceNames() {
		workloads := agg.Namespaces[name].Sorted()
		var v pss.Verdict
		for _, wl := range workloads {
			v = pss.Join(v, wl.PSS)
		}
		level := v.Level()
		next := pss.Next(level)
		var doc namespaceDoc
		doc.APIVersion, doc.Kind = "v1", "Namespace"
		doc.Metadata.Name = name
		doc.Metadata.Labels = map[string]string{
			psaapi.EnforceLevelLabel:   string(level),
			psaapi.EnforceVersionLabel: psaapi.VersionLatest,
			psaapi.WarnLevelLabel:      string(next),
			psaapi.WarnVersionLabel:    psaapi.VersionLatest,
			psaapi.AuditLevelLabel:     string(next),
			psaapi.AuditVersionLabel:   psaapi.VersionLatest,
		}
		s.doc(doc, blockingComment(name, level, workloads)...)
	}
	return s.err
}

// blockingComment says which workloads keep the namespace from the next level, and why.
func blockingComment(ns string, level psaapi.Level, workloads []*aggregate.Workload) []string {
	if level == psaapi.LevelRestricted {
		return []string{fmt.Sprintf("Namespace %s: restricted already (learned from %s).", ns, plural(len(workloads), "workload"))}
	}
	var groups [][]string
	for _, wl := range workloads {
		findings := blocking(wl.PSS, level)
		if len(findings) == 0 {
			continue
		}
		g := []string{"  " + wl.Ref.String() + ":"}
		for _, f := range findings {
			g = append(g, "    "+findingText(f))
		}
		groups = append(groups, g)
	}
	return boundedComment(fmt.Sprintf("Namespace %s: %s; blocking %s:", ns, level, pss.Next(level)), groups)
}

// blocking returns the findings of v that fail the level above level.
func blocking(v pss.Verdict, level psaapi.Level) []pss.Finding {
	switch level {
	case psaapi.LevelPrivileged:
		return v.Baseline
	case psaapi.LevelBaseline:
		return v.Restricted
	}
	return nil
}

func findingText(f pss.Finding) string {
	text := f.ID + ": " + f.Reason
	if len(f.Details) > 0 {
		text += " (" + strings.Join(f.Details, "; ") + ")"
	}
	return text
}
