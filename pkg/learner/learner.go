// Package learner holds the live aggregate behind a mutex: the admission handler adds to it in
// memory only, and a background loop saves it and re-renders the policy.
//
// The learner remembers which workloads changed since they were last saved (a dirty set keyed
// by namespace and record key, one map write per admitted pod), so a flush copies and saves
// only those, never the whole aggregate. The policy is rendered from a copy of its own (the
// published copy), fed with the changed records, by a goroutine beside the saves: rendering
// takes far longer than the admission path may wait for the lock, or a save may wait to run.
package learner

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Saver persists changed workloads.
type Saver interface {
	// Save stores changes (copies the caller no longer changes) joined with what is stored,
	// and returns what the stored state holds beyond them that the caller may not have seen
	// (what other replicas saved). A partial failure is an error with an Unsaved method (see
	// PartialError); any other error means nothing may have been saved.
	Save(ctx context.Context, changes *aggregate.Aggregate) (*aggregate.Aggregate, error)
}

// PartialError is a Save error that names the workloads that were not saved.
type PartialError interface {
	error
	Unsaved(namespace, key string) bool
}

// Publisher writes the policy rendered from an aggregate.
type Publisher interface {
	// PublishChanged publishes agg's policy; changed names the namespaces whose records may
	// differ from those of the previous call, so that the others need not be fingerprinted
	// (which encodes every record: seconds at 100,000 workloads).
	PublishChanged(ctx context.Context, agg *aggregate.Aggregate, changed []string) error
}

// key names a workload record: its namespace and record key (Ref.Key, or the overflow's).
type key struct{ namespace, workload string }

// What a dirty record still needs.
const (
	needSave    uint8 = 1 << iota // something new was learned: saved at the next flush
	needTouch                     // only counted (counter, last seen): saved at the next refresh
	needPublish                   // not yet in the published copy
)

// Learner is safe for concurrent use.
type Learner struct {
	mu    sync.Mutex
	agg   *aggregate.Aggregate
	dirty map[key]uint8
	// since is when the oldest change that a flush is due for (something to save, or others'
	// learning to publish) happened; zero when there is none.
	since  time.Time
	signal chan struct{}
}

// New wraps agg, which the learner owns from now on.
func New(agg *aggregate.Aggregate) *Learner {
	return &Learner{agg: agg, dirty: map[key]uint8{}, signal: make(chan struct{}, 1)}
}

// Learn adds one observation; it reports whether something new was learned.
func (l *Learner) Learn(o aggregate.Observation) bool {
	l.mu.Lock()
	learned := l.agg.Add(o)
	k := l.keyOf(o.Namespace, o.Owner.Key())
	for _, ns := range l.agg.TakeFolded() {
		l.mark(key{ns, aggregate.Overflow.Key()}, needSave|needPublish)
	}
	if learned {
		l.mark(k, needSave|needPublish)
	} else {
		l.dirty[k] |= needTouch | needPublish
	}
	l.mu.Unlock()
	if learned {
		l.notify()
	}
	return learned
}

// LearnKnown adds o only if it teaches nothing new (it is then only counted), and reports
// whether it did: what would teach something is for the caller to confirm first.
func (l *Learner) LearnKnown(o aggregate.Observation) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.agg.Teaches(o) {
		return false
	}
	l.agg.Add(o)
	l.dirty[l.keyOf(o.Namespace, o.Owner.Key())] |= needTouch | needPublish
	return true
}

// keyOf is where the workload (namespace, record key) is held: its own record, or the
// namespace's overflow record once the aggregate is full. l.mu is held.
func (l *Learner) keyOf(namespace, workload string) key {
	if ns := l.agg.Namespaces[namespace]; ns == nil || ns.Workloads[workload] == nil {
		workload = aggregate.Overflow.Key()
	}
	return key{namespace, workload}
}

// mark flags a record; a flush becomes due. l.mu is held.
func (l *Learner) mark(k key, need uint8) {
	l.dirty[k] |= need
	if l.since.IsZero() {
		l.since = time.Now()
	}
}

// Merge joins what another replica (or the stored state) holds. What it adds is already
// stored, so it is only published, not saved again.
func (l *Learner) Merge(other *aggregate.Aggregate) bool {
	l.mu.Lock()
	learned := l.join(other, true)
	l.mu.Unlock()
	if learned {
		l.notify()
	}
	return learned
}

// join merges other one record at a time, so that only the records it changes are marked for
// publishing (with publish). l.mu is held.
func (l *Learner) join(other *aggregate.Aggregate, publish bool) bool {
	learned := false
	one := aggregate.New("")
	for name, ns := range other.Namespaces {
		for k, w := range ns.Workloads {
			var before *aggregate.Workload
			if mine := l.agg.Namespaces[name]; mine != nil {
				before = mine.Workloads[k]
			}
			var count int64
			var last time.Time
			if before != nil {
				count, last = before.Count(), before.LastSeen
			}
			one.Namespaces = map[string]*aggregate.Namespace{name: {Workloads: map[string]*aggregate.Workload{k: w}}}
			changed := l.agg.Merge(one)
			learned = learned || changed
			if !publish {
				continue
			}
			where := l.keyOf(name, k)
			if changed {
				l.mark(where, needPublish)
			} else if before == nil || before.Count() != count || !before.LastSeen.Equal(last) {
				l.dirty[where] |= needPublish
			}
		}
	}
	return learned
}

// Resave marks for the next flush every held workload for which lost reports true: the
// stored copy of those is gone (a state ConfigMap was deleted or cannot be read).
func (l *Learner) Resave(lost func(namespace, key string) bool) {
	l.mu.Lock()
	marked := false
	for name, ns := range l.agg.Namespaces {
		for k := range ns.Workloads {
			if lost(name, k) {
				l.mark(key{name, k}, needSave)
				marked = true
			}
		}
	}
	l.mu.Unlock()
	if marked {
		l.notify()
	}
}

// Workloads returns how many workload records are held.
func (l *Learner) Workloads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.agg.Workloads()
}

// Count returns how many held workloads match.
func (l *Learner) Count(match func(namespace, key string) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for name, ns := range l.agg.Namespaces {
		for k := range ns.Workloads {
			if match(name, k) {
				n++
			}
		}
	}
	return n
}

func (l *Learner) notify() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// due returns when the oldest change a flush is due for happened (false: none).
func (l *Learner) due() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.since, !l.since.IsZero()
}

// batch is what one flush takes from the learner.
type batch struct {
	save    *aggregate.Aggregate // copies of the records to save
	publish *aggregate.Aggregate // copies of the records the published copy lacks (save's too)
	taken   map[key]uint8
	since   time.Time
}

// take copies the dirty records a flush handles, and clears their flags: what is learned from
// now on is dirty again. With all, records that were only counted are saved too.
func (l *Learner) take(all bool) batch {
	want := needSave | needPublish
	if all {
		want |= needTouch
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := batch{taken: map[key]uint8{}, since: l.since}
	view, saved := aggregate.New(""), map[key]bool{}
	for k, need := range l.dirty {
		got := need & want
		if got == 0 {
			continue
		}
		if left := need &^ got; left != 0 {
			l.dirty[k] = left
		} else {
			delete(l.dirty, k)
		}
		w := l.agg.Namespaces[k.namespace].Workloads[k.workload]
		if w == nil {
			continue
		}
		b.taken[k] = got
		ns := view.Namespaces[k.namespace]
		if ns == nil {
			ns = &aggregate.Namespace{Workloads: map[string]*aggregate.Workload{}}
			view.Namespaces[k.namespace] = ns
		}
		ns.Workloads[k.workload] = w
		saved[k] = got&(needSave|needTouch) != 0
	}
	l.since = time.Time{}
	// Merge into an empty aggregate copies the records (and keeps their keys: no bound).
	b.publish = aggregate.New(l.agg.Replica)
	b.publish.Merge(view)
	b.save = aggregate.New(l.agg.Replica)
	for name, ns := range b.publish.Namespaces {
		for k, w := range ns.Workloads {
			if saved[key{name, k}] {
				if b.save.Namespaces[name] == nil {
					b.save.Namespaces[name] = &aggregate.Namespace{Workloads: map[string]*aggregate.Workload{}}
				}
				b.save.Namespaces[name].Workloads[k] = w
			}
		}
	}
	return b
}

// requeue marks again what a failed save did not store.
func (l *Learner) requeue(b batch, unsaved func(namespace, key string) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, got := range b.taken {
		if need := got & (needSave | needTouch); need != 0 && unsaved(k.namespace, k.workload) {
			l.dirty[k] |= need
			if need&needSave != 0 && (l.since.IsZero() || b.since.Before(l.since)) {
				l.since = b.since
			}
		}
	}
}

// absorb joins what a save found stored, without marking it: the published copy gets it
// directly.
func (l *Learner) absorb(stored *aggregate.Aggregate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.join(stored, false)
}

// Loop saves and publishes in the background. Publishing runs beside saving, on a copy of its
// own, so a slow rendering never delays a save.
type Loop struct {
	Learner   *Learner
	Saver     Saver
	Publisher Publisher
	Log       logr.Logger
	// Debounce bounds how long new learning waits before it is saved, so a burst of new pods
	// is one write: the flush starts early enough (by the last save's duration) to end within
	// Debounce of the first new learning. A SIGKILL loses at most this much learning.
	Debounce time.Duration
	// Refresh is how often counters and last-seen times are saved, and the policy published
	// (again, if nothing changed: a deleted policy ConfigMap comes back).
	Refresh time.Duration
	// Flushed, if set, is called after every save and every publication with its error.
	Flushed func(error)
	// Drain, if set, is called on shutdown before the last save, within its timeout: what is
	// still being confirmed is learned first.
	Drain func(context.Context)

	took time.Duration // how long the last Save took
	pub  publisher
}

// publisher hands the changed records to the goroutine that publishes.
type publisher struct {
	mu     sync.Mutex
	queued []*aggregate.Aggregate // copies for the published copy, oldest first
	force  bool                   // publish even if nothing is queued
	signal chan struct{}
	// changed: namespaces absorbed into the published copy since the last publication that
	// succeeded (only the publishing goroutine uses it).
	changed map[string]bool
}

// enqueue hands over agg (the publisher owns it from now on); force publishes regardless.
func (p *publisher) enqueue(agg *aggregate.Aggregate, force bool) {
	p.mu.Lock()
	if agg != nil && !empty(agg) {
		p.queued = append(p.queued, agg)
	}
	p.force = p.force || force
	wake := p.force || len(p.queued) > 0
	p.mu.Unlock()
	if wake {
		select {
		case p.signal <- struct{}{}:
		default:
		}
	}
}

// drain absorbs what is queued into published, noting the namespaces it changes, and reports
// whether a publication is due.
func (p *publisher) drain(published *aggregate.Aggregate) bool {
	p.mu.Lock()
	queued, force := p.queued, p.force
	p.queued, p.force = nil, false
	p.mu.Unlock()
	if p.changed == nil {
		p.changed = map[string]bool{}
	}
	for _, agg := range queued {
		for ns := range agg.Namespaces {
			p.changed[ns] = true
		}
		published.Absorb(agg)
	}
	return force || len(queued) > 0
}

// publishNow publishes published, naming the namespaces changed since the last success.
func (lp *Loop) publishNow(ctx context.Context, published *aggregate.Aggregate) error {
	err := lp.Publisher.PublishChanged(ctx, published, slices.Sorted(maps.Keys(lp.pub.changed)))
	if err == nil {
		clear(lp.pub.changed)
	}
	lp.report(err)
	return err
}

// finalFlushTimeout bounds the flush on shutdown. It stays inside serve's
// GracefulShutdownTimeout (25 s), which the chart's terminationGracePeriodSeconds exceeds.
const finalFlushTimeout = 20 * time.Second

// Retry backoff after a failed save or publication: doubling from minRetry to maxRetry,
// jittered.
const (
	minRetry = time.Second
	maxRetry = 30 * time.Second
)

// retry is a backoff: zero while attempts succeed.
type retry struct {
	backoff time.Duration
	at      time.Time
}

// failed records a failure and returns how long to wait.
func (r *retry) failed() time.Duration {
	r.backoff = min(max(2*r.backoff, minRetry), maxRetry)
	wait := r.backoff/2 + rand.N(r.backoff/2+1)
	r.at = time.Now().Add(wait)
	return wait
}

// Start runs until ctx ends, then saves and publishes one last time within finalFlushTimeout.
func (lp *Loop) Start(ctx context.Context) error {
	lp.pub.signal = make(chan struct{}, 1)
	published := aggregate.New("")
	var publishing sync.WaitGroup
	publishing.Go(func() { lp.publish(ctx, published) })

	refresh := time.NewTicker(lp.Refresh)
	defer refresh.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var saving retry
	for {
		// The next save: early enough, by the last save's duration, to end in time; after a
		// failure, at the retry.
		since, pending := lp.Learner.due()
		at := since.Add(lp.Debounce - lp.took)
		if saving.backoff > 0 && pending {
			at = saving.at
		}
		timer.Stop()
		if pending {
			timer.Reset(time.Until(at))
		}
		var err error
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			defer cancel()
			if lp.Drain != nil {
				lp.Drain(final)
			}
			lp.flush(final, true)
			publishing.Wait()
			if lp.pub.drain(published) {
				_ = lp.publishNow(final, published) // reported to Flushed
			}
			return nil
		case <-lp.Learner.signal:
			continue
		case <-timer.C:
			err = lp.flush(ctx, false)
		case <-refresh.C:
			err = lp.flush(ctx, true)
		}
		switch {
		case err == nil:
			saving.backoff = 0
		case ctx.Err() != nil:
			// Shutting down: the final flush saves what this one could not.
		default:
			lp.Log.Error(err, "saving the state failed; retrying", "in", saving.failed().Round(time.Millisecond).String())
		}
	}
}

// publish renders the policy of published whenever changed records arrive (or a refresh
// asks), until ctx ends.
func (lp *Loop) publish(ctx context.Context, published *aggregate.Aggregate) {
	var publishing retry
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	failed := false
	for {
		timer.Stop()
		if failed {
			timer.Reset(time.Until(publishing.at))
		}
		select {
		case <-ctx.Done():
			if failed {
				lp.pub.enqueue(nil, true) // the final publication retries it
			}
			return
		case <-lp.pub.signal:
			if failed && time.Now().Before(publishing.at) {
				continue // the timer publishes what arrived meanwhile
			}
		case <-timer.C:
		}
		if !lp.pub.drain(published) && !failed {
			continue
		}
		err := lp.publishNow(ctx, published)
		failed = err != nil && ctx.Err() == nil
		if failed {
			lp.Log.Error(err, "publishing the policy failed; retrying", "in", publishing.failed().Round(time.Millisecond).String())
		} else {
			publishing.backoff = 0
		}
	}
}

// report hands the result of a save or publication to Flushed.
func (lp *Loop) report(err error) {
	if lp.Flushed != nil {
		lp.Flushed(err)
	}
}

// flush saves the changed records, joins back what others saved, and hands both to the
// publisher (with all: counters are saved too, and the policy is published regardless).
func (lp *Loop) flush(ctx context.Context, all bool) error {
	b := lp.Learner.take(all)
	lp.pub.enqueue(b.publish, all) // b.save shares its records: only read from here on
	if empty(b.save) {
		return nil
	}
	start := time.Now()
	stored, err := lp.Saver.Save(ctx, b.save)
	lp.took = time.Since(start)
	lp.Log.V(1).Info("state saved", "workloads", workloads(b.save), "seconds", lp.took.Seconds(), "error", err != nil)
	if stored != nil && !empty(stored) {
		// Others' learning arrived: render from the joined state, not only ours.
		lp.Learner.absorb(stored)
		lp.pub.enqueue(stored, false)
		lp.Log.V(1).Info("joined learning saved by other replicas")
	}
	if err != nil {
		unsaved := func(string, string) bool { return true }
		if pe, ok := errors.AsType[PartialError](err); ok {
			unsaved = pe.Unsaved
		}
		lp.Learner.requeue(b, unsaved)
	}
	lp.report(err)
	return err
}

func empty(agg *aggregate.Aggregate) bool { return workloads(agg) == 0 }

func workloads(agg *aggregate.Aggregate) int {
	n := 0
	for _, ns := range agg.Namespaces {
		n += len(ns.Workloads)
	}
	return n
}

// NeedLeaderElection is false: every replica learns and saves.
func (lp *Loop) NeedLeaderElection() bool { return false }
