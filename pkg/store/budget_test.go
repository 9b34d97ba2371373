package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// inNamespace is src's workloads moved into one namespace.
func inNamespace(src *aggregate.Aggregate, ns string) *aggregate.Aggregate {
	out := aggregate.New(src.Replica)
	out.Namespaces[ns] = &aggregate.Namespace{Workloads: map[string]*aggregate.Workload{}}
	for _, nsw := range src.Namespaces {
		for key, w := range nsw.Workloads {
			out.Namespaces[ns].Workloads[key] = w
		}
	}
	return out
}

// storedState joins every state shard, unbounded: everything the state holds.
func storedState(t *testing.T, c client.Reader) *aggregate.Aggregate {
	t.Helper()
	all := aggregate.New("")
	for _, cm := range stateMapsOnly(t, c) {
		agg, err := Decode(&cm)
		if err != nil {
			t.Fatal(err)
		}
		all.Absorb(agg)
	}
	return all
}

// ownRecords counts the records that are not overflow records.
func ownRecords(agg *aggregate.Aggregate) int {
	n := 0
	for _, nsw := range agg.Namespaces {
		for _, w := range nsw.Workloads {
			if w.Ref != aggregate.Overflow {
				n++
			}
		}
	}
	return n
}

// allowed checks that every workload of want is allowed by got: by its own record, or by its
// namespace's overflow record.
func allowed(t *testing.T, got, want *aggregate.Aggregate) {
	t.Helper()
	for ns, nsw := range want.Namespaces {
		for key, w := range nsw.Workloads {
			g := got.Namespaces[ns]
			if g == nil {
				t.Fatalf("namespace %s lost", ns)
			}
			r := g.Workloads[key]
			if r == nil {
				r = g.Workloads[aggregate.Overflow.Key()]
			}
			if r == nil || !attributes.Covers(*r.Profile, *w.Profile) {
				t.Fatalf("%s/%s: its allowances are lost from the state", ns, key)
			}
		}
	}
}

// TestStateWithinBudget: records the learner folds into overflow do not stay in the stored state
// for ever: the state is folded as the learner folds, fairly (a small namespace keeps its own
// records against a noisy one), within an eighth of the budget, and no allowance is lost.
func TestStateWithinBudget(t *testing.T) {
	const budget = 200
	c := fake.NewClientBuilder().Build()
	s := newStore(t, c, func(o *Options) { o.MaxWorkloads, o.InitialShards = budget, 4 })
	memory := aggregate.New("r1")
	memory.MaxWorkloads = budget
	// A noisy namespace takes the whole budget; then small namespaces arrive, and each of
	// their workloads makes memory fold one of the noisy namespace's records.
	everything := inNamespace(synthetic("r1", 0, 2*budget, 60), "noisy")
	memory.Merge(everything)
	mustSave(t, s, memory.Clone())
	small := aggregate.New("")
	maxStored := 0
	for round := range 20 {
		for i := range 2 {
			team := inNamespace(synthetic("r1", 1000+6*round+3*i, 3, uint64(61+round)), fmt.Sprintf("team-%02d-%d", round, i))
			small.Merge(team)
			everything.Merge(team)
			memory.Merge(team)
		}
		mustSave(t, s, memory.Clone()) // the learner saves what it holds
		maxStored = max(maxStored, ownRecords(storedState(t, c)))
	}
	stored := storedState(t, c)
	allowed(t, stored, everything)
	if maxStored > budget+budget/8 {
		t.Errorf("the state held %d records of their own, over the budget of %d by more than an eighth", maxStored, budget)
	}
	loaded := mustLoad(t, newStore(t, c, func(o *Options) { o.MaxWorkloads = budget }))
	if got := ownRecords(loaded); got > budget {
		t.Errorf("Load returned %d records of their own, over the budget of %d", got, budget)
	}
	allowed(t, loaded, everything)
	for ns, nsw := range small.Namespaces {
		for key := range nsw.Workloads {
			if stored.Namespaces[ns].Workloads[key] == nil || loaded.Namespaces[ns].Workloads[key] == nil {
				t.Errorf("%s/%s was folded into overflow by the noisy namespace", ns, key)
			}
		}
	}
	t.Logf("%d workloads learned, at most %d records stored, %d loaded, with a budget of %d", workloads(everything), maxStored, ownRecords(loaded), budget)
}

// TestFoldInterrupted kills the save that folds the stored state after every possible number
// of writes: whatever was written, every allowance is still stored.
func TestFoldInterrupted(t *testing.T) {
	const budget, shards = 100, 8
	// The noisy namespace's overflow record goes to shard 0, which a full save writes last:
	// the shards above give up the records folded into it only once it is written.
	noisy := ""
	for i := 0; noisy == "" || shardOf(noisy, aggregate.Overflow.Key(), shards) != 0; i++ {
		noisy = fmt.Sprintf("noisy-%d", i)
	}
	before := union(inNamespace(synthetic("r1", 0, 150, 70), noisy), inNamespace(synthetic("r1", 500, 30, 71), "quiet"))
	change := synthetic("r1", 900, 1, 72)
	for k := 0; ; k++ {
		c := fake.NewClientBuilder().Build()
		mustSave(t, newStore(t, c, func(o *Options) { o.InitialShards = shards }), before)
		writes := 0
		dying := &hookClient{Client: c, before: func(context.Context, client.Object) error {
			if writes == k {
				return errors.New("process died")
			}
			writes++
			return nil
		}}
		s := newStore(t, c, func(o *Options) { o.Client, o.MaxWorkloads = dying, budget })
		mustLoad(t, s)
		_, err := s.Save(context.Background(), change)
		allowed(t, storedState(t, c), before)
		if writes < k { // nothing died
			if err != nil {
				t.Fatal(err)
			}
			allowed(t, storedState(t, c), union(before, change))
			if got := ownRecords(storedState(t, c)); got > budget+1 {
				t.Fatalf("after a complete fold the state holds %d records of their own, budget %d", got, budget)
			}
			if k < 3 {
				t.Fatalf("folding took only %d writes", k)
			}
			break
		}
	}
}
