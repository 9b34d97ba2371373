package aggregate

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// allowed is what a namespace's records allow together: the profile, the PSS level and the
// checks failed at each level.
type allowed struct {
	Profile              attributes.Profile
	Level                string
	Baseline, Restricted []string
}

func allowances(a *Aggregate) map[string]allowed {
	out := map[string]allowed{}
	for name, ns := range a.Namespaces {
		var p attributes.Profile
		var v pss.Verdict
		for _, w := range ns.Workloads {
			p = attributes.Join(p, *w.Profile)
			v = pss.Join(v, w.PSS)
		}
		ids := func(fs []pss.Finding) (out []string) {
			for _, f := range fs {
				out = append(out, f.ID)
			}
			return out
		}
		out[name] = allowed{p, string(v.Level()), ids(v.Baseline), ids(v.Restricted)}
	}
	return out
}

// checkBudget fails unless a keeps its budget and its counts agree with its maps.
func checkBudget(t *testing.T, a *Aggregate) {
	t.Helper()
	records, owned := 0, 0
	for name, ns := range a.Namespaces {
		own := len(ns.Workloads)
		if _, ok := ns.Workloads[overflowKey]; ok {
			own--
		}
		if own != ns.owned {
			t.Fatalf("namespace %s: counts %d records of its own, holds %d", name, ns.owned, own)
		}
		records += len(ns.Workloads)
		owned += own
	}
	if records != a.Workloads() || owned != a.owned {
		t.Fatalf("counts %d records (%d own), holds %d (%d)", a.Workloads(), a.owned, records, owned)
	}
	if a.MaxWorkloads > 0 && owned > a.MaxWorkloads {
		t.Fatalf("%d records of their own with MaxWorkloads %d", owned, a.MaxWorkloads)
	}
}

// TestFairBudget: a namespace that floods the budget cannot push another's workloads into
// overflow, and namespaces that both want more end up with equal shares.
func TestFairBudget(t *testing.T) {
	const budget = 20
	a, unbounded := New("r"), New("r")
	a.MaxWorkloads = budget
	add := func(ns, kind string, i int, hostPID bool) {
		o := Observation{Namespace: ns, Owner: owner.Ref{Kind: kind, Name: fmt.Sprint(kind, i)}, ServiceAccount: "default",
			Profile: attributes.Profile{HostPID: hostPID, HostPorts: attributes.Ranges{}.Add(int64(i))}}
		a.Add(o)
		unbounded.Add(o)
	}
	for i := range 100 {
		add("flood", "Pod", i, i == 7)
	}
	for i := range 5 {
		add("victim", "StatefulSet", i, false)
	}
	checkBudget(t, a)
	victim := a.Namespaces["victim"]
	if victim.owned != 5 || victim.Workloads[overflowKey] != nil {
		t.Fatalf("victim: %d records of its own, overflow %v", victim.owned, victim.Workloads[overflowKey] != nil)
	}
	for i := range 5 {
		if victim.Workloads[fmt.Sprint("StatefulSet/StatefulSet", i)] == nil {
			t.Errorf("victim's StatefulSet%d has no record of its own", i)
		}
	}
	for i := 5; i < 40; i++ {
		add("victim", "StatefulSet", i, false)
	}
	checkBudget(t, a)
	if f, v := a.Namespaces["flood"].owned, victim.owned; f+v != budget || max(f, v)-min(f, v) > 1 {
		t.Errorf("shares: flood %d, victim %d of %d", f, v, budget)
	}
	if got, want := allowances(a), allowances(unbounded); !reflect.DeepEqual(got, want) {
		t.Errorf("folding lost allowances:\n got %+v\nwant %+v", got, want)
	}
}

// TestBudgetOrderIndependent: with a budget, whatever the split of observations over replicas
// and the order of adds and merges, every replica keeps its budget and each namespace's
// records together allow exactly what they allow without one.
func TestBudgetOrderIndependent(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 7))
		obs := make([]Observation, 1+r.IntN(60))
		for i := range obs {
			obs[i] = randomObservation(r)
			obs[i].Owner.Name = fmt.Sprint("w", r.IntN(12))
		}
		want := New("single")
		for _, o := range obs {
			want.Add(o)
		}
		budget := 1 + r.IntN(8)
		replicas := make([]*Aggregate, 1+r.IntN(4))
		for i := range replicas {
			replicas[i] = New(fmt.Sprint("replica-", i))
			replicas[i].MaxWorkloads = budget
		}
		for _, i := range r.Perm(len(obs)) {
			replicas[r.IntN(len(replicas))].Add(obs[i])
		}
		for range 3 * len(replicas) {
			replicas[r.IntN(len(replicas))].Merge(replicas[r.IntN(len(replicas))])
		}
		final := New("reader")
		final.MaxWorkloads = 1 + r.IntN(8)
		for _, i := range r.Perm(len(replicas)) {
			checkBudget(t, replicas[i])
			final.Merge(replicas[i])
		}
		checkBudget(t, final)
		if got, exp := allowances(final), allowances(want); !reflect.DeepEqual(got, exp) {
			t.Fatalf("seed %d: allowances depend on the budget and order:\n got %+v\nwant %+v", seed, got, exp)
		}
		if !slices.Equal(final.NamespaceNames(), want.NamespaceNames()) {
			t.Fatalf("seed %d: namespaces %v, want %v", seed, final.NamespaceNames(), want.NamespaceNames())
		}
	}
}
