package render

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// syntheticProfiles are the profiles of n varied synthetic workloads.
func syntheticProfiles(n int) []attributes.Profile {
	r := rand.New(rand.NewPCG(7, 7))
	out := make([]attributes.Profile, n)
	for i := range out {
		pod, _ := synthetic.Pod(r, i)
		out[i] = attributes.Observe(pod)
	}
	return out
}

// TestSharedChecksCoverRestrictions: the shared policy has one check per restriction the
// per-namespace policy can make, no more; and the restrictions it copies are the same whatever
// the profile, so copying them from the reference profiles is right.
func TestSharedChecksCoverRestrictions(t *testing.T) {
	var checks []string
	for _, c := range sharedChecks {
		checks = append(checks, c.name)
	}
	ref := referenceRestrictions()
	if got, want := slices.Sorted(slices.Values(checks)), slices.Sorted(maps.Keys(ref)); !slices.Equal(got, want) {
		t.Errorf("shared checks %v, want the restrictions %v", got, want)
	}
	profiles := append(syntheticProfiles(300), attributes.Profile{}, *build(realistic()).Namespaces["web"].Sorted()[0].Profile)
	for _, p := range profiles {
		rs, _ := restrictions(p)
		for _, r := range rs {
			if !slices.Contains(checks, r.name) {
				t.Errorf("restriction %s has no shared check", r.name)
			}
			if slices.Contains(valueFree, r.name) && r.expr != ref[r.name].expr {
				t.Errorf("restriction %s depends on the profile, yet the shared policy copies it:\n%s\nvs\n%s", r.name, r.expr, ref[r.name].expr)
			}
		}
	}
}

// celMember is what the policy's test does: look for the escaped value, newline-bounded, in
// "\n" + the annotation. escape applies the policy's CEL replacements.
func celMember(annotation, x string, escape func(string) string) bool {
	return strings.Contains("\n"+annotation, "\n"+escape(x)+"\n")
}

// celEscape applies the replacements of entryEscapes, read from the CEL text itself, in order.
func celEscape(t *testing.T) func(string) string {
	t.Helper()
	pairs := regexp.MustCompile(`\.replace\('((?:[^'\\]|\\.)*)', '((?:[^'\\]|\\.)*)'\)`).FindAllStringSubmatch(entryEscapes, -1)
	if len(pairs) != 3 {
		t.Fatalf("entryEscapes: %d replacements in %s", len(pairs), entryEscapes)
	}
	unquote := func(s string) string {
		u, err := strconv.Unquote(`"` + s + `"`)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return u
	}
	return func(s string) string {
		for _, p := range pairs {
			s = strings.ReplaceAll(s, unquote(p[1]), unquote(p[2]))
		}
		return s
	}
}

// TestEntriesMatchWholeValues: whatever the values hold (newlines, backslashes, tabs, the
// empty string, prefixes of one another), a value matches the encoded entries exactly when it
// is one of them.
func TestEntriesMatchWholeValues(t *testing.T) {
	escape := celEscape(t)
	values := []string{"", "a", "ab", "b", "a\nb", `a\nb`, `a\`, `\`, `\\`, "\t", "a\tb", `a\tb`, "\n", "a\n", "\nb", "/var/log", "/var/log/"}
	for _, x := range values {
		if got, want := escape(x), escapeEntry(x); got != want {
			t.Errorf("CEL escapes %q as %q, Go as %q", x, got, want)
		}
	}
	for mask := range 1 << 6 { // every subset of the first six values, as learned sets
		var learned []string
		for i := range 6 {
			if mask&(1<<i) != 0 {
				learned = append(learned, values[i])
			}
		}
		annotation := encodeEntries("sysctls", learned)
		for _, x := range values {
			if got, want := celMember(annotation, x, escape), slices.Contains(learned, x); got != want {
				t.Errorf("entries %q (annotation %q): member(%q) = %v, want %v", learned, annotation, x, got, want)
			}
		}
	}
}

// TestSELinuxEntries: a tuple matches only itself, however its parts hold tabs and newlines.
func TestSELinuxEntries(t *testing.T) {
	escape := celEscape(t)
	tuples := []attributes.SELinux{{}, {User: "u"}, {Role: "u"}, {User: "a\tb"}, {User: "a", Role: "b"}, {Level: "s0:c1,c2"}, {Type: "t\n"}}
	tuple := func(s attributes.SELinux) string { // the pod side: each part escaped, tab-joined
		return strings.Join([]string{escape(s.User), escape(s.Role), escape(s.Type), escape(s.Level)}, "\t")
	}
	for i := range tuples {
		annotation := encodeEntries("seLinuxOptions", selinuxEntries(attributes.Profile{SELinuxOptions: tuples[i : i+1]}))
		for j, s := range tuples {
			// The policy escapes each part and joins them; the whole string is not escaped again.
			if got := strings.Contains("\n"+annotation, "\n"+tuple(s)+"\n"); got != (i == j) {
				t.Errorf("entry of %+v: tuple %+v matches = %v", tuples[i], s, got)
			}
		}
	}
}

// TestRangeEntriesParse: a single value's entry is the decimal the policy searches for
// (string(x)), and a range's entry parses back, as rangesVariable parses it (the dash looked
// for from the second character), to the learned range; negative bounds included.
func TestRangeEntriesParse(t *testing.T) {
	rs := attributes.Ranges{{Min: -7, Max: -3}, {Min: -1, Max: -1}, {Min: 0, Max: 0}, {Min: 5, Max: 9}, {Min: 1000, Max: 65535}}
	for _, r := range rs {
		e := r.String()
		i := -1
		if len(e) > 1 {
			if j := strings.Index(e[1:], "-"); j >= 0 {
				i = j + 1
			}
		}
		if r.Min == r.Max {
			if i > 0 || e != strconv.FormatInt(r.Min, 10) {
				t.Errorf("single value %d: entry %q is not its decimal, or parses as a range", r.Min, e)
			}
			continue
		}
		lo, err1 := strconv.ParseInt(e[:max(i, 0)], 10, 64)
		hi, err2 := strconv.ParseInt(e[i+1:], 10, 64)
		if i <= 0 || err1 != nil || err2 != nil || lo != r.Min || hi != r.Max {
			t.Errorf("entry %q of %+v parses to [%d, %d] (%v, %v)", e, r, lo, hi, err1, err2)
		}
	}
	if v := rangesVariable("runAsUser"); !strings.Contains(v, "e.size() > 1 && e.indexOf('-', 1) > 0") {
		t.Errorf("rangesVariable no longer picks ranges as this test reads them; update the test:\n%s", v)
	}
}

// TestSharedNamespaces: each learned namespace is labelled for the binding and annotated with
// exactly the restrictions its per-namespace policy has, and the policy and binding come first.
func TestSharedNamespaces(t *testing.T) {
	agg := build(realistic())
	docs := documents(t, render(t, agg, Options{Format: FormatVAPShared}))
	if len(docs) != 2+len(agg.Namespaces) {
		t.Fatalf("%d documents, want the policy, the binding and %d Namespaces", len(docs), len(agg.Namespaces))
	}
	for i, u := range units(agg, ScopeNamespace) {
		var doc namespaceAnnotationsDoc
		if err := yaml.UnmarshalStrict(docs[2+i], &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Kind != "Namespace" || doc.Metadata.Name != u.Namespace || doc.Metadata.Labels[learnedVersion] != learnedVersionV1 {
			t.Errorf("document %d: %s %s labels %v", 2+i, doc.Kind, doc.Metadata.Name, doc.Metadata.Labels)
		}
		rs, _ := restrictions(u.Profile)
		want := []string{learnedWorkloads}
		for _, r := range rs {
			want = append(want, LearnedPrefix+r.name)
		}
		if got := slices.Sorted(maps.Keys(doc.Metadata.Annotations)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("namespace %s: annotations %v, want %v", u.Namespace, got, want)
		}
	}
	for i, kind := range []string{"kind: ValidatingAdmissionPolicy\n", "kind: ValidatingAdmissionPolicyBinding\n"} {
		if !bytes.Contains(docs[i], []byte(kind)) {
			t.Errorf("document %d is not a %s", i, kind)
		}
	}
}

// TestSharedPolicyFixed: the policy and binding do not depend on what was learned, so applying
// a new rendering changes only Namespaces.
func TestSharedPolicyFixed(t *testing.T) {
	policyOf := func(obs []seen) string {
		docs := documents(t, render(t, build(obs), Options{Format: FormatVAPShared, Enforce: true}))
		return string(docs[0]) + string(docs[1])
	}
	all := realistic()
	if a, b := policyOf(all), policyOf(all[:1]); a != b {
		t.Errorf("the shared policy changes with the aggregate")
	}
}
