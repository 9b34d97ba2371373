package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

const testNS = "psa-system"

// logSink collects log lines, so tests can check that a corrupted shard is named.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logger(t testing.TB) logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		l.lines = append(l.lines, args)
		l.mu.Unlock()
		t.Log(args)
	}, funcr.Options{Verbosity: 1})
}

func (l *logSink) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// hookClient calls before ahead of every Create and Update; an error from it fails the write.
type hookClient struct {
	client.Client
	before func(ctx context.Context, obj client.Object) error
}

func (h *hookClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := h.before(ctx, obj); err != nil {
		return err
	}
	return h.Client.Create(ctx, obj, opts...)
}

func (h *hookClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := h.before(ctx, obj); err != nil {
		return err
	}
	return h.Client.Update(ctx, obj, opts...)
}

func newStore(t testing.TB, c client.Client, mutate ...func(*Options)) *Store {
	t.Helper()
	o := Options{Namespace: testNS, Name: "psa", Reader: c, Client: c}
	for _, m := range mutate {
		m(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stateMaps lists the state shards (by label) and every ConfigMap in the namespace.
func stateMaps(t testing.TB, c client.Reader) (shards, all []corev1.ConfigMap) {
	t.Helper()
	var l corev1.ConfigMapList
	if err := c.List(context.Background(), &l, client.InNamespace(testNS)); err != nil {
		t.Fatal(err)
	}
	for _, cm := range l.Items {
		if cm.Labels[LabelState] == "psa" {
			shards = append(shards, cm)
		}
	}
	return shards, l.Items
}

func mustSave(t testing.TB, s *Store, agg *aggregate.Aggregate) *aggregate.Aggregate {
	t.Helper()
	joined, err := s.Save(context.Background(), agg)
	if err != nil {
		t.Fatal(err)
	}
	return joined
}

func mustLoad(t testing.TB, s *Store) *aggregate.Aggregate {
	t.Helper()
	a, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRoundTrip(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	s := newStore(t, c)
	if a := mustLoad(t, s); len(a.Namespaces) != 0 {
		t.Fatal("empty store loaded state")
	}
	agg := synthetic("r1", 0, 50, 1)
	if back := mustSave(t, s, agg); workloads(back) != 0 {
		t.Errorf("a first save handed back %d workloads it did not have", workloads(back))
	}
	sameState(t, mustLoad(t, s), agg)

	shards, _ := stateMaps(t, c)
	if len(shards) != 1 || shards[0].Name != "psa-state-0" {
		t.Fatalf("shards %v", shards)
	}
	cm := shards[0]
	for k, v := range map[string]string{LabelManagedBy: ManagedBy, LabelState: "psa", LabelShards: "1"} {
		if cm.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cm.Labels[k], v)
		}
	}
	if !strings.Contains(cm.Data[ReadmeKey], `"psa-policy"`) {
		t.Errorf("README does not point at the policy: %q", cm.Data[ReadmeKey])
	}
	if got, err := Decode(&cm); err != nil {
		t.Fatal(err)
	} else {
		sameState(t, got, agg)
	}

	// Saving what is already stored writes nothing.
	writes := s.Stats().Writes
	mustSave(t, s, agg)
	if s.Stats().Writes != writes {
		t.Error("unchanged state rewritten")
	}
}

// TestShardsUnderCap stores 10,000 workloads and checks every ConfigMap, marshalled whole,
// stays under the cap: at the default cap and at a low cap that forces several doublings.
func TestShardsUnderCap(t *testing.T) {
	agg := synthetic("r1", 0, 10000, 2)
	for _, limit := range []int{DefaultMaxShardBytes, 64 << 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			c := fake.NewClientBuilder().Build()
			s := newStore(t, c, func(o *Options) { o.MaxShardBytes = limit })
			mustSave(t, s, agg)
			shards, _ := stateMaps(t, c)
			largest := 0
			for _, cm := range shards {
				data, err := json.Marshal(cm)
				if err != nil {
					t.Fatal(err)
				}
				largest = max(largest, len(data))
				if len(data) > limit {
					t.Errorf("%s is %d bytes, over %d", cm.Name, len(data), limit)
				}
			}
			st := s.Stats()
			if st.Shards != len(shards) || st.Workloads != 10000 {
				t.Errorf("stats %d shards %d workloads, stored %d shards", st.Shards, st.Workloads, len(shards))
			}
			sameState(t, mustLoad(t, s), agg)
			t.Logf("10,000 workloads, cap %d: %d shards, largest ConfigMap %d bytes; per workload %.0f bytes compressed, %.0f bytes raw JSON",
				limit, st.Shards, largest, float64(st.PayloadBytes)/10000, float64(st.RawBytes)/10000)
		})
	}
}

// TestReshardInterrupted kills the resharding Save after every possible number of writes and
// checks that the state can always be loaded whole, and that the next Save completes it.
func TestReshardInterrupted(t *testing.T) {
	before := synthetic("r1", 0, 600, 3)
	after := union(before, synthetic("r2", 500, 300, 4))
	const limit = 16 << 10
	for k := 0; ; k++ {
		c := fake.NewClientBuilder().Build()
		mustSave(t, newStore(t, c), before)
		writes := 0
		dying := &hookClient{Client: c, before: func(context.Context, client.Object) error {
			if writes == k {
				return errors.New("process died")
			}
			writes++
			return nil
		}}
		s := newStore(t, c, func(o *Options) { o.Client, o.MaxShardBytes = dying, limit })
		_, err := s.Save(context.Background(), after)
		loaded := mustLoad(t, s)
		sameState(t, union(loaded, before), loaded) // nothing stored before was lost
		if err == nil {                             // k exceeded the number of writes a reshard needs
			if k < 3 {
				t.Fatalf("resharding took only %d writes", k)
			}
			break
		}
		// The next Save (no crash) completes the layout: each workload in exactly one shard.
		s = newStore(t, c, func(o *Options) { o.MaxShardBytes = limit })
		mustSave(t, s, after)
		sameState(t, mustLoad(t, s), after)
		shards, _ := stateMaps(t, c)
		seen := 0
		for i := range shards {
			a, err := Decode(&shards[i])
			if err != nil {
				t.Fatal(err)
			}
			seen += workloads(a)
		}
		if seen != workloads(after) || len(shards) != s.Stats().Shards {
			t.Fatalf("after %d writes: %d workload copies in %d shards, want %d in %d", k, seen, len(shards), workloads(after), s.Stats().Shards)
		}
	}
}

// TestMisplacedWorkloadKept: a workload stored in a shard above its own (a hand-made or
// foreign layout) stays there until its own shard holds it, even if Save dies in between.
func TestMisplacedWorkloadKept(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	agg := synthetic("r1", 0, 50, 12)
	var ns, key string
	for n, nsw := range agg.Namespaces {
		for k := range nsw.Workloads {
			if shardOf(n, k, 2) == 0 {
				ns, key = n, k
			}
		}
	}
	misplaced := aggregate.New("")
	misplaced.Namespaces[ns] = &aggregate.Namespace{Workloads: map[string]*aggregate.Workload{key: agg.Namespaces[ns].Workloads[key]}}
	_, payload, err := encode(misplaced)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{BinaryData: map[string][]byte{PayloadKey: payload}}
	cm.Namespace, cm.Name = testNS, "psa-state-1"
	cm.Labels = map[string]string{LabelState: "psa", LabelShards: "2"}
	if err := c.Create(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	writes := 0
	dying := &hookClient{Client: c, before: func(context.Context, client.Object) error {
		if writes == 1 {
			return errors.New("process died")
		}
		writes++
		return nil
	}}
	other := synthetic("r2", 100, 1, 13)
	s := newStore(t, c, func(o *Options) { o.Client, o.InitialShards = dying, 2 })
	if _, err := s.Save(context.Background(), other); err == nil {
		t.Fatal("did not die")
	}
	sameState(t, union(mustLoad(t, s), misplaced), mustLoad(t, s))
	mustSave(t, newStore(t, c), other)
	sameState(t, mustLoad(t, s), union(misplaced, other))
}

// corruptions are the ways a shard can be unreadable.
var corruptions = map[string]func(cm *corev1.ConfigMap){
	"bad gzip":   func(cm *corev1.ConfigMap) { cm.BinaryData[PayloadKey] = []byte("not gzip at all") },
	"bad json":   func(cm *corev1.ConfigMap) { cm.BinaryData[PayloadKey] = gz(`{"apiVersion":`) },
	"no payload": func(cm *corev1.ConfigMap) { delete(cm.BinaryData, PayloadKey) },
	"foreign apiVersion": func(cm *corev1.ConfigMap) {
		cm.BinaryData[PayloadKey] = gz(`{"apiVersion":"pod-security-advisor.io/v2","kind":"Aggregate","namespaces":{}}`)
	},
}

func gz(s string) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write([]byte(s))
	w.Close()
	return buf.Bytes()
}

// TestCorruptShard: an unreadable shard is logged by name, counted and skipped; the rest
// loads; the next Save copies it aside before overwriting its slot, and nothing is lost.
func TestCorruptShard(t *testing.T) {
	for name, corrupt := range corruptions {
		t.Run(name, func(t *testing.T) {
			testCorruptShard(t, fake.NewClientBuilder().Build(), corrupt)
		})
	}
}

func testCorruptShard(t *testing.T, c client.Client, corrupt func(*corev1.ConfigMap)) {
	ctx := context.Background()
	var logs logSink
	s := newStore(t, c, func(o *Options) { o.InitialShards, o.Log = 4, logs.logger(t) })
	agg := synthetic("r1", 0, 400, 5)
	mustSave(t, s, agg)

	// Corrupt shard 1 the way kubectl edit would: a plain update.
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "psa-state-1"}, &cm); err != nil {
		t.Fatal(err)
	}
	lost, err := Decode(&cm)
	if err != nil {
		t.Fatal(err)
	}
	corrupt(&cm)
	if err := c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	evidence := cm.DeepCopy()

	reader := newStore(t, c, func(o *Options) { o.Log = logs.logger(t) })
	loaded := mustLoad(t, reader)
	if got, want := workloads(loaded), workloads(agg)-workloads(lost); got != want {
		t.Fatalf("loaded %d workloads, want the other shards' %d", got, want)
	}
	if reader.Stats().Corrupt != 1 || !logs.contains("psa-state-1") {
		t.Fatalf("corrupt shard not reported: %d", reader.Stats().Corrupt)
	}
	if u := reader.Unreadable(); len(u) != 1 || u[0].Name != "psa-state-1" || !strings.HasPrefix(u[0].Copy, "psa-state-1-corrupt-") {
		t.Fatalf("unreadable %+v", u)
	}
	mustLoad(t, reader)
	if reader.Stats().Corrupt != 1 {
		t.Error("the same corrupt shard counted twice")
	}

	// A replica that still remembers everything saves what the shard held: slot rewritten.
	mustSave(t, reader, lost)
	sameState(t, mustLoad(t, reader), agg)
	mustSave(t, reader, agg)
	_, all := stateMaps(t, c)
	var copies []corev1.ConfigMap
	for _, cm := range all {
		if cm.Labels[LabelCorrupt] == "psa" {
			copies = append(copies, cm)
		}
	}
	if len(copies) != 1 {
		t.Fatalf("%d copies of the corrupt shard", len(copies))
	}
	cp := copies[0]
	if !strings.HasPrefix(cp.Name, "psa-state-1-corrupt-") || cp.Labels[LabelState] != "" || cp.Annotations[AnnotationCopiedFrom] != "psa-state-1" {
		t.Errorf("copy %s labels %v annotations %v", cp.Name, cp.Labels, cp.Annotations)
	}
	if !bytes.Equal(cp.BinaryData[PayloadKey], evidence.BinaryData[PayloadKey]) || cp.Data[ReadmeKey] != evidence.Data[ReadmeKey] {
		t.Error("copy differs from the corrupt shard")
	}
	if !logs.contains(cp.Name) {
		t.Error("copy not logged")
	}
}

func TestDeletedShardRecreated(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	s := newStore(t, c, func(o *Options) { o.InitialShards = 2 })
	agg := synthetic("r1", 0, 200, 6)
	mustSave(t, s, agg)
	cm := &corev1.ConfigMap{}
	cm.Namespace, cm.Name = testNS, "psa-state-1"
	if err := c.Delete(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	if workloads(mustLoad(t, s)) >= workloads(agg) {
		t.Fatal("shard 1 held nothing")
	}
	mustSave(t, s, agg)
	shards, _ := stateMaps(t, c)
	if len(shards) != 2 {
		t.Fatalf("%d shards", len(shards))
	}
	sameState(t, mustLoad(t, s), agg)
}

// TestConflictMerge: replica B saves between replica A's read and A's first update, so A's
// update conflicts; A must start over and keep B's learning.
func TestConflictMerge(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	base := synthetic("a", 0, 100, 7)
	mustSave(t, newStore(t, c, func(o *Options) { o.InitialShards = 2 }), base)

	a := union(base, synthetic("a", 100, 100, 8)) // A learned 100..199
	a.Replica = "a"
	b := synthetic("b", 150, 100, 9) // B learned 150..249: overlapping, with other pods
	storeB := newStore(t, c)
	injected := false
	racing := &hookClient{Client: c, before: func(ctx context.Context, obj client.Object) error {
		if !injected {
			injected = true
			mustSave(t, storeB, b)
		}
		return nil
	}}
	storeA := newStore(t, c, func(o *Options) { o.Client = racing })
	want := union(a, b)
	sameState(t, union(a, mustSave(t, storeA, a)), want) // B's learning handed back
	sameState(t, mustLoad(t, storeA), want)
	if storeA.Stats().Conflicts == 0 {
		t.Error("no conflict happened")
	}
}

// TestConflictExhausted: a writer that always loses gives up with the conflict error.
func TestConflictExhausted(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	agg := synthetic("a", 0, 10, 10)
	mustSave(t, newStore(t, c), agg)
	losing := &hookClient{Client: c, before: func(context.Context, client.Object) error {
		return apierrors.NewConflict(corev1.Resource("configmaps"), "psa-state-0", errors.New("always"))
	}}
	s := newStore(t, c, func(o *Options) { o.Client, o.MaxAttempts = losing, 3 })
	_, err := s.Save(context.Background(), synthetic("a", 10, 10, 11))
	if !apierrors.IsConflict(err) || s.Stats().Conflicts != 2 {
		t.Fatalf("err %v conflicts %d", err, s.Stats().Conflicts)
	}
}
