// Package render turns an aggregate (what workloads were observed to need) into policies people
// can apply: Pod Security Standards namespace labels, ValidatingAdmissionPolicies, legacy
// PodSecurityPolicies, and a JSON evidence report.
//
// Output is deterministic: units, lists and map keys are sorted, object names derive only from
// namespace and service account names, and nothing carries a timestamp but the evidence.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Format names.
const (
	FormatPSS       = "pss"
	FormatVAP       = "vap"
	FormatVAPShared = "vap-shared"
	FormatPSP       = "psp"
	// FormatGatekeeper: constraints for the gatekeeper-library's pod-security-policy templates.
	FormatGatekeeper = "gatekeeper"
	FormatReport     = "report"
	FormatAggregate  = "aggregate"
)

// Formats and Scopes list the accepted values of Options.Format and Options.Scope.
var (
	Formats = []string{FormatPSS, FormatVAP, FormatVAPShared, FormatPSP, FormatGatekeeper, FormatReport, FormatAggregate}
	Scopes  = []string{ScopeCluster, ScopeNamespace, ScopeServiceAccount}
)

// Options choose what Render writes.
type Options struct {
	Format string // one of Formats
	// Scope is what one policy object covers: the whole cluster, a namespace (the default), or
	// a service account of a namespace. PSS labels, vap-shared (learned per namespace), the
	// report and the aggregate ignore it.
	Scope string
	// Enforce binds VAPs with validationActions [Deny] instead of [Warn, Audit], and gives
	// Gatekeeper constraints enforcementAction deny instead of dryrun.
	Enforce bool
}

// Render writes the aggregate in the chosen format.
func Render(w io.Writer, agg *aggregate.Aggregate, opts Options) error {
	unknownFormat := fmt.Errorf("unknown format %q (valid: %s)", opts.Format, strings.Join(Formats, ", "))
	if !slices.Contains(Formats, opts.Format) {
		return unknownFormat
	}
	scope := opts.Scope
	if scope == "" {
		scope = ScopeNamespace
	}
	if !slices.Contains(Scopes, scope) {
		return fmt.Errorf("unknown scope %q (valid: %s)", opts.Scope, strings.Join(Scopes, ", "))
	}
	if agg == nil {
		agg = aggregate.New("")
	}
	switch opts.Format {
	case FormatPSS:
		return renderPSS(w, agg)
	case FormatVAP:
		return renderVAP(w, units(agg, scope), scope, opts.Enforce)
	case FormatVAPShared:
		return renderVAPShared(w, units(agg, ScopeNamespace), opts.Enforce)
	case FormatPSP:
		return renderPSP(w, units(agg, scope), scope)
	case FormatGatekeeper:
		return renderGatekeeper(w, units(agg, gatekeeperScope(scope)), scope, opts.Enforce)
	case FormatReport:
		if err := writeReport(w, report(agg), ""); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n")
		return err
	case FormatAggregate:
		return writeJSON(w, agg)
	}
	return unknownFormat
}

// writeJSON writes v indented by two spaces, with a trailing newline.
func writeJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

func scopeNoun(scope string) string {
	switch scope {
	case ScopeCluster:
		return "cluster"
	case ScopeServiceAccount:
		return "service account of each namespace"
	}
	return "namespace"
}

// evidenceComment names the workloads a unit was learned from, for the comment above its policy.
func evidenceComment(u *unit) []string {
	groups := make([][]string, len(u.Workloads))
	for i, e := range u.Workloads {
		groups[i] = []string{fmt.Sprintf("  %s/%s (service accounts: %s)", e.Namespace, e.Ref, strings.Join(e.ServiceAccounts, ", "))}
	}
	return boundedComment(fmt.Sprintf("Learned %s from %s (Pod Security Standards level %s):",
		u.where(), plural(len(u.Workloads), "workload"), u.Verdict.Level()), groups)
}

// maxCommentBytes bounds the workloads a comment lists. The report lists every workload; a
// comment naming thousands would bury the policy under it and make one namespace's rendering
// outgrow a ConfigMap.
const maxCommentBytes = 16 << 10

// boundedComment is head and then each group of lines (one workload's), as long as the groups
// fit in maxCommentBytes, then a last line counting the workloads left out.
func boundedComment(head string, groups [][]string) []string {
	lines := []string{head}
	n := len(head)
	for i, g := range groups {
		size := 0
		for _, l := range g {
			size += len(l) + 3 // "# " and the line break
		}
		if n+size > maxCommentBytes {
			return append(lines, fmt.Sprintf("  … and %s more (report.json lists every workload)", plural(len(groups)-i, "workload")))
		}
		n += size
		lines = append(lines, g...)
	}
	return lines
}
