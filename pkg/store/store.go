// Package store persists the learned aggregate in ConfigMaps in the webhook's own namespace, so
// that learning survives restarts and every replica ends up with what all of them saw.
//
// Layout: ConfigMaps <name>-state-<i>, i = 0..S-1. Shard i is a complete aggregate document (the
// versioned JSON of aggregate.Aggregate, gzip-compressed in binaryData["state.json.gz"]) holding
// the workloads whose fnv-1a hash of "<namespace>/<kind>/<name>" is i modulo S. S is a power of
// two, recorded on each shard in a label; when a shard would outgrow the size limit S doubles.
//
// Safety rests on the aggregate's join being commutative, associative and idempotent:
//   - Readers join every ConfigMap carrying the state label, whatever S it was written with, so
//     duplicates left by an interrupted reshard or a concurrent writer are harmless.
//   - Save reads, joins, and writes each shard with the resourceVersion it read (optimistic
//     concurrency); on a conflict it starts over from a fresh read. A successful write therefore
//     only replaces content that was joined into it.
//   - Shards are written from the highest index down, and a shard drops a workload only if the
//     workload belongs to a higher shard, which this pass has already written. Doubling S moves
//     workloads from shard i to i+S only, so the new shards are written before the old ones
//     give anything up, and a process dying mid-way leaves duplicates, never gaps.
//   - A shard that cannot be decoded is skipped (logged, counted), and copied aside to
//     <name>-state-<i>-corrupt-<hash> before its slot is reused, so evidence is never lost.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

const (
	// DefaultMaxShardBytes keeps a shard well below the API server's 1 MiB ConfigMap limit.
	DefaultMaxShardBytes = 900 * 1024
	// DefaultMaxAttempts bounds how often Save starts over after a concurrent write.
	DefaultMaxAttempts = 20
	// maxShards bounds resharding (and what a stray label or name can make us write).
	maxShards = 1024
	// metadataSlack is added to a shard's measured size for what the API server adds to the
	// object (uid, timestamps, managedFields).
	metadataSlack = 2048
)

// Options configure a Store.
type Options struct {
	// Namespace and Name place the shards: <Name>-state-<i> in Namespace (the webhook's own).
	Namespace, Name string
	// Reader must read from the API server, not an informer cache (pass the manager's
	// APIReader): a stale read would make every write conflict, or worse, look current.
	Reader client.Reader
	// Client writes the shards.
	Client client.Client
	// Log receives corrupted-shard errors and resharding notices.
	Log logr.Logger
	// MaxShardBytes limits one shard ConfigMap as serialised to JSON (binaryData in base64,
	// plus room for server metadata), which is more than the API server counts; default 900 KiB.
	MaxShardBytes int
	// InitialShards is the shard count of a new state, rounded up to a power of two; default 1.
	// A larger count already in use wins.
	InitialShards int
	// MaxAttempts bounds the read-join-write rounds of one Save; default DefaultMaxAttempts.
	MaxAttempts int
}

// Stats describe the state for metrics. Counters are cumulative over the Store's life; the
// rest describe the last successful Save.
type Stats struct {
	Shards       int   // shard count S
	ShardBytes   []int // size of each shard ConfigMap by index, as MaxShardBytes measures it
	Workloads    int   // workloads in the joined state
	RawBytes     int   // JSON size of all shards before compression
	PayloadBytes int   // compressed size of all shards
	Writes       int64 // shard ConfigMaps created or updated
	Conflicts    int64 // Save rounds started over because another writer got there first
	Corrupt      int64 // distinct undecodable shard contents seen by Load or Save
}

// Store reads and writes the sharded state. Its methods are safe for concurrent use.
type Store struct {
	opts Options

	mu          sync.Mutex
	stats       Stats
	seenCorrupt map[string]bool
}

// New checks opts and fills in defaults.
func New(opts Options) (*Store, error) {
	if opts.Namespace == "" || opts.Name == "" || opts.Reader == nil || opts.Client == nil {
		return nil, errors.New("store: Namespace, Name, Reader and Client are required")
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	if opts.MaxShardBytes <= 0 {
		opts.MaxShardBytes = DefaultMaxShardBytes
	}
	opts.InitialShards = nextPow2(min(max(opts.InitialShards, 1), maxShards))
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Store{opts: opts, seenCorrupt: map[string]bool{}}, nil
}

// Stats returns a copy of the current statistics.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ShardBytes = slices.Clone(st.ShardBytes)
	return st
}

// Load returns the join of every readable shard; corrupted ones are logged, counted and skipped.
func (s *Store) Load(ctx context.Context) (*aggregate.Aggregate, error) {
	shards, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	joined := aggregate.New("")
	for _, sh := range shards {
		if sh.agg != nil {
			joined.Absorb(sh.agg)
		}
	}
	return joined, nil
}

// Save joins agg with the stored state and writes the result back, starting over whenever
// another writer changed a shard in between. It returns the joined state (what other replicas
// learned included) under agg's replica name, for the caller to merge into memory. agg is
// only read, and must not change during the call.
func (s *Store) Save(ctx context.Context, agg *aggregate.Aggregate) (*aggregate.Aggregate, error) {
	delay := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		joined, err := s.save(ctx, agg)
		if err == nil {
			return joined, nil
		}
		if !retriable(err) || attempt >= s.opts.MaxAttempts {
			return nil, err
		}
		s.mu.Lock()
		s.stats.Conflicts++
		s.mu.Unlock()
		s.opts.Log.V(1).Info("state changed concurrently, saving again", "attempt", attempt, "reason", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay/2 + rand.N(delay)): // jitter, so replicas stop colliding
		}
		delay = min(2*delay, time.Second)
	}
}

// retriable errors mean a shard changed (or appeared, or vanished) since it was read.
func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err)
}

// shard is one state ConfigMap as read.
type shard struct {
	cm    *corev1.ConfigMap
	index int                  // -1 when the name is not <name>-state-<i>: joined, never written
	agg   *aggregate.Aggregate // nil when it could not be decoded
	err   error
}

// planned is the ConfigMap one shard is to become.
type planned struct {
	cm               *corev1.ConfigMap
	size, raw, count int
}

// save is one read-join-write round.
func (s *Store) save(ctx context.Context, agg *aggregate.Aggregate) (*aggregate.Aggregate, error) {
	shards, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	n := s.opts.InitialShards
	slots := map[int]*shard{}
	joined := aggregate.New(agg.Replica)
	for _, sh := range shards {
		if sh.agg != nil {
			joined.Absorb(sh.agg) // sh.agg's maps stay as read: layout uses them
			if c, err := strconv.Atoi(sh.cm.Labels[LabelShards]); err == nil && c > 0 && c <= maxShards {
				n = max(n, nextPow2(c))
			}
		}
		if sh.index >= 0 {
			slots[sh.index] = sh
			n = max(n, nextPow2(sh.index+1))
		}
	}

	joined.Merge(agg)

	var plan []planned
	for {
		if plan, err = s.layout(joined, slots, n); err != nil {
			return nil, err
		}
		big := slices.IndexFunc(plan, func(p planned) bool { return p.size > s.opts.MaxShardBytes })
		if big < 0 {
			break
		}
		if n >= maxShards || plan[big].count <= 1 {
			return nil, fmt.Errorf("state shard %d is %d bytes with %d shards, over the limit of %d", big, plan[big].size, n, s.opts.MaxShardBytes)
		}
		s.opts.Log.Info("state shard over the size limit, doubling the shard count", "shard", big, "bytes", plan[big].size, "shards", 2*n)
		n *= 2
	}

	// Highest index first: see the package comment.
	for i := n - 1; i >= 0; i-- {
		p, cur := plan[i], slots[i]
		if cur != nil && cur.agg != nil && sameContent(cur.cm, p.cm) {
			continue
		}
		if cur != nil && cur.agg == nil {
			if err := s.setAside(ctx, cur); err != nil {
				return nil, err
			}
		}
		if cur == nil {
			err = s.opts.Client.Create(ctx, p.cm)
		} else {
			err = s.opts.Client.Update(ctx, p.cm) // carries the resourceVersion read
		}
		if err != nil {
			return nil, fmt.Errorf("writing state shard %s: %w", p.cm.Name, err)
		}
		s.mu.Lock()
		s.stats.Writes++
		s.mu.Unlock()
	}

	st := Stats{Shards: n, ShardBytes: make([]int, n)}
	for i, p := range plan {
		st.ShardBytes[i] = p.size
		st.Workloads += p.count
		st.RawBytes += p.raw
		st.PayloadBytes += len(p.cm.BinaryData[PayloadKey])
	}
	s.mu.Lock()
	st.Writes, st.Conflicts, st.Corrupt = s.stats.Writes, s.stats.Conflicts, s.stats.Corrupt
	s.stats = st
	s.mu.Unlock()
	return joined, nil
}

// layout splits joined into n shards and builds their ConfigMaps on top of the ones read.
func (s *Store) layout(joined *aggregate.Aggregate, slots map[int]*shard, n int) ([]planned, error) {
	buckets := make([]*aggregate.Aggregate, n)
	counts := make([]int, n)
	for i := range buckets {
		buckets[i] = aggregate.New("")
	}
	put := func(i int, ns string, w *aggregate.Workload) {
		b, ok := buckets[i].Namespaces[ns]
		if !ok {
			b = &aggregate.Namespace{Workloads: map[string]*aggregate.Workload{}}
			buckets[i].Namespaces[ns] = b
		}
		if _, dup := b.Workloads[w.Key()]; !dup {
			counts[i]++
		}
		b.Workloads[w.Key()] = w
	}
	for ns, nsw := range joined.Namespaces {
		for key, w := range nsw.Workloads {
			put(shardOf(ns, key, n), ns, w)
		}
	}
	// A workload stored here that belongs to a lower shard stays until that shard holds it:
	// lower shards are written later, so dropping it now could lose it if the process died.
	// (With power-of-two counts this does not happen; it guards hand-made or foreign layouts.)
	for i, sh := range slots {
		if sh.agg == nil || i >= n {
			continue
		}
		for ns, nsw := range sh.agg.Namespaces {
			for key := range nsw.Workloads {
				if shardOf(ns, key, n) < i {
					put(i, ns, joined.Namespaces[ns].Workloads[key])
				}
			}
		}
	}

	plan := make([]planned, n)
	for i, b := range buckets {
		raw, compressed, err := encode(b)
		if err != nil {
			return nil, err
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: shardName(s.opts.Name, i), Namespace: s.opts.Namespace}}
		if cur := slots[i]; cur != nil {
			cm = cur.cm.DeepCopy() // keeps the resourceVersion for the conditional update
		}
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels[LabelManagedBy] = ManagedBy
		cm.Labels[LabelState] = s.opts.Name
		cm.Labels[LabelShards] = strconv.Itoa(n)
		cm.Data = map[string]string{ReadmeKey: readme(s.opts.Name, i, n)}
		cm.BinaryData = map[string][]byte{PayloadKey: compressed}
		size, err := objectSize(cm)
		if err != nil {
			return nil, err
		}
		plan[i] = planned{cm: cm, size: size, raw: len(raw), count: counts[i]}
	}
	return plan, nil
}

// sameContent reports whether writing want over cur would change nothing we own.
func sameContent(cur, want *corev1.ConfigMap) bool {
	return maps.Equal(cur.Labels, want.Labels) && maps.Equal(cur.Data, want.Data) &&
		maps.EqualFunc(cur.BinaryData, want.BinaryData, bytes.Equal)
}

// read lists every shard of this state from the API server and decodes it.
func (s *Store) read(ctx context.Context) ([]*shard, error) {
	var list corev1.ConfigMapList
	if err := s.opts.Reader.List(ctx, &list, client.InNamespace(s.opts.Namespace), client.MatchingLabels{LabelState: s.opts.Name}); err != nil {
		return nil, fmt.Errorf("listing state shards: %w", err)
	}
	out := make([]*shard, 0, len(list.Items))
	for i := range list.Items {
		sh := &shard{cm: &list.Items[i], index: shardIndex(s.opts.Name, list.Items[i].Name)}
		if sh.index >= maxShards {
			sh.index = -1
		}
		if sh.agg, sh.err = Decode(sh.cm); sh.err != nil {
			s.noteCorrupt(sh)
		}
		out = append(out, sh)
	}
	return out, nil
}

// noteCorrupt logs and counts an undecodable shard once per distinct content.
func (s *Store) noteCorrupt(sh *shard) {
	key := sh.cm.Name + "/" + contentHash(sh.cm)
	s.mu.Lock()
	seen := s.seenCorrupt[key]
	if !seen {
		s.seenCorrupt[key] = true
		s.stats.Corrupt++
	}
	s.mu.Unlock()
	if !seen {
		s.opts.Log.Error(sh.err, "state shard cannot be read; using the other shards", "configmap", sh.cm.Namespace+"/"+sh.cm.Name)
	}
}

// setAside copies an undecodable shard to <shard>-corrupt-<hash>, without the state label, so
// that overwriting its slot never destroys the evidence. Copying the same content twice is a
// no-op.
func (s *Store) setAside(ctx context.Context, sh *shard) error {
	name := sh.cm.Name + "-corrupt-" + contentHash(sh.cm)
	reason := sh.err.Error()
	if len(reason) > 256 {
		reason = reason[:256]
	}
	cp := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   s.opts.Namespace,
			Labels:      map[string]string{LabelManagedBy: ManagedBy, LabelCorrupt: s.opts.Name},
			Annotations: map[string]string{AnnotationCopiedFrom: sh.cm.Name, AnnotationReason: reason},
		},
		Data:       sh.cm.Data,
		BinaryData: sh.cm.BinaryData,
	}
	switch err := s.opts.Client.Create(ctx, cp); {
	case apierrors.IsAlreadyExists(err):
		return nil
	case err != nil:
		return fmt.Errorf("copying corrupt state shard %s aside (not overwriting it): %w", sh.cm.Name, err)
	}
	s.opts.Log.Error(sh.err, "corrupt state shard copied aside; overwriting it", "configmap", sh.cm.Namespace+"/"+sh.cm.Name, "copy", name)
	return nil
}

// objectSize is the ConfigMap's JSON size plus room for what the API server adds.
func objectSize(cm *corev1.ConfigMap) (int, error) {
	data, err := json.Marshal(cm)
	return len(data) + metadataSlack, err
}
