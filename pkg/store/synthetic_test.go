package store

import (
	"encoding/json"
	"testing"

	syntheticpods "github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// synthetic is what one replica learned from n distinct workloads.
func synthetic(replica string, first, n int, seed uint64) *aggregate.Aggregate {
	return syntheticpods.Aggregate(replica, first, n, seed)
}

// union joins aggregates into a fresh one.
func union(aggs ...*aggregate.Aggregate) *aggregate.Aggregate {
	u := aggregate.New("")
	for _, a := range aggs {
		u.Merge(a)
	}
	return u
}

// sameState compares two aggregates by their state JSON (counters per replica included).
func sameState(t testing.TB, got, want *aggregate.Aggregate) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Fatalf("state differs: got %d workloads (%d bytes), want %d workloads (%d bytes)",
			workloads(got), len(g), workloads(want), len(w))
	}
}
