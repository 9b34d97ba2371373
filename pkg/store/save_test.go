package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// countingReader counts the reads a Save makes.
type countingReader struct {
	client.Reader
	gets, lists atomic.Int64
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.gets.Add(1)
	return r.Reader.Get(ctx, key, obj, opts...)
}

func (r *countingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	r.lists.Add(1)
	return r.Reader.List(ctx, list, opts...)
}

// TestIncrementalSave: after a Load, saving a few changed workloads reads and writes only
// their shards, by name, and lists nothing.
func TestIncrementalSave(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	const raw = 64 << 10
	base := synthetic("r1", 0, 2000, 21)
	mustSave(t, newStore(t, c, func(o *Options) { o.MaxRawBytes = raw }), base)

	reads := &countingReader{Reader: c}
	s := newStore(t, c, func(o *Options) { o.Reader, o.MaxRawBytes = reads, raw })
	mustLoad(t, s)
	shards := s.Stats().Shards
	if shards < 16 {
		t.Fatalf("%d shards: the test wants many", shards)
	}
	writes, lists := s.Stats().Writes, reads.lists.Load()
	change := synthetic("r1", 5000, 3, 22)
	if back := mustSave(t, s, change); workloads(back) != 0 {
		t.Errorf("handed back %d workloads the caller already held", workloads(back))
	}
	touched := map[int]bool{}
	for ns, nsw := range change.Namespaces {
		for key := range nsw.Workloads {
			touched[shardOf(ns, key, shards)] = true
		}
	}
	st := s.Stats()
	if got := st.Writes - writes; got != int64(len(touched)) || reads.lists.Load() != lists || reads.gets.Load() != int64(len(touched)) {
		t.Errorf("saving 3 workloads of %d shards: %d writes, %d gets, %d lists; want %d, %d, 0",
			len(touched), got, reads.gets.Load(), reads.lists.Load()-lists, len(touched), len(touched))
	}
	for _, cm := range stateMapsOnly(t, c) {
		if n, ok := cm.Data[RawSizeKey]; !ok || n == "" {
			t.Errorf("%s has no %s", cm.Name, RawSizeKey)
		}
	}
	sameState(t, mustLoad(t, s), union(base, change))
}

// TestIncrementalReshard: a change that makes its shard outgrow the limit reshards the whole
// state, and nothing is lost.
func TestIncrementalReshard(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	s := newStore(t, c, func(o *Options) { o.MaxRawBytes = 64 << 10 })
	base := synthetic("r1", 0, 30, 23)
	mustSave(t, s, base)
	if s.Stats().Shards != 1 {
		t.Fatalf("%d shards", s.Stats().Shards)
	}
	all := base
	for i := range 20 {
		more := synthetic("r1", 100+20*i, 20, uint64(24+i))
		mustSave(t, s, more)
		all = union(all, more)
	}
	st := s.Stats()
	if st.Shards < 8 {
		t.Errorf("%d shards for %d bytes of JSON under a %d limit", st.Shards, st.RawBytes, 64<<10)
	}
	for _, cm := range stateMapsOnly(t, c) {
		if _, raw, err := decodeRaw(&cm); err != nil || raw > 64<<10 {
			t.Errorf("%s: %d bytes of JSON, %v", cm.Name, raw, err)
		}
	}
	sameState(t, mustLoad(t, s), all)
}

// TestOversizedWorkload: a workload that alone exceeds a shard's limits is refused and
// reported; every other workload is saved, in its own shard or not.
func TestOversizedWorkload(t *testing.T) {
	for _, full := range []bool{false, true} {
		c := fake.NewClientBuilder().Build()
		s := newStore(t, c, func(o *Options) { o.InitialShards, o.MaxShardBytes = 4, 64<<10 })
		base := synthetic("r1", 0, 100, 30)
		if !full {
			mustSave(t, s, base)
		}
		big := synthetic("r1", 500, 1, 31)
		var ns, key string
		for n, nsw := range big.Namespaces {
			for k, w := range nsw.Workloads {
				ns, key = n, k
				r := rand.New(rand.NewPCG(1, 2))
				for range 20000 { // random, so it does not compress
					w.Images = append(w.Images, fmt.Sprintf("%016x", r.Uint64()))
				}
			}
		}
		changes := union(big, synthetic("r1", 200, 50, 32))
		if full {
			changes = union(changes, base)
		}
		_, err := s.Save(context.Background(), changes)
		var se *SaveError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), ns+"/"+key) || se.Unsaved(ns, key) {
			t.Fatalf("full %v: err %v", full, err)
		}
		if s.Stats().Oversized != 1 {
			t.Errorf("oversized %d", s.Stats().Oversized)
		}
		want := union(base, synthetic("r1", 200, 50, 32))
		sameState(t, mustLoad(t, s), want)
	}
}

// failShard fails every write of one shard with a non-retriable error.
func failShard(c client.Client, name string) *hookClient {
	return &hookClient{Client: c, before: func(_ context.Context, obj client.Object) error {
		if obj.GetName() == name {
			return errors.New("admission webhook denied the request")
		}
		return nil
	}}
}

// TestUnwritableShard: a shard the API server refuses does not stop the others; the error
// names the unsaved workloads, and a reshard that cannot write a new shard keeps its
// workloads in the old one.
func TestUnwritableShard(t *testing.T) {
	ctx := context.Background()
	t.Run("incremental", func(t *testing.T) {
		c := fake.NewClientBuilder().Build()
		base := synthetic("r1", 0, 200, 40)
		mustSave(t, newStore(t, c, func(o *Options) { o.InitialShards = 4 }), base)
		s := newStore(t, c, func(o *Options) { o.Client = failShard(c, "psa-state-2") })
		mustLoad(t, s)
		change := synthetic("r1", 1000, 40, 41)
		_, err := s.Save(ctx, change)
		var se *SaveError
		if !errors.As(err, &se) {
			t.Fatalf("err %v", err)
		}
		saved := aggregate.New("")
		for ns, nsw := range change.Namespaces {
			for key, w := range nsw.Workloads {
				if se.Unsaved(ns, key) != (shardOf(ns, key, 4) == 2) {
					t.Errorf("%s/%s: unsaved %v", ns, key, se.Unsaved(ns, key))
				}
				if !se.Unsaved(ns, key) {
					put(saved, ns, key, w)
				}
			}
		}
		sameState(t, mustLoad(t, s), union(base, saved))
		if s.Stats().Unwritable != 1 {
			t.Errorf("unwritable %d", s.Stats().Unwritable)
		}
	})
	t.Run("reshard", func(t *testing.T) {
		c := fake.NewClientBuilder().Build()
		base := synthetic("r1", 0, 300, 42)
		mustSave(t, newStore(t, c), base)
		// Doubling 1 → 2 → 4…: shard 1 cannot be written, so shard 0 must keep its workloads.
		s := newStore(t, c, func(o *Options) { o.Client, o.MaxRawBytes = failShard(c, "psa-state-1"), 256<<10 })
		_, err := s.Save(ctx, synthetic("r1", 300, 10, 43))
		if err == nil {
			t.Fatal("no error")
		}
		sameState(t, union(mustLoad(t, s), base), mustLoad(t, s))
	})
}

func stateMapsOnly(t *testing.T, c client.Reader) []corev1.ConfigMap {
	shards, _ := stateMaps(t, c)
	return shards
}

// TestSpliceSameShards: a save into shards the caller holds (spliced: only the changed records
// are decoded and encoded) writes exactly the ConfigMaps a save that decodes every shard whole
// writes, for new workloads and for workloads joined into stored ones.
func TestSpliceSameShards(t *testing.T) {
	base := synthetic("r1", 0, 400, 40)
	seed := fake.NewClientBuilder().Build()
	mustSave(t, newStore(t, seed, func(o *Options) { o.InitialShards = 8 }), base)
	copies := func() client.Client {
		b := fake.NewClientBuilder()
		for _, cm := range stateMapsOnly(t, seed) {
			cm.ResourceVersion = ""
			b = b.WithObjects(cm.DeepCopy())
		}
		return b.Build()
	}
	// New workloads, and stored ones seen by another replica with more images and accounts.
	change := union(synthetic("r1", 1000, 30, 41), synthetic("r2", 0, 30, 42))

	spliced, whole := copies(), copies()
	logs := &logSink{}
	s := newStore(t, spliced, func(o *Options) { o.Log = logs.logger(t) })
	mustLoad(t, s) // the caller holds every shard: the save splices
	if back := mustSave(t, s, change); workloads(back) != 0 {
		t.Errorf("spliced save handed back %d workloads", workloads(back))
	}
	if logs.contains("not spliced") {
		t.Error("a shard the caller holds was joined whole")
	}
	mustSave(t, newStore(t, whole), change) // nothing held: every shard decoded whole

	want := map[string]corev1.ConfigMap{}
	for _, cm := range stateMapsOnly(t, whole) {
		want[cm.Name] = cm
	}
	got := stateMapsOnly(t, spliced)
	if len(got) != len(want) || len(got) != 8 {
		t.Fatalf("%d shards spliced, %d whole, want 8", len(got), len(want))
	}
	for _, cm := range got {
		w := want[cm.Name]
		if !sameContent(&cm, &w) {
			a, _ := inflate(&cm)
			b, _ := inflate(&w)
			t.Errorf("%s differs: spliced %d bytes of JSON, whole %d", cm.Name, len(a), len(b))
		}
	}
	sameState(t, mustLoad(t, newStore(t, spliced)), union(base, change))
}

// TestSplitScan: split finds the same records encoding/json does, whatever the strings in
// them hold, and refuses what is not a state document.
func TestSplitScan(t *testing.T) {
	agg := synthetic("r1", 0, 30, 43)
	for _, nsw := range agg.Namespaces {
		for _, w := range nsw.Workloads {
			w.Images = append(w.Images, `a"}{,]\`, "é\u2028<&>")
			break
		}
	}
	odd := inNamespace(synthetic("r1", 100, 2, 44), `ns "quoted" \ <&>`)
	agg.Merge(odd)
	raw, compressed, err := encode(agg)
	if err != nil {
		t.Fatal(err)
	}
	cm := func(raw, compressed []byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{Data: map[string]string{RawSizeKey: fmt.Sprint(len(raw))}, BinaryData: map[string][]byte{PayloadKey: compressed}}
	}
	got, err := split(cm(raw, compressed))
	if err != nil {
		t.Fatal(err)
	}
	var want splitDocument
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(got.Namespaces) != len(want.Namespaces) {
		t.Fatalf("%d namespaces, want %d", len(got.Namespaces), len(want.Namespaces))
	}
	for name, ns := range want.Namespaces {
		g := got.Namespaces[name]
		if g == nil || len(g.Workloads) != len(ns.Workloads) {
			t.Fatalf("namespace %q: records differ", name)
		}
		for key, rec := range ns.Workloads {
			if !bytes.Equal(g.Workloads[key], rec) {
				t.Errorf("%s/%s: scanned %.60s…, want %.60s…", name, key, g.Workloads[key], rec)
			}
		}
	}
	if again, _ := got.marshal(); !bytes.Equal(again, raw) {
		t.Error("the scanned document does not marshal to the bytes it was read from")
	}
	for _, bad := range []string{`{"apiVersion":"pod-security-advisor.io/v1","kind":"Aggregate","namespaces":{"a":{"workloads":{"k":{"x":1}}}}`,
		`{"apiVersion":"pod-security-advisor.io/v2","kind":"Aggregate","namespaces":{}}`,
		`{"apiVersion":"pod-security-advisor.io/v1","kind":"Aggregate","namespaces":{}} x`,
		`{"apiVersion":"pod-security-advisor.io/v1","kind":"Aggregate","namespaces":{"a":null}}`} {
		c, _ := compress([]byte(bad))
		if _, err := split(cm([]byte(bad), c)); err == nil {
			t.Errorf("split %s: no error", bad)
		}
	}
}
