package aggregate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// randomObservation draws from small pools so that observations overlap and joins matter.
func randomObservation(r *rand.Rand) Observation {
	pick := func(pool ...string) string { return pool[r.IntN(len(pool))] }
	var p attributes.Profile
	p.HostNetwork = r.IntN(4) == 0
	p.HostPID = r.IntN(4) == 0
	p.Privileged = r.IntN(5) == 0
	p.MayRunAsRoot = r.IntN(2) == 0
	for range r.IntN(3) {
		p = attributes.Join(p, attributes.Profile{AddedCapabilities: []string{pick("NET_ADMIN", "SYS_ADMIN", "NET_RAW")}})
	}
	p.RunAsUser.Values = p.RunAsUser.Values.Add(int64(r.IntN(4) + 999))
	p.RunAsUser.Unset = r.IntN(3) == 0
	p.HostPorts = p.HostPorts.Add(int64(9100 + r.IntN(3)))
	p.HostPaths = attributes.HostPaths{{Path: pick("/proc", "/sys", "/var/log"), ReadOnly: r.IntN(2) == 0}}
	p.SeccompProfiles = []string{pick("RuntimeDefault", "Unset", "Localhost/a.json")}
	var v pss.Verdict
	if r.IntN(2) == 0 {
		v.Restricted = []pss.Finding{{ID: "runAsNonRoot", Reason: "runAsNonRoot != true", Details: []string{pick("pod", `container "a"`)}}}
	}
	if p.Privileged {
		f := pss.Finding{ID: "privileged", Reason: "privileged", Details: []string{`container "a"`}}
		v.Baseline = []pss.Finding{f}
		v.Restricted = append(v.Restricted, f)
	}
	o := Observation{
		Namespace:      pick("web", "monitoring", "batch"),
		Owner:          owner.Ref{Kind: pick("Deployment", "DaemonSet"), Name: pick("a", "b")},
		ServiceAccount: pick("default", "agent"),
		Images:         []string{pick("nginx:1.27", "busybox:1.36", "exporter:v1")},
		Profile:        p,
		Verdict:        v,
		Time:           time.Date(2026, 1, 1, 0, 0, r.IntN(100000), 0, time.UTC),
	}
	if r.IntN(4) == 0 { // a pod near the bounds: many and long images, names and details
		long := func(s string) string { return s + strings.Repeat("-", 300) + s }
		for range r.IntN(40) {
			o.Images = append(o.Images, fmt.Sprintf("img%02d", r.IntN(100)))
		}
		o.Images = append(o.Images, long(pick("x", "y")))
		o.ServiceAccount = fmt.Sprintf("sa%02d", r.IntN(50))
		o.Owner.Name = pick("a", long("c"), long("d"))
		var details []string
		for range 1 + r.IntN(3) {
			details = append(details, pick("d1", "d2", "d3", "d4", long("d5"), long("d6")))
		}
		slices.Sort(details)
		o.Verdict.Baseline = []pss.Finding{{ID: "hostPathVolumes", Reason: "hostPath volumes", Details: slices.Compact(details)}}
	}
	return o
}

// totals replaces per-replica counters by their sum, for comparing aggregates built by
// different sets of replicas.
func totals(t *testing.T, a *Aggregate) string {
	t.Helper()
	c := New("")
	c.Merge(a)
	for _, ns := range c.Namespaces {
		for _, w := range ns.Workloads {
			w.Counts = Counts{{"all", w.Count()}}
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestJoinProperties: any split of the same observations over replicas, any order of adds and
// merges, and repeated merges all give the same aggregate.
func TestJoinProperties(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 42))
		obs := make([]Observation, 1+r.IntN(40))
		for i := range obs {
			obs[i] = randomObservation(r)
		}
		want := New("single")
		for _, o := range obs {
			want.Add(o)
		}

		replicas := make([]*Aggregate, 1+r.IntN(4))
		for i := range replicas {
			replicas[i] = New(fmt.Sprintf("replica-%d", i))
		}
		for _, i := range r.Perm(len(obs)) {
			replicas[r.IntN(len(replicas))].Add(obs[i])
		}
		// Gossip in a random order, with repeats: every merge must be safe to redo.
		for range 3 * len(replicas) {
			a, b := replicas[r.IntN(len(replicas))], replicas[r.IntN(len(replicas))]
			a.Merge(b)
		}
		final := New("reader")
		for _, i := range r.Perm(len(replicas)) {
			final.Merge(replicas[i])
			final.Merge(replicas[i])
		}
		if got, exp := totals(t, final), totals(t, want); got != exp {
			t.Fatalf("seed %d: split aggregate differs\n got %s\nwant %s", seed, got, exp)
		}
		// The same split merged in another order is identical, counters included.
		again := New("reader")
		for _, i := range r.Perm(len(replicas)) {
			again.Merge(replicas[i])
		}
		if !reflect.DeepEqual(again.Namespaces, final.Namespaces) {
			t.Fatalf("seed %d: merge order changed the aggregate", seed)
		}
	}
}

func TestAddReportsLearning(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	o := randomObservation(r)
	a := New("r")
	if !a.Add(o) {
		t.Fatal("first observation taught nothing")
	}
	o.Time = o.Time.Add(time.Hour)
	if a.Add(o) {
		t.Error("repeated observation reported as new")
	}
	o.Profile.HostIPC = true
	if !a.Add(o) {
		t.Error("new allowance not reported")
	}
	w := a.Namespaces[o.Namespace].Workloads[o.Owner.Key()]
	if w.Count() != 3 || !w.LastSeen.Equal(o.Time) || w.FirstSeen.Equal(w.LastSeen) {
		t.Errorf("count %d first %v last %v", w.Count(), w.FirstSeen, w.LastSeen)
	}
	if a.Merge(a) {
		t.Error("merging itself reported as new")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	a := New("r")
	for range 50 {
		a.Add(randomObservation(r))
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var b Aggregate
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Namespaces, b.Namespaces) {
		t.Fatal("aggregate changed through JSON")
	}
	again, _ := json.Marshal(&b)
	if string(again) != string(data) {
		t.Fatal("JSON not stable through a round trip")
	}
}

func TestUnmarshalRejectsForeignState(t *testing.T) {
	for name, doc := range map[string]string{
		"other version": `{"apiVersion":"pod-security-advisor.io/v2","kind":"Aggregate","namespaces":{}}`,
		"other kind":    `{"apiVersion":"pod-security-advisor.io/v1","kind":"Policy"}`,
		"not json":      `{"apiVersion":`,
		"key mismatch":  `{"apiVersion":"pod-security-advisor.io/v1","kind":"Aggregate","namespaces":{"a":{"workloads":{"Pod/x":{"kind":"Pod","name":"y"}}}}}`,
	} {
		var a Aggregate
		if err := json.Unmarshal([]byte(doc), &a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestMaxWorkloads: past the bound, new workloads join the overflow record and no allowance is lost.
func TestMaxWorkloads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	unbounded, bounded := New("r"), New("r")
	bounded.MaxWorkloads = 4
	for range 200 {
		o := randomObservation(r)
		o.Owner.Name = fmt.Sprintf("w%d", r.IntN(50))
		unbounded.Add(o)
		bounded.Add(o)
	}
	if n := bounded.Workloads(); n > 4+len(bounded.Namespaces) {
		t.Fatalf("%d records with MaxWorkloads 4", n)
	}
	for name, ns := range unbounded.Namespaces {
		var want, got attributes.Profile
		for _, w := range ns.Workloads {
			want = attributes.Join(want, *w.Profile)
		}
		for _, w := range bounded.Namespaces[name].Workloads {
			got = attributes.Join(got, *w.Profile)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("namespace %s: allowances lost by the bound", name)
		}
	}
	merged := New("m")
	merged.MaxWorkloads = 2
	merged.Merge(unbounded)
	if merged.Workloads() > 2+len(merged.Namespaces) {
		t.Errorf("merge ignores the bound: %d records", merged.Workloads())
	}
}

// TestClone: a clone does not change when the original learns more, and equals it when taken.
func TestClone(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a := New("r")
	for range 100 {
		a.Add(randomObservation(r))
	}
	c := a.Clone()
	before, _ := json.Marshal(c)
	if orig, _ := json.Marshal(a); string(orig) != string(before) {
		t.Fatal("clone differs from the original")
	}
	for range 100 {
		o := randomObservation(r)
		o.Images = append(o.Images, "new-image")
		o.ServiceAccount = "new-sa"
		a.Add(o)
		a.Merge(New("x"))
	}
	if after, _ := json.Marshal(c); string(after) != string(before) {
		t.Fatal("clone changed when the original learned")
	}
}

// TestAbsorb: absorbing decoded aggregates joins exactly as Merge does, and counts the records
// it takes over.
func TestAbsorb(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	parts := make([]*Aggregate, 3)
	for i := range parts {
		parts[i] = New(fmt.Sprint("r", i))
		for range 40 {
			o := randomObservation(r)
			o.Owner.Name = fmt.Sprintf("w%d", r.IntN(20))
			parts[i].Add(o)
		}
	}
	decode := func(a *Aggregate) *Aggregate {
		data, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		d := New("")
		if err := json.Unmarshal(data, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	merged, absorbed := New("j"), New("j")
	for _, p := range parts {
		merged.Merge(p)
		absorbed.Absorb(decode(p))
	}
	want, _ := json.Marshal(merged)
	if got, _ := json.Marshal(absorbed); string(got) != string(want) {
		t.Errorf("Absorb joins differently from Merge:\n got %s\nwant %s", got, want)
	}
	if absorbed.Workloads() != merged.Workloads() {
		t.Errorf("Absorb counts %d workloads, Merge %d", absorbed.Workloads(), merged.Workloads())
	}
}
