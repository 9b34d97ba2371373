// Package intern shares equal values between the records that hold them. Joins never modify
// their inputs, so records may share the profiles, lists and verdicts they hold, and most
// workloads use the same few: their records then hold each once.
package intern

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
)

// Table maps a value's hash to the first value stored under it. It holds at most Max entries
// and starts over when full (what was shared stays shared), so hostile variety bounds it; it
// keeps hashes, not keys, and Equal tells a collision from a match.
type Table[V any] struct {
	Max   int
	Equal func(a, b V) bool

	mu sync.Mutex
	m  map[uint64]V
}

// Get returns the value stored under hash if it equals v, else v (stored if there was none).
func (t *Table[V]) Get(hash uint64, v V) V { return t.Share(hash, v, nil) }

// Share is Get, but stores canon(v) rather than v (if canon is not nil): a copy of v whose
// parts are shared in turn. v itself is never modified: it may hold what others share.
func (t *Table[V]) Share(hash uint64, v V, canon func(V) V) V {
	t.mu.Lock()
	defer t.mu.Unlock()
	if shared, ok := t.m[hash]; ok {
		if t.Equal(shared, v) {
			return shared
		}
		return v
	}
	if t.m == nil || len(t.m) >= t.Max {
		t.m = make(map[uint64]V)
	}
	if canon != nil {
		v = canon(v)
	}
	t.m[hash] = v
	return v
}

var seed = maphash.MakeSeed()

// Hash hashes the parts of a value; every string is written with its length, so that
// different values make different input.
type Hash struct {
	h    maphash.Hash
	init bool
}

// Strings adds strings to the hash.
func (h *Hash) Strings(parts ...string) {
	for _, p := range parts {
		h.Int(int64(len(p)))
		h.h.WriteString(p)
	}
}

// Int adds a number to the hash.
func (h *Hash) Int(n int64) {
	if !h.init {
		h.h.SetSeed(seed)
		h.init = true
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	h.h.Write(b[:])
}

// Sum returns the hash of what was added.
func (h *Hash) Sum() uint64 {
	if !h.init {
		h.h.SetSeed(seed)
		h.init = true
	}
	return h.h.Sum64()
}
