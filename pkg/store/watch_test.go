package store

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// fakeInformer hands the registered handler to the test.
type fakeInformer struct {
	h toolscache.ResourceEventHandler
}

func (f *fakeInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	f.h = h
	return nil, nil
}

// fakeMemory records what the watch asks of it.
type fakeMemory struct {
	mu      sync.Mutex
	merged  *aggregate.Aggregate
	merges  int
	resaved []func(string, string) bool
}

func (m *fakeMemory) Merge(a *aggregate.Aggregate) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.merges++
	return m.merged.Merge(a)
}

func (m *fakeMemory) Resave(lost func(string, string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resaved = append(m.resaved, lost)
}

func TestWatch(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().Build()
	base := synthetic("r1", 0, 200, 60)
	mustSave(t, newStore(t, c, func(o *Options) { o.InitialShards = 2 }), base)
	s := newStore(t, c)
	mem := &fakeMemory{merged: mustLoad(t, s)}
	inf := &fakeInformer{}
	if err := s.Watch(ctx, inf, mem); err != nil {
		t.Fatal(err)
	}
	get := func(name string) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: name}, cm); err != nil {
			t.Fatal(err)
		}
		return cm
	}
	event := func(name string) { inf.h.OnUpdate(nil, get(name)) }

	// The initial list holds what Load read: nothing to join.
	inf.h.OnAdd(get("psa-state-0"), true)
	inf.h.OnAdd(get("psa-state-1"), true)
	if mem.merges != 0 {
		t.Errorf("%d merges of versions already held", mem.merges)
	}

	// Another replica's save is joined; our own is not decoded again.
	other := synthetic("r2", 500, 20, 61)
	mustSave(t, newStore(t, c), other)
	event("psa-state-0")
	event("psa-state-1")
	if mem.merges != 2 {
		t.Errorf("%d merges of another writer's shards, want 2", mem.merges)
	}
	sameState(t, mem.merged, union(base, other))
	mine := synthetic("r1", 900, 20, 62)
	mustSave(t, s, mine)
	event("psa-state-0")
	event("psa-state-1")
	if mem.merges != 2 {
		t.Errorf("our own writes were joined again (%d merges)", mem.merges)
	}

	// An unreadable shard: counted, copied aside and saved again from memory, at once.
	cm := get("psa-state-1")
	cm.BinaryData[PayloadKey] = []byte("garbage")
	if err := c.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	event("psa-state-1")
	_, all := stateMaps(t, c)
	copies := 0
	for _, cm := range all {
		if cm.Labels[LabelCorrupt] == "psa" && cm.Annotations[AnnotationCopiedFrom] == "psa-state-1" {
			copies++
		}
	}
	if s.Stats().Corrupt != 1 || copies != 1 || len(mem.resaved) != 1 {
		t.Fatalf("corrupt %d, copies %d, resaves %d", s.Stats().Corrupt, copies, len(mem.resaved))
	}
	checkLost(t, mem.merged, mem.resaved[0], 1, 2)

	// A deleted shard, seen directly or as a tombstone, is saved again from memory.
	inf.h.OnDelete(get("psa-state-0"))
	inf.h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: testNS + "/psa-state-0"})
	if len(mem.resaved) != 3 {
		t.Fatalf("%d resaves", len(mem.resaved))
	}
	checkLost(t, mem.merged, mem.resaved[1], 0, 2)
	checkLost(t, mem.merged, mem.resaved[2], 0, 2)

	// Not ours: ignored.
	foreign := get("psa-state-0")
	foreign.Labels = map[string]string{LabelState: "another-release"}
	inf.h.OnDelete(foreign)
	if len(mem.resaved) != 3 {
		t.Error("a foreign ConfigMap's deletion made a resave")
	}
}

// checkLost checks that lost selects exactly the workloads of shard i of n.
func checkLost(t *testing.T, agg *aggregate.Aggregate, lost func(string, string) bool, i, n int) {
	t.Helper()
	selected := 0
	for ns, nsw := range agg.Namespaces {
		for key := range nsw.Workloads {
			if lost(ns, key) != (shardOf(ns, key, n) == i) {
				t.Fatalf("%s/%s: lost %v, shard %d", ns, key, lost(ns, key), shardOf(ns, key, n))
			}
			if lost(ns, key) {
				selected++
			}
		}
	}
	if selected == 0 {
		t.Fatal("nothing selected")
	}
}
