// Package store persists the learned aggregate in ConfigMaps in the webhook's own namespace, so
// that learning survives restarts and every replica ends up with what all of them saw.
//
// Layout: ConfigMaps <name>-state-<i>, i = 0..S-1. Shard i is a complete aggregate document (the
// versioned JSON of aggregate.Aggregate, gzip-compressed in binaryData["state.json.gz"]) holding
// the workloads whose fnv-1a hash of "<namespace>/<kind>/<name>" is i modulo S. S is a power of
// two, recorded on each shard in a label; when a shard would outgrow a size limit S doubles.
// The limits are the ConfigMap as the API server stores it (MaxShardBytes, below its 1 MiB) and
// the uncompressed JSON (MaxRawBytes, 1 MiB), recorded in data["state.json.bytes"]: a reader
// inflates no shard beyond what it says, so a gzip bomb costs at most a few MiB (see Decode).
//
// Saving is incremental: the caller hands Save only the workloads that changed since its last
// successful save, and Save reads, joins and writes only the shards those belong to, each by
// name with the resourceVersion it read. A shard whose version the caller holds is spliced:
// only the changed records are decoded and encoded, the others copied as stored (splice.go).
// Only Load, and a Save that must reshard or fold, list and decode every shard.
//
// The state is held within the caller's workload budget (Options.MaxWorkloads): Load folds what
// it joins as the learner folds (pkg/aggregate/budget.go), and when records the learner folded
// into overflow make the stored state outgrow the budget by an eighth, a full save folds it.
//
// Safety rests on the aggregate's join being commutative, associative and idempotent:
//   - Readers join every ConfigMap carrying the state label, whatever S it was written with, so
//     duplicates left by an interrupted reshard or a concurrent writer are harmless.
//   - A shard is only ever replaced by the join of what it held (as read, with its
//     resourceVersion) and what is added: a write that conflicts reads that shard again, joins
//     again and retries. A successful write therefore only replaces content that was joined
//     into it, and an incremental save never removes anything.
//   - A full save writes shards from the highest index down, and a shard drops a record only
//     if the shard that now holds it (its own, or the one of the overflow record it was folded
//     into) was written in this pass; shards that kept records for a lower one give them up
//     once that is written. Doubling S moves workloads from shard i to i+S only, so the new
//     shards are written before the old ones give anything up, and a process dying mid-way, or
//     a shard that cannot be written, leaves duplicates, never gaps.
//   - A shard that cannot be written (over a limit even with S at its maximum, or refused by
//     the API server) does not stop the others: they are written, and the caller keeps the
//     unsaved workloads for its next attempt (SaveError).
//   - A shard that cannot be decoded (seen by Load, Save or the watch) is counted and logged at
//     once, copied to <name>-state-<i>-corrupt-<hash> before its slot is reused, so evidence is
//     never lost, and the caller is asked to save again everything it holds of that shard
//     (Memory.Resave), which rewrites it from memory without waiting for new learning. A
//     deleted shard is handled the same way.
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
	"strings"
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
	// DefaultMaxAttempts bounds how often Save writes one shard again after a concurrent write.
	DefaultMaxAttempts = 20
	// parallelShards is how many shards an incremental save reads and writes at a time.
	parallelShards = 4
	// maxShards bounds resharding (and what a stray label or name can make us write).
	maxShards = 1024
	// metadataSlack is added to a shard's measured size for what the API server adds to the
	// object (uid, timestamps, managedFields).
	metadataSlack = 2048
	// readTimeout bounds the API calls the watch makes on its own (copying a corrupt shard).
	readTimeout = 10 * time.Second
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
	// MaxRawBytes limits the uncompressed JSON of one shard; default and maximum
	// DefaultMaxRawBytes (every reader decodes with that bound).
	MaxRawBytes int
	// InitialShards is the shard count of a new state, rounded up to a power of two; default 1.
	// A larger count already in use wins.
	InitialShards int
	// MaxAttempts bounds the read-join-write rounds of one shard in one Save; default
	// DefaultMaxAttempts.
	MaxAttempts int
	// MaxWorkloads is the learner's workload budget (aggregate.MaxWorkloads; 0: none). What
	// Load returns is within it, and so is the stored state, to within an eighth: records the
	// learner folds into overflow stay stored until the stored state outgrows the budget by
	// that much, and the next save then folds the stored state as the learner does.
	MaxWorkloads int
}

// Stats describe the state for metrics. Counters are cumulative over the Store's life; the
// rest describe the shards as last read or written.
type Stats struct {
	Shards       int   // shard count S
	ShardBytes   []int // size of each shard ConfigMap by index, as MaxShardBytes measures it
	Workloads    int   // workloads in the shards (a workload in two shards counts twice)
	RawBytes     int   // JSON size of all shards before compression
	PayloadBytes int   // compressed size of all shards
	Writes       int64 // shard ConfigMaps created or updated
	BytesWritten int64 // their sizes, as MaxShardBytes measures them
	Conflicts    int64 // shard writes started over because another writer got there first
	Corrupt      int64 // distinct undecodable shard contents seen
	Oversized    int64 // workloads refused because alone they exceed a shard's limits
	Unwritable   int64 // shard writes given up (over a limit at the maximum S, or refused)
}

// Store reads and writes the sharded state. Its methods are safe for concurrent use.
type Store struct {
	opts Options

	mu          sync.Mutex
	stats       Stats
	shards      int                  // S as last seen; 0 until the state was listed once
	known       map[string]shardInfo // by ConfigMap name: the version the caller holds
	seenCorrupt map[string]bool
	unreadable  []LostShard // what Load could not read
	mem         Memory      // set by Watch
	compacted   int         // records the last full save left
}

// shardInfo is what the store knows of one shard: the resourceVersion whose content the
// caller's memory is known to hold (Load's result, a watch event joined, or a write whose
// result was handed back), and its sizes.
type shardInfo struct {
	rv                        string
	size, raw, payload, count int
}

// Memory is the caller's in-memory aggregate, as the store reports losses to it and the
// watch joins others' saves into it.
type Memory interface {
	// Merge joins what another writer saved.
	Merge(*aggregate.Aggregate) bool
	// Resave marks for the next save every workload held for which lost reports true: its
	// stored copy is gone (a shard was deleted or cannot be read).
	Resave(lost func(namespace, key string) bool)
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
	if opts.MaxRawBytes <= 0 || opts.MaxRawBytes > DefaultMaxRawBytes {
		opts.MaxRawBytes = DefaultMaxRawBytes
	}
	opts.InitialShards = nextPow2(min(max(opts.InitialShards, 1), maxShards))
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Store{opts: opts, known: map[string]shardInfo{}, seenCorrupt: map[string]bool{}}, nil
}

// Stats returns a copy of the current statistics.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Shards = s.shards
	st.ShardBytes = make([]int, s.shards)
	for name, k := range s.known {
		st.Workloads += k.count
		st.RawBytes += k.raw
		st.PayloadBytes += k.payload
		if i := shardIndex(s.opts.Name, name); i >= 0 && i < s.shards {
			st.ShardBytes[i] = k.size
		}
	}
	return st
}

// LostShard is a shard Load could not decode: what it held is gone from the state, and comes
// back only from the pods still running (backfill) and from other replicas' memory.
type LostShard struct {
	Name   string
	Bytes  int // size of the unreadable ConfigMap
	Copy   string
	index  int
	shards int
}

// Holds reports whether a workload belonged to the lost shard.
func (l LostShard) Holds(namespace, key string) bool {
	return l.index >= 0 && shardOf(namespace, key, l.shards) == l.index
}

// Unreadable returns the shards the last Load could not decode.
func (s *Store) Unreadable() []LostShard {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unreadable)
}

// Load returns the join of every readable shard. Unreadable ones are logged, counted, copied
// aside and skipped (Unreadable lists them); the caller is expected to hold the result, as the
// watch skips the versions read here.
func (s *Store) Load(ctx context.Context) (*aggregate.Aggregate, error) {
	shards, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	joined := aggregate.New("")
	joined.MaxWorkloads = s.opts.MaxWorkloads
	var lost []LostShard
	for _, sh := range shards {
		if sh.agg != nil {
			s.remember(sh)
			joined.Absorb(sh.agg)
			continue
		}
		copyName, err := s.setAside(ctx, sh)
		if err != nil {
			s.opts.Log.Error(err, "unreadable state shard not copied aside; it is left as it is until it can be")
		}
		n := s.shardCount()
		if c := labelShards(sh.cm); c > 0 {
			n = c
		}
		lost = append(lost, LostShard{Name: sh.cm.Name, Bytes: sh.size, Copy: copyName, index: sh.index, shards: n})
		s.opts.Log.Error(sh.err, "state shard unreadable: what it held is lost from the state, and comes back only from running pods (backfill) and other replicas",
			"configmap", sh.cm.Namespace+"/"+sh.cm.Name, "bytes", sh.size, "copy", copyName)
	}
	s.mu.Lock()
	s.unreadable = lost
	s.mu.Unlock()
	return joined, nil
}

// SaveError is a Save that could not write every shard: the others were written.
type SaveError struct {
	failed  map[int]error // by shard index, of shards
	shards  int
	refused map[[2]string]bool // namespace and key of the workloads refused as oversized
}

func (e *SaveError) Error() string {
	var parts []string
	for _, i := range slices.Sorted(maps.Keys(e.failed)) {
		parts = append(parts, e.failed[i].Error())
	}
	if len(e.refused) > 0 {
		var names []string
		for k := range e.refused {
			names = append(names, k[0]+"/"+k[1])
		}
		slices.Sort(names)
		parts = append(parts, fmt.Sprintf("workloads refused because alone they exceed a state shard's limits (not saved, kept in memory): %s", strings.Join(names, ", ")))
	}
	return strings.Join(parts, "; ")
}

// Unsaved reports whether a workload of the changes was not saved and is worth saving again:
// its shard could not be written. Workloads refused as oversized are not: they would be
// refused again.
func (e *SaveError) Unsaved(namespace, key string) bool {
	if len(e.failed) == 0 {
		return false
	}
	_, failed := e.failed[shardOf(namespace, key, e.shards)]
	return failed
}

func (e *SaveError) add(i int, err error) {
	if e.failed == nil {
		e.failed = map[int]error{}
	}
	e.failed[i] = err
}

func (e *SaveError) orNil() error {
	if len(e.failed) == 0 && len(e.refused) == 0 {
		return nil
	}
	return e
}

// errReshard asks Save to lay the whole state out again with more shards.
var errReshard = errors.New("state shard over a size limit")

// errLayout means a shard was written with more shards than this store knew of.
type errLayout struct{ shards int }

func (e errLayout) Error() string { return fmt.Sprintf("the state has %d shards", e.shards) }

// Save joins changes (the workloads that changed since the caller's last successful save) into
// the stored state, reading and writing only their shards. It returns what those shards hold
// that the caller may not have seen (what other replicas saved there), for the caller to merge
// into memory. changes is only read. When some shards could not be written, the error is a
// *SaveError and the others were written.
func (s *Store) Save(ctx context.Context, changes *aggregate.Aggregate) (*aggregate.Aggregate, error) {
	back := aggregate.New(changes.Replica)
	if workloads(changes) == 0 {
		return back, nil
	}
	result := &SaveError{refused: map[[2]string]bool{}}
	for attempt := 0; ; attempt++ {
		n := s.shardCount()
		var err error
		if n == 0 {
			err = s.saveAll(ctx, changes, back, result)
		} else {
			err = s.saveShards(ctx, changes, n, back, result)
			if errors.Is(err, errReshard) {
				err = s.saveAll(ctx, changes, back, result)
			}
		}
		var layout errLayout
		if errors.As(err, &layout) && attempt < s.opts.MaxAttempts {
			s.opts.Log.V(1).Info("state resharded by another writer; saving with its layout", "shards", layout.shards)
			continue
		}
		if err != nil {
			return back, err
		}
		if s.overBudget() {
			s.compact(ctx, back)
		}
		return back, result.orNil()
	}
}

// compact folds the stored state into the workload budget with a full save that adds nothing.
// What it cannot write stays stored as it was: nothing the caller saved depends on it.
func (s *Store) compact(ctx context.Context, back *aggregate.Aggregate) {
	s.opts.Log.Info("stored state over the workload budget; folding it as memory folds", "maxWorkloads", s.opts.MaxWorkloads)
	result := &SaveError{refused: map[[2]string]bool{}}
	err := s.saveAll(ctx, aggregate.New(""), back, result)
	if err == nil {
		err = result.orNil()
	}
	if err != nil {
		s.opts.Log.Error(err, "folding the stored state failed; the next save tries again")
	}
}

// saveShards is the incremental save: each shard of changes is read, joined and written.
// A shard it cannot write is recorded in result, and the others are written.
func (s *Store) saveShards(ctx context.Context, changes *aggregate.Aggregate, n int, back *aggregate.Aggregate, result *SaveError) error {
	result.failed, result.shards = nil, n
	groups := map[int]*aggregate.Aggregate{}
	for ns, nsw := range changes.Namespaces {
		for key, w := range nsw.Workloads {
			if result.refused[[2]string{ns, key}] {
				continue
			}
			i := shardOf(ns, key, n)
			if groups[i] == nil {
				groups[i] = aggregate.New("")
			}
			put(groups[i], ns, key, w)
		}
	}
	// Shards are independent here: a few at a time, so API round trips overlap.
	var (
		mu   sync.Mutex // guards back, result and stop
		stop error      // a reshard or a new layout is needed, or ctx ended: start no more
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallelShards)
	)
	for _, i := range slices.Backward(slices.Sorted(maps.Keys(groups))) {
		sem <- struct{}{}
		mu.Lock()
		stopped := stop != nil
		mu.Unlock()
		if stopped {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := s.saveShard(ctx, i, n, groups[i], back, result, &mu)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
			case errors.Is(err, errReshard), errors.As(err, new(errLayout)), ctx.Err() != nil:
				if stop == nil || !errors.As(stop, new(errLayout)) {
					stop = err
				}
			default:
				result.add(i, err)
				s.count(func(st *Stats) { st.Unwritable++ })
			}
		})
	}
	wg.Wait()
	return stop
}

// saveShard reads shard i, joins group into it and writes it, again on conflicts.
// mu guards back and result.
func (s *Store) saveShard(ctx context.Context, i, n int, group *aggregate.Aggregate, back *aggregate.Aggregate, result *SaveError, mu *sync.Mutex) error {
	name := shardName(s.opts.Name, i)
	delay := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cur := &corev1.ConfigMap{}
		err := s.opts.Reader.Get(ctx, client.ObjectKey{Namespace: s.opts.Namespace, Name: name}, cur)
		switch {
		case apierrors.IsNotFound(err):
			cur = nil
		case err != nil:
			return fmt.Errorf("reading state shard %s: %w", name, err)
		}
		if cur != nil {
			if c := labelShards(cur); c > n {
				s.learnLayout(c)
				return errLayout{c}
			}
		}
		var joined *aggregate.Aggregate // what to hand back: nil when the caller holds it all
		p, err := s.splice(cur, group, i, n)
		if err != nil {
			s.opts.Log.V(1).Info("state shard not spliced; joining it whole", "configmap", name, "reason", err.Error())
			if joined, err = s.joinShard(ctx, cur, group, i, n); err != nil {
				return err
			}
			if p, err = s.plan(joined, cur, i, n); err != nil {
				return err
			}
		}
		if s.over(p) {
			mu.Lock()
			refused := s.refuse(group, result)
			mu.Unlock()
			if refused {
				continue // the shard without the refused workloads
			}
			if p.count > 1 && n < maxShards {
				return errReshard
			}
			return fmt.Errorf("state shard %s is %d bytes (%d uncompressed) with %d shards, over the limits of %d (%d)", name, p.size, p.raw, n, s.opts.MaxShardBytes, s.opts.MaxRawBytes)
		}
		err = s.write(ctx, cur, p)
		if err == nil {
			if joined != nil {
				mu.Lock()
				back.Absorb(joined) // joined is not used after this
				mu.Unlock()
			}
			return nil
		}
		if !retriable(err) || attempt >= s.opts.MaxAttempts {
			return fmt.Errorf("writing state shard %s: %w", name, err)
		}
		s.count(func(st *Stats) { st.Conflicts++ })
		s.opts.Log.V(1).Info("state shard changed concurrently, saving it again", "configmap", name, "attempt", attempt, "reason", err.Error())
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, time.Second)
	}
}

// errNotHeld means a shard's version is not one the caller holds: it is joined whole.
var errNotHeld = errors.New("a version the caller does not hold")

// splice plans shard i of n as cur (which the caller holds, or nil: none) with group joined
// into it, re-encoding only group's records (splice.go).
func (s *Store) splice(cur *corev1.ConfigMap, group *aggregate.Aggregate, i, n int) (planned, error) {
	doc := &splitDocument{Namespaces: map[string]*splitNamespace{}}
	if cur != nil {
		if !s.holds(cur) {
			return planned{}, errNotHeld
		}
		var err error
		if doc, err = split(cur); err != nil {
			return planned{}, err
		}
	}
	if err := doc.join(group); err != nil {
		return planned{}, err
	}
	raw, count := doc.marshal()
	compressed, err := compress(raw)
	if err != nil {
		return planned{}, err
	}
	return s.planEncoded(raw, compressed, count, cur, i, n)
}

// joinShard decodes cur whole (nil: none) and joins group into it. An undecodable shard is
// set aside and reported lost first.
func (s *Store) joinShard(ctx context.Context, cur *corev1.ConfigMap, group *aggregate.Aggregate, i, n int) (*aggregate.Aggregate, error) {
	joined := aggregate.New("")
	if cur != nil {
		sh := s.decode(cur, i)
		if sh.agg == nil {
			if _, err := s.setAside(ctx, sh); err != nil {
				return nil, err
			}
			s.lost(i, n)
		} else {
			joined.Absorb(sh.agg)
		}
	}
	joined.Merge(group)
	return joined, nil
}

// refuse drops from group the workloads that alone exceed a shard's limits, records them in
// result, and reports whether it dropped any.
func (s *Store) refuse(group *aggregate.Aggregate, result *SaveError) bool {
	dropped := false
	for ns, nsw := range group.Namespaces {
		for key, w := range nsw.Workloads {
			if quick, err := json.Marshal(w); err == nil && s.small(len(quick)) {
				continue
			}
			alone := aggregate.New("")
			put(alone, ns, key, w)
			p, err := s.plan(alone, nil, 0, 1)
			if err == nil && !s.over(p) {
				continue
			}
			delete(nsw.Workloads, key)
			if len(nsw.Workloads) == 0 {
				delete(group.Namespaces, ns)
			}
			result.refused[[2]string{ns, key}] = true
			dropped = true
			s.count(func(st *Stats) { st.Oversized++ })
			s.opts.Log.Error(errReshard, "workload refused: alone it exceeds a state shard's limits; it stays in memory and in the policy, but is not saved",
				"namespace", ns, "workload", key, "bytes", p.size, "uncompressed", p.raw)
		}
	}
	return dropped
}

// saveAll is the full save: read every shard, join changes, lay the state out again (doubling
// S while a shard is over a limit) and write the shards that change, highest index first.
func (s *Store) saveAll(ctx context.Context, changes *aggregate.Aggregate, back *aggregate.Aggregate, result *SaveError) error {
	for attempt := 1; ; attempt++ {
		err := s.saveAllOnce(ctx, changes, back, result)
		if !retriable(err) || attempt >= s.opts.MaxAttempts {
			return err
		}
		s.count(func(st *Stats) { st.Conflicts++ })
		s.opts.Log.V(1).Info("state changed concurrently, saving again", "attempt", attempt, "reason", err.Error())
		if err := sleep(ctx, 10*time.Millisecond<<min(attempt, 6)); err != nil {
			return err
		}
	}
}

func (s *Store) saveAllOnce(ctx context.Context, changes *aggregate.Aggregate, back *aggregate.Aggregate, result *SaveError) error {
	result.failed = nil
	shards, err := s.read(ctx)
	if err != nil {
		return err
	}
	n := max(s.opts.InitialShards, s.shardCount())
	slots := map[int]*shard{}
	joined := aggregate.New("")
	for _, sh := range shards {
		if sh.agg != nil {
			if !s.holds(sh.cm) {
				back.Merge(sh.agg)
				s.remember(sh)
			}
			joined.Absorb(sh.agg) // sh.agg's maps stay as read: the layout uses them
			n = max(n, labelShards(sh.cm))
		}
		if sh.index >= 0 {
			slots[sh.index] = sh
			n = max(n, nextPow2(sh.index+1))
		}
	}
	kept := aggregate.New("")
	for ns, nsw := range changes.Namespaces {
		for key, w := range nsw.Workloads {
			if !result.refused[[2]string{ns, key}] {
				put(kept, ns, key, w)
			}
		}
	}
	joined.Merge(kept)
	l := laid{bounded: s.fold(joined), joined: joined}

	var plan []planned
	for {
		if plan, err = s.layout(l, slots, n, nil); err != nil {
			return err
		}
		big := slices.IndexFunc(plan, s.over)
		if big < 0 {
			break
		}
		if s.refuse(inShard(kept, big, n), result) {
			return s.saveAllOnce(ctx, changes, back, result)
		}
		if n >= maxShards || plan[big].count <= 1 {
			break // written as far as possible below
		}
		// Double, or more at once when the largest shard is several times over (a first save
		// of a large state, a migration), aiming at 7/8 of the limits for the hash's spread.
		factor := 2
		for _, p := range plan {
			factor = max(factor, nextPow2(ceilDiv(8*p.raw, 7*s.opts.MaxRawBytes)), nextPow2(ceilDiv(8*p.size, 7*s.opts.MaxShardBytes)))
		}
		next := min(n*factor, maxShards)
		s.opts.Log.Info("state shard over a size limit, resharding", "shard", big, "bytes", plan[big].size, "uncompressed", plan[big].raw, "shards", next)
		n = next
	}
	s.learnLayout(n)
	result.shards = n

	// Highest index first: see the package comment.
	written, wrote, lower := map[int]bool{}, map[int]*corev1.ConfigMap{}, map[int]bool{}
	for i, sh := range slots {
		if sh.agg != nil && i < n && l.keepsLower(sh.agg, i, n) {
			lower[i] = true
		}
	}
	for i := n - 1; i >= 0; i-- {
		p := plan[i]
		if len(written) < n-1-i { // a higher shard failed: keep what it would have taken over
			b := assign(l, slots, n, func(i, d int) bool { return d < i || !written[d] })[i]
			if p, err = s.plan(b, p.cur, i, n); err != nil {
				return err
			}
		}
		if s.over(p) {
			result.add(i, fmt.Errorf("state shard %s is %d bytes (%d uncompressed) with %d shards, over the limits of %d (%d)", p.cm.Name, p.size, p.raw, n, s.opts.MaxShardBytes, s.opts.MaxRawBytes))
			s.count(func(st *Stats) { st.Unwritable++ })
			continue
		}
		if sl := slots[i]; sl != nil && sl.agg == nil {
			if _, err := s.setAside(ctx, sl); err != nil {
				result.add(i, err)
				continue
			}
			s.lost(i, n)
		}
		if err := s.write(ctx, p.cur, p); err != nil {
			if retriable(err) {
				return err
			}
			result.add(i, fmt.Errorf("writing state shard %s: %w", p.cm.Name, err))
			s.count(func(st *Stats) { st.Unwritable++ })
			continue
		}
		written[i] = true
		wrote[i] = p.cm
	}
	s.mu.Lock()
	s.compacted = workloads(l.bounded)
	s.mu.Unlock()

	// A shard that kept records for a lower one (their own, or the overflow record they were
	// folded into) gives them up now that it is written. Failing that leaves duplicates only.
	if len(lower) == 0 {
		return nil
	}
	final := assign(l, slots, n, func(_, d int) bool { return !written[d] })
	for _, i := range slices.Backward(slices.Sorted(maps.Keys(lower))) {
		if wrote[i] == nil {
			continue
		}
		p, err := s.plan(final[i], wrote[i], i, n)
		if err == nil && !s.over(p) {
			err = s.write(ctx, wrote[i], p)
		}
		if err != nil {
			s.opts.Log.V(1).Info("state shard keeps records another shard holds now; the next full save drops them", "configmap", shardName(s.opts.Name, i), "reason", err.Error())
		}
	}
	return nil
}

// fold returns joined within the workload budget: itself when it is, else a copy folded as the
// learner folds (budget.go), so that no allowance is lost and every namespace keeps its share.
func (s *Store) fold(joined *aggregate.Aggregate) *aggregate.Aggregate {
	if s.opts.MaxWorkloads <= 0 || workloads(joined) <= s.opts.MaxWorkloads {
		return joined
	}
	bounded := aggregate.New("")
	bounded.MaxWorkloads = s.opts.MaxWorkloads
	bounded.Merge(joined)
	if bounded.Workloads() == workloads(joined) {
		return joined
	}
	return bounded
}

// overBudget reports whether the stored records outgrew the workload budget (or what the last
// full save left, if more: overflow records are not counted in it) by an eighth: records the
// learner folded stay stored until a full save folds the stored state too.
func (s *Store) overBudget() bool {
	if s.opts.MaxWorkloads <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := 0
	for _, k := range s.known {
		stored += k.count
	}
	base := max(s.opts.MaxWorkloads, s.compacted)
	return stored > base+base/8
}

// retriable errors mean a shard changed (or appeared, or vanished) since it was read.
func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d/2 + rand.N(d)): // jitter, so replicas stop colliding
		return nil
	}
}

// shard is one state ConfigMap as read.
type shard struct {
	cm    *corev1.ConfigMap
	index int                  // -1 when the name is not <name>-state-<i>: joined, never written
	agg   *aggregate.Aggregate // nil when it could not be decoded
	err   error
	size  int // as read, without metadataSlack
	raw   int // JSON size
}

// planned is the ConfigMap one shard is to become, and the one it replaces (nil: none).
type planned struct {
	cm, cur          *corev1.ConfigMap
	size, raw, count int
}

// small reports whether a record of raw bytes of JSON fits a shard alone however badly it
// compresses (base64 of the payload, README and metadata around it).
func (s *Store) small(raw int) bool {
	return raw+4096 < s.opts.MaxRawBytes && raw*4/3+2*metadataSlack+4096 < s.opts.MaxShardBytes
}

// over reports whether a planned shard exceeds a limit.
func (s *Store) over(p planned) bool {
	return p.size > s.opts.MaxShardBytes || p.raw > s.opts.MaxRawBytes
}

// laid is what a full save lays out: bounded (joined within the workload budget) is what the
// shards are to hold, and joined everything read and added, whose records a shard keeps while
// the shard that now holds them may not have been written.
type laid struct{ bounded, joined *aggregate.Aggregate }

// dest is the shard of n that holds record (ns, key) of joined in bounded: its own, or that of
// the namespace's overflow record it was folded into.
func (l laid) dest(ns, key string, n int) int {
	if b := l.bounded.Namespaces[ns]; b == nil || b.Workloads[key] == nil {
		key = aggregate.Overflow.Key()
	}
	return shardOf(ns, key, n)
}

// keepsLower reports whether shard i, holding stored, holds records of a lower shard.
func (l laid) keepsLower(stored *aggregate.Aggregate, i, n int) bool {
	for ns, nsw := range stored.Namespaces {
		for key := range nsw.Workloads {
			if l.dest(ns, key, n) < i {
				return true
			}
		}
	}
	return false
}

// layout splits the state into n shards and plans their ConfigMaps (see assign).
func (s *Store) layout(l laid, slots map[int]*shard, n int, pending func(i, d int) bool) ([]planned, error) {
	plan := make([]planned, n)
	for i, b := range assign(l, slots, n, pending) {
		var cur *corev1.ConfigMap
		if sl := slots[i]; sl != nil {
			cur = sl.cm
		}
		p, err := s.plan(b, cur, i, n)
		if err != nil {
			return nil, err
		}
		plan[i] = p
	}
	return plan, nil
}

// assign splits l.bounded into n shards. A record stored in shard i that shard d holds now
// (d != i: it moved, or it was folded into an overflow record) stays in i, as joined holds it,
// as long as pending(i, d) reports that d may not hold it yet (nil: d < i, the shards a pass
// writes after i).
func assign(l laid, slots map[int]*shard, n int, pending func(i, d int) bool) []*aggregate.Aggregate {
	if pending == nil {
		pending = func(i, d int) bool { return d < i }
	}
	buckets := make([]*aggregate.Aggregate, n)
	for i := range buckets {
		buckets[i] = aggregate.New("")
	}
	for ns, nsw := range l.bounded.Namespaces {
		for key, w := range nsw.Workloads {
			put(buckets[shardOf(ns, key, n)], ns, key, w)
		}
	}
	// With power-of-two counts a lower shard never holds a higher one's workloads after a
	// clean pass; this guards interrupted passes, failed writes, hand-made layouts and folds.
	for i, sh := range slots {
		if sh.agg == nil || i >= n {
			continue
		}
		for ns, nsw := range sh.agg.Namespaces {
			for key := range nsw.Workloads {
				if d := l.dest(ns, key, n); d != i && pending(i, d) {
					put(buckets[i], ns, key, l.joined.Namespaces[ns].Workloads[key])
				}
			}
		}
	}
	return buckets
}

// inShard returns the records of agg that belong to shard i of n.
func inShard(agg *aggregate.Aggregate, i, n int) *aggregate.Aggregate {
	out := aggregate.New("")
	for ns, nsw := range agg.Namespaces {
		for key, w := range nsw.Workloads {
			if shardOf(ns, key, n) == i {
				put(out, ns, key, w)
			}
		}
	}
	return out
}

// plan builds the ConfigMap shard i of n becomes with content b, on top of cur (nil: new).
func (s *Store) plan(b *aggregate.Aggregate, cur *corev1.ConfigMap, i, n int) (planned, error) {
	raw, compressed, err := encode(b)
	if err != nil {
		return planned{}, err
	}
	return s.planEncoded(raw, compressed, workloads(b), cur, i, n)
}

// planEncoded is plan of content already encoded: raw JSON of count records, compressed.
func (s *Store) planEncoded(raw, compressed []byte, count int, cur *corev1.ConfigMap, i, n int) (planned, error) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: shardName(s.opts.Name, i), Namespace: s.opts.Namespace}}
	if cur != nil {
		cm = cur.DeepCopy() // keeps the resourceVersion for the conditional update
	}
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels[LabelManagedBy] = ManagedBy
	cm.Labels[LabelState] = s.opts.Name
	cm.Labels[LabelShards] = strconv.Itoa(n)
	cm.Data = map[string]string{ReadmeKey: readme(s.opts.Name, i, n), RawSizeKey: strconv.Itoa(len(raw))}
	cm.BinaryData = map[string][]byte{PayloadKey: compressed}
	size, err := objectSize(cm)
	if err != nil {
		return planned{}, err
	}
	return planned{cm: cm, cur: cur, size: size, raw: len(raw), count: count}, nil
}

// write creates or updates the planned shard over cur (nil: it did not exist), unless it would
// change nothing, and records the version written as held by the caller.
func (s *Store) write(ctx context.Context, cur *corev1.ConfigMap, p planned) error {
	if cur != nil && sameContent(cur, p.cm) {
		s.note(cur, p, false)
		return nil
	}
	var err error
	if cur == nil {
		err = s.opts.Client.Create(ctx, p.cm)
	} else {
		err = s.opts.Client.Update(ctx, p.cm) // carries the resourceVersion read
	}
	if err != nil {
		return err
	}
	s.note(p.cm, p, true)
	return nil
}

// note records shard cm (as written or found equal) as held by the caller.
func (s *Store) note(cm *corev1.ConfigMap, p planned, wrote bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known[cm.Name] = shardInfo{rv: cm.ResourceVersion, size: p.size, raw: p.raw, payload: len(p.cm.BinaryData[PayloadKey]), count: p.count}
	if wrote {
		s.stats.Writes++
		s.stats.BytesWritten += int64(p.size)
	}
}

// holds reports whether the caller is known to hold this version of a shard.
func (s *Store) holds(cm *corev1.ConfigMap) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.known[cm.Name]
	return ok && k.rv == cm.ResourceVersion
}

func (s *Store) shardCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shards
}

// learnLayout records a shard count seen on a shard or chosen by a reshard.
func (s *Store) learnLayout(n int) {
	if n <= 0 || n > maxShards {
		return
	}
	s.mu.Lock()
	s.shards = max(s.shards, n)
	s.mu.Unlock()
}

func (s *Store) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
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
	n := s.opts.InitialShards
	out := make([]*shard, 0, len(list.Items))
	for i := range list.Items {
		cm := &list.Items[i]
		sh := s.decode(cm, shardIndex(s.opts.Name, cm.Name))
		if sh.agg != nil {
			n = max(n, labelShards(cm))
		}
		if sh.index >= 0 {
			n = max(n, nextPow2(sh.index+1))
		}
		out = append(out, sh)
	}
	s.learnLayout(n)
	return out, nil
}

// decode reads one shard; an undecodable one is logged and counted once per content.
func (s *Store) decode(cm *corev1.ConfigMap, index int) *shard {
	if index >= maxShards {
		index = -1
	}
	size, _ := objectSize(cm)
	sh := &shard{cm: cm, index: index, size: size - metadataSlack}
	if sh.agg, sh.raw, sh.err = decodeRaw(cm); sh.err != nil {
		s.noteCorrupt(sh)
	}
	return sh
}

// remember records a decoded shard's version as held by the caller, with its sizes.
func (s *Store) remember(sh *shard) {
	s.mu.Lock()
	s.known[sh.cm.Name] = shardInfo{rv: sh.cm.ResourceVersion, size: sh.size + metadataSlack, raw: sh.raw, payload: len(sh.cm.BinaryData[PayloadKey]), count: workloads(sh.agg)}
	s.mu.Unlock()
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
	delete(s.known, sh.cm.Name)
	s.mu.Unlock()
	if !seen {
		s.opts.Log.Error(sh.err, "state shard cannot be read; using the other shards", "configmap", sh.cm.Namespace+"/"+sh.cm.Name, "bytes", sh.size)
	}
}

// lost asks the caller's memory to save again what it holds of shard i of n, whose stored
// copy is gone.
func (s *Store) lost(i, n int) {
	s.mu.Lock()
	mem := s.mem
	s.mu.Unlock()
	if mem == nil {
		return
	}
	if i < 0 || i >= n {
		mem.Resave(func(string, string) bool { return true })
		return
	}
	mem.Resave(func(ns, key string) bool { return shardOf(ns, key, n) == i })
}

// setAside copies an undecodable shard to <shard>-corrupt-<hash>, without the state label, so
// that overwriting its slot never destroys the evidence, and returns the copy's name. Copying
// the same content twice is a no-op.
func (s *Store) setAside(ctx context.Context, sh *shard) (string, error) {
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
		return name, nil
	case err != nil:
		return "", fmt.Errorf("copying corrupt state shard %s aside (not overwriting it): %w", sh.cm.Name, err)
	}
	s.opts.Log.Error(sh.err, "corrupt state shard copied aside; it will be written again from memory", "configmap", sh.cm.Namespace+"/"+sh.cm.Name, "copy", name)
	return name, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// put adds w to agg under ns and key, sharing the record.
func put(agg *aggregate.Aggregate, ns, key string, w *aggregate.Workload) {
	b, ok := agg.Namespaces[ns]
	if !ok {
		b = &aggregate.Namespace{Workloads: map[string]*aggregate.Workload{}}
		agg.Namespaces[ns] = b
	}
	b.Workloads[key] = w
}

// objectSize is the ConfigMap's JSON size plus room for what the API server adds.
func objectSize(cm *corev1.ConfigMap) (int, error) {
	data, err := json.Marshal(cm)
	return len(data) + metadataSlack, err
}
