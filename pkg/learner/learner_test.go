package learner

import (
	"context"
	"sync"
	"testing"
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
	saves     int
	published int
	other     *aggregate.Aggregate // what "another replica" saved
}

func (m *memory) Save(_ context.Context, agg *aggregate.Aggregate) (*aggregate.Aggregate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	joined := aggregate.New("store")
	joined.Merge(agg)
	if m.other != nil {
		joined.Merge(m.other)
	}
	m.saved = joined
	return joined, nil
}

func (m *memory) Publish(context.Context, *aggregate.Aggregate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.published++
	return nil
}

func (m *memory) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves, m.published
}

func obs(name string, hostPID bool) aggregate.Observation {
	return aggregate.Observation{Namespace: "ns", Owner: owner.Ref{Kind: "Deployment", Name: name},
		ServiceAccount: "default", Profile: attributes.Profile{HostPID: hostPID}, Time: time.Now()}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoop(t *testing.T) {
	mem := &memory{other: aggregate.New("other")}
	mem.other.Add(obs("from-other-replica", true))
	l := New(aggregate.New("me"))
	loop := &Loop{Learner: l, Saver: mem, Publisher: mem, Log: logr.Discard(), Debounce: 50 * time.Millisecond, Refresh: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop.Start(ctx); close(done) }()

	// A burst of new learning is saved together.
	for i := range 5 {
		if !l.Learn(obs(string(rune('a'+i)), false)) {
			t.Fatal("new workload not reported as learned")
		}
	}
	waitFor(t, "first flush", func() bool { s, _ := mem.counts(); return s >= 1 })
	waitFor(t, "settle", func() bool {
		s1, _ := mem.counts()
		time.Sleep(200 * time.Millisecond)
		s2, _ := mem.counts()
		return s1 == s2
	})
	saves, published := mem.counts()
	if saves > 3 || published < 1 {
		t.Errorf("burst of 5 gave %d saves, %d publishes", saves, published)
	}
	// What the other replica saved was joined into memory.
	if l.Workloads() != 6 {
		t.Errorf("workloads %d, want 6 (5 own + 1 joined from the store)", l.Workloads())
	}

	// Nothing new: no save.
	if l.Learn(obs("a", false)) {
		t.Error("known workload reported as learned")
	}
	time.Sleep(200 * time.Millisecond)
	if s, _ := mem.counts(); s != saves {
		t.Errorf("a known pod caused a save (%d → %d)", saves, s)
	}

	// Shutdown flushes what was only counted.
	cancel()
	<-done
	if s, _ := mem.counts(); s != saves+1 {
		t.Errorf("no final flush on shutdown (%d saves)", s)
	}
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if n := mem.saved.Namespaces["ns"].Workloads["Deployment/a"].Count(); n != 2 {
		t.Errorf("final flush count %d, want 2", n)
	}
}

// TestResave: a state lost from the store is saved again from memory without new learning.
func TestResave(t *testing.T) {
	mem := &memory{}
	l := New(aggregate.New("me"))
	loop := &Loop{Learner: l, Saver: mem, Publisher: mem, Log: logr.Discard(), Debounce: 10 * time.Millisecond, Refresh: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go loop.Start(ctx)
	l.Learn(obs("a", true))
	waitFor(t, "first save", func() bool { s, _ := mem.counts(); return s == 1 })
	l.Resave()
	waitFor(t, "save after Resave", func() bool { s, _ := mem.counts(); return s == 2 })
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if mem.saved.Namespaces["ns"].Workloads["Deployment/a"] == nil {
		t.Error("the resave lost the workload")
	}
}
