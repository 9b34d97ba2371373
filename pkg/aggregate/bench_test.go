package aggregate_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// observations draws n observations of n distinct synthetic workloads.
func observations(n int) []aggregate.Observation {
	r := rand.New(rand.NewPCG(1, 1))
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	obs := make([]aggregate.Observation, n)
	for i := range obs {
		pod, ref := synthetic.Pod(r, i)
		obs[i] = aggregate.Observe(pod, ref, at)
	}
	return obs
}

// BenchmarkAddKnown is the admission path's common case: the workload is known and the pod
// teaches nothing new.
func BenchmarkAddKnown(b *testing.B) {
	obs := observations(1000)
	agg := aggregate.New("bench")
	for _, o := range obs {
		agg.Add(o)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if agg.Add(obs[i%len(obs)]) {
			b.Fatal("a known observation taught something")
		}
		i++
	}
}

// BenchmarkAddBeyondMax adds pods of new workloads once MaxWorkloads records exist.
func BenchmarkAddBeyondMax(b *testing.B) {
	obs := observations(2000)
	agg := aggregate.New("bench")
	agg.MaxWorkloads = 1000
	for _, o := range obs {
		agg.Add(o)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		agg.Add(obs[i%len(obs)])
		i++
	}
}

// BenchmarkMerge joins two aggregates of 10,000 workloads each, half of them shared.
func BenchmarkMerge(b *testing.B) {
	x := synthetic.Aggregate("x", 0, 10_000, 1)
	y := synthetic.Aggregate("y", 5_000, 10_000, 2)
	b.ReportAllocs()
	for b.Loop() {
		c := x.Clone()
		c.Merge(y)
	}
}
