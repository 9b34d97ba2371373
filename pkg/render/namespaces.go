package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Renderer renders an aggregate one namespace at a time, so that a caller can measure each
// namespace's policy and pack namespaces into ConfigMaps without ever rendering the whole
// cluster at once. Object names are those Render gives for the whole aggregate (a service
// account unit's name depends on the other namespaces' units), so a namespace rendered here and
// the same namespace in Render's output are the same documents.
type Renderer struct {
	agg     *aggregate.Aggregate
	scope   string
	enforce bool
	names   map[string]int // units of the whole aggregate per plain name, for scope serviceaccount
	headers map[string]string
	units   map[string][]*unit // per namespace, joined once for both VAP and PSP
}

// ReportListKind is the kind of a JSON document that joins the reports of several namespaces.
const ReportListKind = "ReportList"

// NewRenderer prepares the per-namespace rendering of agg. It only reads agg (and agg must not
// change while the Renderer is used).
func NewRenderer(agg *aggregate.Aggregate, scope string, enforce bool) (*Renderer, error) {
	if scope == "" {
		scope = ScopeNamespace
	}
	if !slices.Contains(Scopes, scope) {
		return nil, fmt.Errorf("unknown scope %q", scope)
	}
	r := &Renderer{agg: agg, scope: scope, enforce: enforce, headers: map[string]string{}, units: map[string][]*unit{}}
	if scope == ScopeServiceAccount {
		r.names = map[string]int{}
		for _, ns := range agg.NamespaceNames() {
			for id := range r.saIdentities(ns) {
				r.names[plainName(id)]++
			}
		}
	}
	for _, f := range []string{FormatPSS, FormatVAP, FormatPSP, FormatGatekeeper} {
		var b bytes.Buffer
		if err := r.yaml(&b, f, aggregate.New(""), ""); err != nil {
			return nil, err
		}
		r.headers[f] = b.String()
	}
	return r, nil
}

// saIdentities are the identities of namespace ns's units at scope serviceaccount.
func (r *Renderer) saIdentities(ns string) map[string]bool {
	ids := map[string]bool{}
	for _, w := range r.agg.Namespaces[ns].Workloads {
		ids[(&unit{Namespace: ns, ServiceAccount: otherAccounts}).identity()] = true
		for _, sa := range w.ServiceAccounts {
			ids[(&unit{Namespace: ns, ServiceAccount: sa}).identity()] = true
		}
	}
	return ids
}

// Whole reports whether a format renders as one piece for the whole aggregate rather than per
// namespace: the ValidatingAdmissionPolicy, PodSecurityPolicy and Gatekeeper constraints at
// scope cluster.
func (r *Renderer) Whole(format string) bool {
	return r.scope == ScopeCluster && (format == FormatVAP || format == FormatPSP || format == FormatGatekeeper)
}

// Fingerprint digests what the renderings of namespace ns depend on besides the names other
// namespaces share (NamesFingerprint): its records and the options. It encodes every record, so
// it costs about what saving the namespace's state does.
func (r *Renderer) Fingerprint(ns string) ([sha256.Size]byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %t\n", ns, r.scope, r.enforce)
	if err := json.NewEncoder(h).Encode(r.agg.Namespaces[ns]); err != nil {
		return [sha256.Size]byte{}, err
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// NamesFingerprint digests how many units of the whole aggregate share each of the namespace's
// unit names (scope serviceaccount; zero otherwise): a namespace created elsewhere can change
// the names of this one's policies. It is cheap: it reads only service account names.
func (r *Renderer) NamesFingerprint(ns string) [sha256.Size]byte {
	var sum [sha256.Size]byte
	if r.names == nil {
		return sum
	}
	h := sha256.New()
	ids := r.saIdentities(ns)
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		fmt.Fprintf(h, "%s %d\n", id, r.names[plainName(id)])
	}
	h.Sum(sum[:0])
	return sum
}

// Namespace writes the rendering of namespace ns alone, ready for Join: the YAML documents
// without the header every stream starts with, or the namespace's report as an item of a
// ReportList. It stops at the first error of w, so a writer with a limit bounds the work.
func (r *Renderer) Namespace(w io.Writer, format, ns string) error {
	sub := aggregate.New(r.agg.Replica)
	if n, ok := r.agg.Namespaces[ns]; ok {
		sub.Namespaces[ns] = n
	}
	switch format {
	case FormatReport:
		return writeReport(w, report(sub), reportItemPrefix)
	case FormatPSS, FormatVAP, FormatPSP, FormatGatekeeper:
		if r.Whole(format) {
			return fmt.Errorf("format %s at scope %s has no per-namespace rendering", format, r.scope)
		}
		return r.yaml(&skipWriter{w: w, skip: len(r.headers[format])}, format, sub, ns)
	}
	return fmt.Errorf("format %q has no per-namespace rendering", format)
}

// yaml renders a YAML format of agg (namespace ns alone, or nothing), with unit names from the
// whole aggregate.
func (r *Renderer) yaml(w io.Writer, format string, agg *aggregate.Aggregate, ns string) error {
	switch format {
	case FormatPSS:
		return renderPSS(w, agg)
	case FormatGatekeeper:
		if r.scope == ScopeServiceAccount { // its constraints are the namespace's (gatekeeperScope)
			return renderGatekeeper(w, units(agg, ScopeNamespace), r.scope, r.enforce)
		}
	}
	us, ok := r.units[ns]
	if !ok {
		us = units(agg, r.scope)
		if r.names != nil {
			nameUnits(us, r.names)
		}
		if ns != "" {
			r.units[ns] = us
		}
	}
	switch format {
	case FormatVAP:
		return renderVAP(w, us, r.scope, r.enforce)
	case FormatGatekeeper:
		return renderGatekeeper(w, us, r.scope, r.enforce)
	}
	return renderPSP(w, us, r.scope)
}

// Join writes one document of a format from Namespace renderings, in the given order: the
// YAML header and the documents, or a ReportList whose items are the namespaces' reports.
func (r *Renderer) Join(w io.Writer, format string, parts [][]byte) error {
	var err error
	write := func(b []byte) {
		if err == nil {
			_, err = w.Write(b)
		}
	}
	if format != FormatReport {
		write([]byte(r.headers[format]))
		for _, p := range parts {
			write(p)
		}
		return err
	}
	write(fmt.Appendf(nil, "{\n  \"apiVersion\": %q,\n  \"kind\": %q,\n  \"items\": [", aggregate.APIVersion, ReportListKind))
	for i, p := range parts {
		if i > 0 {
			write([]byte(","))
		}
		write([]byte("\n" + reportItemPrefix))
		write(p)
	}
	if len(parts) > 0 {
		write([]byte("\n  "))
	}
	write([]byte("]\n}\n"))
	return err
}

// JoinOverhead is at most what Join adds to the parts it joins: the header, and per part a
// separator.
func (r *Renderer) JoinOverhead(format string, parts int) int {
	if format == FormatReport {
		return 128 + parts*(len(reportItemPrefix)+2)
	}
	return len(r.headers[format])
}

// reportItemPrefix indents a namespace's report as an item of a ReportList.
const reportItemPrefix = "    "

// writeReport writes doc as json.MarshalIndent(doc, prefix, "  ") would, without a trailing
// line break, but one entry at a time: the lists are nearly all of a report (every workload
// under every privilege it uses), so a writer with a limit stops the encoding early instead of
// after a whole report was built in memory.
func writeReport(w io.Writer, doc *reportDoc, prefix string) error {
	head := *doc
	head.Privileges, head.Settings, head.Requirements = []reportEntry{}, []reportEntry{}, []reportEntry{}
	data, err := json.MarshalIndent(&head, prefix, "  ")
	if err != nil {
		return err
	}
	for _, list := range []struct {
		marker  string
		entries []reportEntry
	}{{`"privileges": [`, doc.Privileges}, {`"settings": [`, doc.Settings}, {`"requirements": [`, doc.Requirements}} {
		i := bytes.Index(data, []byte(list.marker+"]"))
		if i < 0 {
			return fmt.Errorf("report: no %s in %s", list.marker, data)
		}
		i += len(list.marker)
		if _, err := w.Write(data[:i]); err != nil {
			return err
		}
		data = data[i:]
		for j, e := range list.entries {
			item, err := json.MarshalIndent(e, prefix+"    ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n"
			if j == 0 {
				sep = "\n"
			}
			if _, err := w.Write(append([]byte(sep+prefix+"    "), item...)); err != nil {
				return err
			}
		}
		if len(list.entries) > 0 {
			if _, err := w.Write([]byte("\n" + prefix + "  ")); err != nil {
				return err
			}
		}
	}
	_, err = w.Write(data)
	return err
}

// skipWriter drops the first skip bytes written to it (a header already written elsewhere).
type skipWriter struct {
	w    io.Writer
	skip int
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		cut := min(s.skip, len(p))
		s.skip -= cut
		p = p[cut:]
	}
	if len(p) == 0 {
		return n, nil
	}
	if _, err := s.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}
