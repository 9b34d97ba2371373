// Package learner holds the live aggregate behind a mutex: the admission handler adds to it in
// memory only, and a background loop saves it and re-renders the policy, debounced, only after
// something new was learned.
package learner

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Saver persists an aggregate and returns the joined state (what other replicas saved too).
type Saver interface {
	Save(ctx context.Context, agg *aggregate.Aggregate) (*aggregate.Aggregate, error)
}

// Publisher writes the policy rendered from an aggregate.
type Publisher interface {
	Publish(ctx context.Context, agg *aggregate.Aggregate) error
}

// Learner is safe for concurrent use.
type Learner struct {
	mu      sync.Mutex
	agg     *aggregate.Aggregate
	changes uint64 // bumped whenever something new is learned or merged
	touches uint64 // bumped on every observation (counters, last seen)
	signal  chan struct{}
}

// New wraps agg, which the learner owns from now on.
func New(agg *aggregate.Aggregate) *Learner {
	return &Learner{agg: agg, signal: make(chan struct{}, 1)}
}

// Learn adds one observation; it reports whether something new was learned.
func (l *Learner) Learn(o aggregate.Observation) bool {
	l.mu.Lock()
	learned := l.agg.Add(o)
	l.touches++
	if learned {
		l.changes++
	}
	l.mu.Unlock()
	if learned {
		l.notify()
	}
	return learned
}

// Merge joins what another replica (or the stored state) holds.
func (l *Learner) Merge(other *aggregate.Aggregate) bool {
	l.mu.Lock()
	learned := l.agg.Merge(other)
	if learned {
		l.changes++
	}
	l.mu.Unlock()
	if learned {
		l.notify()
	}
	return learned
}

// Resave makes the loop save (and publish) at its next debounce although nothing new was
// learned: the stored state lost something memory still holds (a state ConfigMap was deleted).
func (l *Learner) Resave() {
	l.mu.Lock()
	l.changes++
	l.mu.Unlock()
	l.notify()
}

// Workloads returns how many workload records are held.
func (l *Learner) Workloads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.agg.Workloads()
}

func (l *Learner) notify() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// snapshot returns a copy of the aggregate and the counters it reflects, or nil when nothing
// changed since the counters saved (with force, an observation that only counted is a
// change too). Cloning is skipped when there is nothing to flush: it holds the lock Learn
// waits for.
func (l *Learner) snapshot(savedChanges, savedTouches uint64, force bool) (*aggregate.Aggregate, uint64, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changes == savedChanges && (l.touches == savedTouches || !force) {
		return nil, 0, 0
	}
	return l.agg.Clone(), l.changes, l.touches
}

// Loop saves and publishes in the background.
type Loop struct {
	Learner   *Learner
	Saver     Saver
	Publisher Publisher
	Log       logr.Logger
	// Debounce is how long to wait after the first new learning before flushing, so a burst
	// of new pods is one write. A SIGKILL loses at most this much learning.
	Debounce time.Duration
	// Refresh is how often counters and last-seen times are saved when nothing new was learned.
	Refresh time.Duration
	// Flushed, if set, is called after every flush attempt with its error.
	Flushed func(error)
}

// finalFlushTimeout bounds the flush on shutdown. It stays inside serve's
// GracefulShutdownTimeout (25 s), which the chart's terminationGracePeriodSeconds exceeds.
const finalFlushTimeout = 20 * time.Second

// Start runs until ctx ends, then flushes one last time within finalFlushTimeout.
func (lp *Loop) Start(ctx context.Context) error {
	var savedChanges, savedTouches uint64
	refresh := time.NewTicker(lp.Refresh)
	defer refresh.Stop()
	flush := func(ctx context.Context, force bool) {
		agg, changes, touches := lp.Learner.snapshot(savedChanges, savedTouches, force)
		if agg == nil {
			return
		}
		err := lp.flush(ctx, agg)
		if err == nil {
			savedChanges, savedTouches = changes, touches
		} else {
			lp.Log.Error(err, "flush failed; will retry")
		}
		if lp.Flushed != nil {
			lp.Flushed(err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			flush(final, true)
			cancel()
			return nil
		case <-lp.Learner.signal:
			select {
			case <-time.After(lp.Debounce):
				flush(ctx, false)
			case <-ctx.Done():
				// Shutting down: the final flush above saves this learning with a live
				// context; flushing with ctx would only fail and be counted as an error.
			}
		case <-refresh.C:
			flush(ctx, true)
		}
	}
}

// flush saves, joins back what others saved, and publishes the policy of the joined state.
func (lp *Loop) flush(ctx context.Context, agg *aggregate.Aggregate) error {
	joined, err := lp.Saver.Save(ctx, agg)
	if err != nil {
		return err
	}
	if lp.Learner.Merge(joined) {
		// Others' learning arrived: render from the joined state, not only ours.
		lp.Log.V(1).Info("joined learning saved by other replicas")
	}
	return lp.Publisher.Publish(ctx, joined)
}

// NeedLeaderElection is false: every replica learns and saves.
func (lp *Loop) NeedLeaderElection() bool { return false }
