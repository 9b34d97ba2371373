package learner

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

// memory is a Saver and Publisher that keeps what it was given.
type memory struct {
	mu        sync.Mutex
	saved     *aggregate.Aggregate
	batches   []int       // workloads handed to each Save
	savedAt   []time.Time // when each Save returned
	published int
	changed   [][]string // the namespaces named to each publication
	// failPublish: how many publications fail from now on
	failPublish int
	other       *aggregate.Aggregate // what "another replica" saved
	fail        func(changes *aggregate.Aggregate) error
	took        time.Duration // how long a Save takes
}

func newMemory() *memory { return &memory{saved: aggregate.New("store")} }

func (m *memory) Save(ctx context.Context, changes *aggregate.Aggregate) (*aggregate.Aggregate, error) {
	time.Sleep(m.took)
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ns := range changes.Namespaces {
		n += len(ns.Workloads)
	}
	m.batches = append(m.batches, n)
	if m.fail != nil {
		if err := m.fail(changes); err != nil {
			return nil, err
		}
	}
	m.saved.Merge(changes)
	m.savedAt = append(m.savedAt, time.Now())
	if m.other != nil {
		return m.other, nil
	}
	return aggregate.New(""), nil
}

func (m *memory) PublishChanged(_ context.Context, _ *aggregate.Aggregate, changed []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.published++
	m.changed = append(m.changed, changed)
	if m.failPublish > 0 {
		m.failPublish--
		return errors.New("publication refused")
	}
	return nil
}

func (m *memory) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.batches), m.published
}

func (m *memory) has(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ns := m.saved.Namespaces["ns"]
	return ns != nil && ns.Workloads["Deployment/"+name] != nil
}

func obs(name string, hostPID bool) aggregate.Observation {
	return aggregate.Observation{Namespace: "ns", Owner: owner.Ref{Kind: "Deployment", Name: name},
		ServiceAccount: "default", Profile: attributes.Profile{HostPID: hostPID}, Time: time.Now()}
}

// run starts the loop in a synctest bubble and returns its stop function.
func run(t *testing.T, l *Learner, mem *memory, debounce time.Duration) func() {
	t.Helper()
	loop := &Loop{Learner: l, Saver: mem, Publisher: mem, Log: logr.Discard(), Debounce: debounce, Refresh: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop.Start(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		mem.other = aggregate.New("other")
		mem.other.Add(obs("from-other-replica", true))
		l := New(aggregate.New("me"))
		stop := run(t, l, mem, time.Second)

		// A burst of new learning is saved together, within the debounce.
		for i := range 5 {
			if !l.Learn(obs(string(rune('a'+i)), false)) {
				t.Fatal("new workload not reported as learned")
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if saves, published := mem.counts(); saves != 1 || published < 1 {
			t.Fatalf("burst of 5 gave %d saves, %d publishes", saves, published)
		}
		// What the other replica saved was joined into memory.
		if l.Workloads() != 6 {
			t.Errorf("workloads %d, want 6 (5 own + 1 joined from the store)", l.Workloads())
		}

		// Nothing new: no save. Something new: only it is saved.
		if l.Learn(obs("a", false)) {
			t.Error("known workload reported as learned")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s, _ := mem.counts(); s != 1 {
			t.Errorf("a known pod caused a save (%d saves)", s)
		}
		l.Learn(obs("f", false))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if len(mem.batches) != 2 || mem.batches[1] != 1 {
			t.Errorf("batches %v: the second flush should save the one new workload only", mem.batches)
		}

		// Shutdown flushes what was only counted.
		stop()
		if n := mem.saved.Namespaces["ns"].Workloads["Deployment/a"].Count(); n != 2 {
			t.Errorf("final flush count %d, want 2", n)
		}
	})
}

// TestSavedWithinDebounce: a flush starts early by the duration of the last save, so what is
// learned is stored within the debounce even while saves are slow.
func TestSavedWithinDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		mem.took = 700 * time.Millisecond
		l := New(aggregate.New("me"))
		stop := run(t, l, mem, 2*time.Second)
		defer stop()
		var learned []time.Time
		for i := range 40 {
			l.Learn(obs(string(rune('A'+i)), false))
			learned = append(learned, time.Now())
			time.Sleep(150 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		mem.mu.Lock()
		defer mem.mu.Unlock()
		// Each workload's save is the first one that returned after it was learned; the
		// first save has no duration to go by, so what it stored is not counted.
		worst := time.Duration(0)
		for _, at := range learned {
			for i, s := range mem.savedAt {
				if s.After(at) {
					if i > 0 {
						worst = max(worst, s.Sub(at))
					}
					break
				}
			}
		}
		if worst > 2*time.Second {
			t.Errorf("a workload waited %s to be saved, more than the debounce", worst)
		}
	})
}

// TestRetryBackoff: a failed flush is retried without new learning, 1s, 2s, 4s… apart.
func TestRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		failures := 4
		mem.fail = func(*aggregate.Aggregate) error {
			if failures > 0 {
				failures--
				return errors.New("API server unreachable")
			}
			return nil
		}
		l := New(aggregate.New("me"))
		stop := run(t, l, mem, time.Second)
		defer stop()
		start := time.Now()
		l.Learn(obs("a", true))
		for !mem.has("a") {
			time.Sleep(100 * time.Millisecond)
			if time.Since(start) > time.Minute {
				t.Fatal("never saved")
			}
		}
		// 1s debounce, then retries after about 1, 2, 4 and 8 seconds (jittered: half to all).
		if d := time.Since(start); d < 1*time.Second+(1+2+4+8)*time.Second/2 || d > 17*time.Second {
			t.Errorf("saved after %s", d)
		}
		if s, _ := mem.counts(); s != 5 {
			t.Errorf("%d save attempts, want 5", s)
		}
	})
}

type partial struct{ bad string }

func (p partial) Error() string              { return "shard of " + p.bad + " refused" }
func (p partial) Unsaved(_, key string) bool { return key == "Deployment/"+p.bad }

// TestPartialFailure: only what a partial failure did not save is saved again.
func TestPartialFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		first := true
		mem.fail = func(changes *aggregate.Aggregate) error {
			if first {
				first = false
				delete(changes.Namespaces["ns"].Workloads, "Deployment/b")
				mem.saved.Merge(changes)
				return partial{"b"}
			}
			return nil
		}
		l := New(aggregate.New("me"))
		stop := run(t, l, mem, time.Second)
		defer stop()
		l.Learn(obs("a", false))
		l.Learn(obs("b", false))
		l.Learn(obs("c", false))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if len(mem.batches) != 2 || mem.batches[0] != 3 || mem.batches[1] != 1 || !mem.has("b") {
			t.Errorf("batches %v, b saved %v: want 3 then the one unsaved", mem.batches, mem.has("b"))
		}
	})
}

// TestRefreshPublishes: the refresh publishes although nothing changed (a deleted policy
// ConfigMap comes back).
func TestRefreshPublishes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		l := New(aggregate.New("me"))
		loop := &Loop{Learner: l, Saver: mem, Publisher: mem, Log: logr.Discard(), Debounce: time.Second, Refresh: time.Minute}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go loop.Start(ctx)
		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		if saves, published := mem.counts(); saves != 0 || published != 3 {
			t.Errorf("%d saves, %d publishes over 3 refreshes with nothing learned; want 0 and 3", saves, published)
		}
	})
}

// TestResave: a state lost from the store is saved again from memory without new learning,
// and only the lost part.
func TestResave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		l := New(aggregate.New("me"))
		stop := run(t, l, mem, 10*time.Millisecond)
		defer stop()
		l.Learn(obs("a", true))
		l.Learn(obs("b", true))
		time.Sleep(time.Second)
		synctest.Wait()
		mem.saved = aggregate.New("store") // the store lost a
		l.Resave(func(_, key string) bool { return key == "Deployment/a" })
		time.Sleep(time.Second)
		synctest.Wait()
		if len(mem.batches) != 2 || mem.batches[1] != 1 || !mem.has("a") {
			t.Errorf("batches %v, a saved again %v", mem.batches, mem.has("a"))
		}
	})
}

// slowPublisher takes a long time to render, as a large policy does.
type slowPublisher struct{ *memory }

func (s slowPublisher) PublishChanged(ctx context.Context, agg *aggregate.Aggregate, changed []string) error {
	time.Sleep(30 * time.Second)
	return s.memory.PublishChanged(ctx, agg, changed)
}

// TestSlowPublishDelaysNoSave: saving goes on while the policy renders.
func TestSlowPublishDelaysNoSave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		l := New(aggregate.New("me"))
		loop := &Loop{Learner: l, Saver: mem, Publisher: slowPublisher{mem}, Log: logr.Discard(), Debounce: time.Second, Refresh: time.Hour}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { loop.Start(ctx); close(done) }()
		l.Learn(obs("a", false))
		time.Sleep(3 * time.Second) // the first publication runs until 31 s
		l.Learn(obs("b", false))
		time.Sleep(1500 * time.Millisecond)
		if !mem.has("b") {
			t.Error("b not saved within the debounce while the policy rendered")
		}
		cancel()
		<-done
		if _, published := mem.counts(); published != 2 {
			t.Errorf("%d publications, want 2 (the first, and the final one with b)", published)
		}
	})
}

// LearnKnown counts what teaches nothing and leaves alone what would: nothing new is saved
// through it, while a repeat is counted (and saved at the next refresh).
func TestLearnKnown(t *testing.T) {
	l := New(aggregate.New("r"))
	if l.LearnKnown(obs("web", false)) || l.Workloads() != 0 {
		t.Fatalf("a new workload was learned without confirmation (%d records)", l.Workloads())
	}
	l.Learn(obs("web", false))
	if l.LearnKnown(obs("web", true)) {
		t.Fatal("hostPID, new to the workload, was learned without confirmation")
	}
	if !l.LearnKnown(obs("web", false)) {
		t.Fatal("a repeat of a known pod was not learned")
	}
	if got := l.agg.Namespaces["ns"].Workloads["Deployment/web"]; got.Count() != 2 || got.Profile.HostPID {
		t.Fatalf("record after a known repeat: count %d, hostPID %v; want 2, false", got.Count(), got.Profile.HostPID)
	}
	if b := l.take(false); len(b.save.Namespaces) != 1 || b.save.Namespaces["ns"].Workloads["Deployment/web"] == nil {
		t.Fatal("the learned workload is not due for saving")
	}
	l.LearnKnown(obs("web", false))
	if b := l.take(false); !empty(b.save) {
		t.Fatal("a known repeat made a save due before the refresh")
	}
}

// TestPublishNamesChanged: each publication names the namespaces changed since the last one
// that succeeded, so the publisher fingerprints only those; a failed one's are named again.
func TestPublishNamesChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := newMemory()
		l := New(aggregate.New("me"))
		stop := run(t, l, mem, time.Second)
		in := func(ns, name string) aggregate.Observation { o := obs(name, false); o.Namespace = ns; return o }
		l.Learn(in("a", "x"))
		l.Learn(in("b", "x"))
		time.Sleep(2 * time.Second)
		mem.mu.Lock()
		mem.failPublish = 1
		mem.mu.Unlock()
		l.Learn(in("c", "x"))
		time.Sleep(3 * time.Second) // c's publication fails at 3 s, its retry comes within 1 s
		l.Learn(in("a", "y"))
		time.Sleep(3 * time.Second)
		stop() // the final publication names nothing: all was published
		mem.mu.Lock()
		defer mem.mu.Unlock()
		want := [][]string{{"a", "b"}, {"c"}, {"c"}, {"a"}, {}}
		if len(mem.changed) != len(want) {
			t.Fatalf("publications named %q, want %q", mem.changed, want)
		}
		for i := range want {
			if !slices.Equal(mem.changed[i], want[i]) {
				t.Errorf("publication %d named %q, want %q", i, mem.changed[i], want[i])
			}
		}
	})
}
