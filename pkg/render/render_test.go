package render

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// scoped formats depend on the scope; the others must not.
func scoped(format string) bool {
	return format == FormatVAP || format == FormatPSP || format == FormatGatekeeper
}

// goldenCases are every format × scope, named <name>.<format>.golden. Formats that ignore the
// scope have one golden ("all"), and TestScopeIndependent checks that the scope changes nothing.
func goldenCases() map[string]Options {
	cases := map[string]Options{}
	for _, f := range Formats {
		if !scoped(f) {
			cases["all."+f] = Options{Format: f}
			continue
		}
		for _, s := range Scopes {
			cases[s+"."+f] = Options{Format: f, Scope: s}
		}
	}
	cases["namespace-enforce."+FormatVAP] = Options{Format: FormatVAP, Scope: ScopeNamespace, Enforce: true}
	cases["namespace-enforce."+FormatGatekeeper] = Options{Format: FormatGatekeeper, Scope: ScopeNamespace, Enforce: true}
	return cases
}

func render(t *testing.T, agg *aggregate.Aggregate, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, agg, opts); err != nil {
		t.Fatalf("Render(%+v): %v", opts, err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	agg := build(realistic())
	for name, opts := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			got := render(t, agg, opts)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/render -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (run go test ./pkg/render -update and review the diff):\n%s", path, got)
			}
		})
	}
}

// TestDeterministic renders twice, and from an aggregate built in reverse order and from a merge
// of two halves, and expects the same bytes each time.
func TestDeterministic(t *testing.T) {
	obs := realistic()
	reversed := slices.Clone(obs)
	slices.Reverse(reversed)
	merged := build(obs[len(obs)/2:])
	merged.Merge(build(obs[:len(obs)/2]))
	// Merging keeps per-replica maxima: one replica's counts split in two merge to less, so
	// compare everything but the counters.
	for _, opts := range goldenCases() {
		first := render(t, build(obs), opts)
		if again := render(t, build(obs), opts); !bytes.Equal(first, again) {
			t.Errorf("%+v: two renders differ", opts)
		}
		if rev := render(t, build(reversed), opts); !bytes.Equal(first, rev) {
			t.Errorf("%+v: reverse order differs:\n%s\n---- vs ----\n%s", opts, first, rev)
		}
		if opts.Format == FormatReport || opts.Format == FormatAggregate {
			continue
		}
		if m := render(t, merged, opts); !bytes.Equal(first, m) {
			t.Errorf("%+v: merged aggregate differs", opts)
		}
	}
}

func TestScopeIndependent(t *testing.T) {
	agg := build(realistic())
	for _, f := range Formats {
		if scoped(f) {
			continue
		}
		want := render(t, agg, Options{Format: f})
		for _, s := range Scopes {
			if got := render(t, agg, Options{Format: f, Scope: s}); !bytes.Equal(got, want) {
				t.Errorf("format %s changes with scope %s", f, s)
			}
		}
	}
}

func TestUnknownOptions(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Format: "kyverno"}, `unknown format "kyverno" (valid: pss, vap, vap-shared, psp, gatekeeper, report, aggregate)`},
		{Options{Format: "vap", Scope: "node"}, `unknown scope "node" (valid: cluster, namespace, serviceaccount)`},
	} {
		err := Render(&bytes.Buffer{}, build(realistic()), tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got error %v, want %s", tc.opts, err, tc.want)
		}
	}
}

// documents splits a YAML stream on its "---" lines, dropping comment-only parts.
func documents(t *testing.T, stream []byte) [][]byte {
	t.Helper()
	var docs [][]byte
	for _, part := range regexp.MustCompile(`(?m)^---\n`).Split(string(stream), -1) {
		body := regexp.MustCompile(`(?m)^#.*\n`).ReplaceAllString(part, "")
		if strings.TrimSpace(body) != "" {
			docs = append(docs, []byte(part))
		}
	}
	return docs
}

// TestDocumentsParse reads every rendered document back strictly into its API type, so unknown
// or misspelt fields fail, and checks the object names.
func TestDocumentsParse(t *testing.T) {
	agg := build(realistic())
	for name, opts := range goldenCases() {
		if !slices.Contains([]string{FormatVAP, FormatVAPShared, FormatPSP, FormatPSS, FormatGatekeeper}, opts.Format) {
			continue
		}
		docs := documents(t, render(t, agg, opts))
		if len(docs) == 0 {
			t.Errorf("%s: no documents", name)
		}
		for _, doc := range docs {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			var into any
			switch meta.Kind {
			case "ValidatingAdmissionPolicy":
				into = &admv1.ValidatingAdmissionPolicy{}
			case "ValidatingAdmissionPolicyBinding":
				into = &admv1.ValidatingAdmissionPolicyBinding{}
			case "Namespace":
				into = &corev1.Namespace{}
			case "PodSecurityPolicy":
				into = &podSecurityPolicy{}
			case "ClusterRole":
				into = &rbacv1.ClusterRole{}
			case "RoleBinding":
				into = &rbacv1.RoleBinding{}
			case "ClusterRoleBinding":
				into = &rbacv1.ClusterRoleBinding{}
			default:
				if strings.HasPrefix(meta.Kind, "K8sPSP") {
					into = &gkConstraint{}
					if len(meta.Metadata.Name) > gkMaxNameLength {
						t.Errorf("%s: %s name %q is longer than Gatekeeper accepts", name, meta.Kind, meta.Metadata.Name)
					}
					break
				}
				t.Fatalf("%s: unexpected kind %q", name, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, into); err != nil {
				t.Errorf("%s: %s %s: %v", name, meta.Kind, meta.Metadata.Name, err)
			}
			if errs := validation.IsDNS1123Subdomain(meta.Metadata.Name); len(errs) > 0 {
				t.Errorf("%s: name %q: %v", name, meta.Metadata.Name, errs)
			}
		}
	}
}

func TestUnitNames(t *testing.T) {
	long := strings.Repeat("a", 63)
	us := []*unit{
		{Namespace: "a-b", ServiceAccount: "c"},
		{Namespace: "a", ServiceAccount: "b-c"},
		{Namespace: "web", ServiceAccount: "frontend"},
		{Namespace: long, ServiceAccount: strings.Repeat("s.", 100) + "x"},
		{Namespace: "kube-system"},
		{},
	}
	nameUnits(us, countNames(us))
	names := map[string]bool{}
	for _, u := range us {
		if errs := validation.IsDNS1123Subdomain(u.Name); len(errs) > 0 {
			t.Errorf("%s: %q: %v", u.identity(), u.Name, errs)
		}
		if names[u.Name] {
			t.Errorf("duplicate name %q", u.Name)
		}
		names[u.Name] = true
	}
	for i, want := range []string{"", "", "pod-security-advisor-web-frontend", "", "pod-security-advisor-kube-system", "pod-security-advisor-cluster"} {
		if want != "" && us[i].Name != want {
			t.Errorf("%s: name %q, want %q", us[i].identity(), us[i].Name, want)
		}
	}
	// Ambiguous and overlong names end in a hash of the identity, so they stay stable.
	for _, i := range []int{0, 1, 3} {
		if !regexp.MustCompile(`-[0-9a-f]{8}$`).MatchString(us[i].Name) {
			t.Errorf("%s: name %q has no hash suffix", us[i].identity(), us[i].Name)
		}
	}
	again := []*unit{{Namespace: "a-b", ServiceAccount: "c"}, {Namespace: "a", ServiceAccount: "b-c"}}
	nameUnits(again, countNames(again))
	if again[0].Name != us[0].Name || again[1].Name != us[1].Name {
		t.Errorf("hashed names are not stable: %q %q vs %q %q", again[0].Name, again[1].Name, us[0].Name, us[1].Name)
	}
}

// TestUnlistedServiceAccounts: a workload whose service accounts were cut by its record's
// bound may run as any of them, so it counts toward every service account of its namespace.
func TestUnlistedServiceAccounts(t *testing.T) {
	agg := aggregate.New("r")
	for _, o := range []aggregate.Observation{
		{Namespace: "ns", Owner: owner.Ref{Kind: "Deployment", Name: "a"}, ServiceAccount: "one"},
		{Namespace: "ns", Owner: owner.Ref{Kind: "Deployment", Name: "b"}, ServiceAccount: "two",
			Profile: attributes.Profile{HostPID: true}},
		{Namespace: "other", Owner: owner.Ref{Kind: "Deployment", Name: "c"}, ServiceAccount: "one"},
	} {
		agg.Add(o)
	}
	agg.Namespaces["ns"].Workloads["Deployment/b"].ServiceAccountsNotListed = 40
	for _, u := range units(agg, ScopeServiceAccount) {
		if u.Namespace == "ns" && !u.Profile.HostPID {
			t.Errorf("unit %s does not count the workload whose service accounts were cut", u.identity())
		}
		if u.Namespace == "other" && u.Profile.HostPID {
			t.Errorf("unit %s counts a workload of another namespace", u.identity())
		}
	}
	// The report says how many were cut.
	for _, a := range report(agg).Privileges {
		for _, w := range a.Workloads {
			if w.Name == "b" && w.ServiceAccountsNotListed != 40 {
				t.Errorf("report: %d service accounts not listed, want 40", w.ServiceAccountsNotListed)
			}
		}
	}
}

// TestAllowancesCoverProfile sets each Profile field in turn and expects an allowance naming it,
// so a field added to Profile cannot be silently left out of the report and the messages.
func TestAllowancesCoverProfile(t *testing.T) {
	pt := reflect.TypeFor[attributes.Profile]()
	for i := range pt.NumField() {
		field := pt.Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		if field.Name == "AnyValue" {
			continue // names other fields: below
		}
		var p attributes.Profile
		fillOne(reflect.ValueOf(&p).Elem().Field(i))
		got := Allowances(p)
		if len(got) == 0 {
			t.Errorf("%s: no allowance", field.Name)
			continue
		}
		for _, a := range got {
			if a.Field != name {
				t.Errorf("%s: allowance %q has field %q, want %q", field.Name, a.Text, a.Field, name)
			}
		}
	}
	// An attribute widened to any value is an allowance of that attribute.
	all := attributes.Profile{AnyValue: ^attributes.Fields(0)}
	var fields []string
	for _, a := range Allowances(all) {
		fields = append(fields, a.Field)
	}
	if want := all.AnyValue.Names(); !slices.Equal(slices.Sorted(slices.Values(fields)), want) {
		t.Errorf("allowances of attributes widened to any value name %v, want %v", fields, want)
	}
}

// fillOne gives v a non-zero value with one element.
func fillOne(v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.String:
		v.SetString("x")
	case reflect.Int64:
		v.SetInt(1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillOne(s.Index(0))
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fillOne(v.Field(i))
		}
	}
}

// TestOtherServiceAccounts: at scope serviceaccount every namespace also has a unit for the
// service accounts none of its pods was learned with, holding the whole namespace's profile,
// so a pod of a new service account is held to what the namespace used, not left unchecked.
func TestOtherServiceAccounts(t *testing.T) {
	agg := aggregate.New("r")
	for _, o := range []aggregate.Observation{
		{Namespace: "ns", Owner: owner.Ref{Kind: "Deployment", Name: "a"}, ServiceAccount: "one"},
		{Namespace: "ns", Owner: owner.Ref{Kind: "DaemonSet", Name: "b"}, ServiceAccount: "two", Profile: attributes.Profile{HostPID: true}},
		{Namespace: "other", Owner: owner.Ref{Kind: "Deployment", Name: "c"}, ServiceAccount: "one", Profile: attributes.Profile{HostIPC: true}},
	} {
		agg.Add(o)
	}
	got := map[string]*unit{}
	for _, u := range units(agg, ScopeServiceAccount) {
		got[u.identity()] = u
	}
	fallback := got["ns/"+otherAccounts]
	if fallback == nil {
		t.Fatalf("no unit for other service accounts of ns; units %v", slices.Sorted(maps.Keys(got)))
	}
	if !fallback.Profile.HostPID || fallback.Profile.HostIPC || len(fallback.Workloads) != 2 {
		t.Errorf("ns's fallback: hostPID %v hostIPC %v from %d workloads; want the union of ns alone (true, false, 2)",
			fallback.Profile.HostPID, fallback.Profile.HostIPC, len(fallback.Workloads))
	}
	if !slices.Equal(fallback.Learned, []string{"one", "two"}) || fallback.Name != "pod-security-advisor-ns-other-service-accounts" {
		t.Errorf("fallback learned %v, named %s", fallback.Learned, fallback.Name)
	}
	cond := vapPolicy(fallback).Spec.MatchConditions[0].Expression
	if !strings.Contains(cond, `!(`) || !strings.Contains(cond, `in ['one', 'two']`) {
		t.Errorf("fallback's match condition %s does not exclude the learned accounts", cond)
	}
	if other := got["other/"+otherAccounts]; other == nil || !slices.Equal(other.Learned, []string{"one"}) || other.Profile.HostPID {
		t.Errorf("other's fallback %+v", other)
	}
}
