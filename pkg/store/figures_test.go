//go:build integration

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// bytesClient counts the bytes of the objects it creates and updates.
type bytesClient struct {
	client.Client
	bytes atomic.Int64
}

func (b *bytesClient) count(obj client.Object) {
	data, _ := json.Marshal(obj)
	b.bytes.Add(int64(len(data)))
}

func (b *bytesClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	b.count(obj)
	return b.Client.Create(ctx, obj, opts...)
}

func (b *bytesClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	b.count(obj)
	return b.Client.Update(ctx, obj, opts...)
}

// peakHeap samples the heap while f runs and returns the highest HeapAlloc seen.
func peakHeap(f func()) uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// TestFlushFigures prints what one flush of 100 new workloads costs on top of 100,000 stored
// ones, in a real API server: the flush as the learner makes it (copy what changed, save it,
// join back what the save hands back), three times. Run with
//
//	KUBEBUILDER_ASSETS=/work/main/e2e/bin go test -tags integration ./pkg/store/ -run FlushFigures -v
func TestFlushFigures(t *testing.T) {
	const stored, rounds = 100_000, 3
	newClient := apiServer(t)
	counting := &bytesClient{Client: newClient(t)}
	s := newStore(t, counting, func(o *Options) { o.Reader = counting.Client })
	memory := synthetic("r1", 0, stored, 2)
	start := time.Now()
	mustSave(t, s, memory)
	t.Logf("%d workloads stored in %s", stored, time.Since(start).Round(time.Millisecond))
	mustLoad(t, s) // a webhook starts with Load: the store knows what memory holds
	next := stored
	for _, fresh := range []int{100, 1000} {
		for round := range rounds {
			changed := synthetic("r1", next, fresh, uint64(100+round))
			next += fresh
			memory.Merge(changed)
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			before := counting.bytes.Load()
			var took, cpu time.Duration
			peak := peakHeap(func() {
				start, used := time.Now(), cpuTime()
				flush(t, s, memory, changed)
				took, cpu = time.Since(start), cpuTime()-used
			})
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
			fmt.Printf("FIGURE store flush stored=%d new=%d round=%d seconds=%.2f cpu_seconds=%.2f bytes_written=%d heap_base_mib=%.0f heap_peak_mib=%.0f allocated_mib=%.0f shards=%d\n",
				stored, fresh, round+1, took.Seconds(), cpu.Seconds(), counting.bytes.Load()-before,
				mib(base.HeapAlloc), mib(peak), mib(after.TotalAlloc-base.TotalAlloc), s.Stats().Shards)
		}
	}
	sameState(t, mustLoad(t, s), memory)
}

// cpuTime is the CPU time this process used (the API server's is not counted): on a loaded
// machine it says more about a flush's cost than the time it took.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// flush is one flush as the learner makes it: the changed records copied under its lock,
// saved, and what the save hands back joined into memory.
func flush(t *testing.T, s *Store, memory, changed *aggregate.Aggregate) {
	changes := aggregate.New(memory.Replica)
	view := aggregate.New("")
	for ns, nsw := range changed.Namespaces {
		for key := range nsw.Workloads {
			put(view, ns, key, memory.Namespaces[ns].Workloads[key])
		}
	}
	changes.Merge(view)
	memory.Merge(mustSave(t, s, changes))
}
