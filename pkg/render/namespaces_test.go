package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

// tricky is realistic() plus namespaces whose service-account unit names clash across
// namespaces ("a-b"/"c" and "a"/"b-c") and sort differently as names and as identities
// ("team" < "team-a", but "team-a/x" < "team/x").
func tricky() *aggregate.Aggregate {
	obs := realistic()
	for _, p := range []struct{ ns, sa string }{{"a-b", "c"}, {"a", "b-c"}, {"team", "x"}, {"team-a", "x"}} {
		pod := webPod(p.sa)
		pod.Namespace = p.ns
		obs = append(obs, seen{pod, owner.Ref{Kind: "Deployment", Name: "app"}, t0})
	}
	return build(obs)
}

// TestRendererJoinsToRender: for every YAML format and scope, the header and the namespaces'
// renderings, in the order Render writes units, are Render's output byte for byte.
func TestRendererJoinsToRender(t *testing.T) {
	agg := tricky()
	for _, scope := range Scopes {
		r, err := NewRenderer(agg, scope, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{FormatPSS, FormatVAP, FormatPSP, FormatGatekeeper} {
			order := agg.NamespaceNames()
			// units sort by "<namespace>/<sa>" (gatekeeper's are the namespaces')
			if scope == ScopeServiceAccount && f != FormatPSS && f != FormatGatekeeper {
				slices.SortFunc(order, func(a, b string) int { return strings.Compare(a+"/", b+"/") })
			}
			want := render(t, agg, Options{Format: f, Scope: scope})
			if r.Whole(f) {
				if err := r.Namespace(&bytes.Buffer{}, f, "web"); err == nil {
					t.Errorf("%s/%s: a whole-cluster format rendered per namespace", scope, f)
				}
				continue
			}
			var parts [][]byte
			for _, ns := range order {
				var b bytes.Buffer
				if err := r.Namespace(&b, f, ns); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, b.Bytes())
			}
			var got bytes.Buffer
			if err := r.Join(&got, f, parts); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("%s/%s: joined namespaces differ from Render:\n%s\n----- want\n%s", scope, f, got.String(), want)
			}
			if over := got.Len() - sumLen(parts); over > r.JoinOverhead(f, len(parts)) {
				t.Errorf("%s/%s: Join added %d bytes, JoinOverhead says at most %d", scope, f, over, r.JoinOverhead(f, len(parts)))
			}
		}
	}
}

func sumLen(parts [][]byte) int {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n
}

// TestReportList: a joined report is one JSON document whose items are Render's report of each
// namespace alone.
func TestReportList(t *testing.T) {
	agg := tricky()
	r, err := NewRenderer(agg, ScopeNamespace, false)
	if err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	for _, ns := range agg.NamespaceNames() {
		var b bytes.Buffer
		if err := r.Namespace(&b, FormatReport, ns); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, b.Bytes())
	}
	var joined bytes.Buffer
	if err := r.Join(&joined, FormatReport, parts); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(joined.Bytes(), &list); err != nil {
		t.Fatalf("ReportList is not JSON: %v\n%s", err, joined.String())
	}
	if list.Kind != ReportListKind || len(list.Items) != len(agg.Namespaces) {
		t.Fatalf("kind %q with %d items, want %s with %d", list.Kind, len(list.Items), ReportListKind, len(agg.Namespaces))
	}
	for i, ns := range agg.NamespaceNames() {
		sub := aggregate.New("")
		sub.Namespaces[ns] = agg.Namespaces[ns]
		var a, b bytes.Buffer
		json.Compact(&a, list.Items[i])
		json.Compact(&b, render(t, sub, Options{Format: FormatReport}))
		if a.String() != b.String() {
			t.Errorf("item %d (%s) is not the namespace's report:\n%s\n%s", i, ns, a.String(), b.String())
		}
	}
	var empty bytes.Buffer
	if err := r.Join(&empty, FormatReport, nil); err != nil || !json.Valid(empty.Bytes()) {
		t.Errorf("empty ReportList %q: %v", empty.String(), err)
	}
}

// limited fails writes past n bytes.
type limited struct {
	bytes.Buffer
	n int
}

var errLimit = errors.New("limit")

func (l *limited) Write(p []byte) (int, error) {
	if l.Len()+len(p) > l.n {
		return 0, errLimit
	}
	return l.Buffer.Write(p)
}

// many is one namespace of n workloads, each needing several privileges.
func many(n int) *aggregate.Aggregate {
	var obs []seen
	for i := range n {
		obs = append(obs, seen{nodeExporterPod(), owner.Ref{Kind: "DaemonSet", Name: fmt.Sprintf("agent-%04d", i)}, t0.Add(time.Duration(i) * time.Second)})
	}
	return build(obs)
}

// TestNamespaceStopsAtLimit: a report larger than the writer's limit stops with its error,
// having written no more than the limit.
func TestNamespaceStopsAtLimit(t *testing.T) {
	agg := many(300)
	r, _ := NewRenderer(agg, ScopeNamespace, false)
	ns := agg.NamespaceNames()[0]
	full := &limited{n: 1 << 30}
	if err := r.Namespace(full, FormatReport, ns); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FormatReport, FormatVAP, FormatPSS} {
		w := &limited{n: full.Len() / 10}
		if f != FormatReport {
			w.n = 2000
		}
		if err := r.Namespace(w, f, ns); !errors.Is(err, errLimit) {
			t.Errorf("%s: err %v, want the writer's", f, err)
		}
	}
}

// TestCommentsBounded: comments list workloads up to maxCommentBytes and count the rest; the
// report still names every one.
func TestCommentsBounded(t *testing.T) {
	agg := many(1000)
	commentBytes := func(out string) int {
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "#") {
				n += len(l) + 1
			}
		}
		return n
	}
	for _, f := range []string{FormatPSS, FormatVAP, FormatPSP, FormatGatekeeper} {
		out := string(render(t, agg, Options{Format: f}))
		// Besides the workloads, a format's own comments (headers, notes) of one workload's rendering.
		own := commentBytes(string(render(t, many(1), Options{Format: f})))
		if comments := commentBytes(out); comments > maxCommentBytes+own+256 {
			t.Errorf("%s: %d bytes of comments, bound %d and the format's own %d", f, comments, maxCommentBytes, own)
		}
		if !strings.Contains(out, "more (report.json lists every workload)") || !strings.Contains(out, "agent-0000") {
			t.Errorf("%s: comment does not start the list and count the rest", f)
		}
	}
	if report := string(render(t, agg, Options{Format: FormatReport})); !strings.Contains(report, `"agent-0999"`) {
		t.Error("report lost a workload")
	}
}

// TestFingerprint changes with the namespace's records and with a clash of unit names caused
// by another namespace, and not otherwise.
func TestFingerprint(t *testing.T) {
	fp := func(agg *aggregate.Aggregate, scope, ns string) [32]byte {
		r, err := NewRenderer(agg, scope, false)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := r.Fingerprint(ns)
		if err != nil {
			t.Fatal(err)
		}
		names := r.NamesFingerprint(ns)
		return sha256.Sum256(append(sum[:], names[:]...))
	}
	base := build(realistic())
	clash := tricky()
	if fp(base, ScopeNamespace, "web") != fp(clash, ScopeNamespace, "web") {
		t.Error("other namespaces changed web's fingerprint")
	}
	if fp(base, ScopeNamespace, "web") == fp(base, ScopeServiceAccount, "web") {
		t.Error("the scope does not change the fingerprint")
	}
	onlyAB := tricky()
	delete(onlyAB.Namespaces, "a")
	if fp(onlyAB, ScopeServiceAccount, "a-b") == fp(clash, ScopeServiceAccount, "a-b") {
		t.Error("a clash with namespace a's unit name does not change a-b's fingerprint")
	}
	if fp(onlyAB, ScopeNamespace, "a-b") != fp(clash, ScopeNamespace, "a-b") {
		t.Error("namespace a changed a-b's fingerprint at scope namespace")
	}
	grown := build(append(realistic(), seen{nodeExporterPod(), owner.Ref{Kind: "DaemonSet", Name: "agent-2"}, t0}))
	if fp(grown, ScopeNamespace, "web") != fp(base, ScopeNamespace, "web") {
		t.Error("a workload of another namespace changed web's fingerprint")
	}
	if ns := nodeExporterPod().Namespace; fp(grown, ScopeNamespace, ns) == fp(base, ScopeNamespace, ns) {
		t.Errorf("a new workload in %s did not change its fingerprint", ns)
	}
}
