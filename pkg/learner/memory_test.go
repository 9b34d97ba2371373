package learner

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	syntheticpods "github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// BenchmarkMemory100k learns 100,000 distinct synthetic workloads and reports the live heap
// and the process RSS they take: go test ./pkg/learner -run '^$' -bench Memory -benchtime 1x
func BenchmarkMemory100k(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		r := rand.New(rand.NewPCG(1, 1))
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := New(aggregate.New("bench"))
		at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			pod, ref := syntheticpods.Pod(r, i)
			l.Learn(aggregate.Observe(pod, ref, at))
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(heap/(1<<20), "heap-MiB")
		b.ReportMetric(heap/n, "heap-B/workload")
		b.ReportMetric(float64(rss())/(1<<20), "rss-MiB")
		if l.Workloads() != n {
			b.Fatalf("%d workloads", l.Workloads())
		}
	}
}

// rss reads the resident set size from /proc (Linux).
func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
