package aggregate

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"unique"
)

// Counts are grow-only observation counters, one per replica, sorted by replica: each replica
// increments its own, and a merge takes the larger of each. In JSON they are an object keyed
// by replica. A slice, not a map: nearly every record has one or two replicas, and a map of
// one entry costs ten times its 24 bytes.
type Counts []Counter

// Counter is one replica's count.
type Counter struct {
	Replica string
	N       int64
}

// Total is the sum of the counters.
func (c Counts) Total() int64 {
	var n int64
	for _, e := range c {
		n += e.N
	}
	return n
}

func (c Counts) find(replica string) (int, bool) {
	return slices.BinarySearchFunc(c, replica, func(e Counter, r string) int { return strings.Compare(e.Replica, r) })
}

// add adds n to replica's counter, or raises it to n (max), and keeps the bound.
func (c *Counts) add(replica string, n int64, raise bool) {
	i, ok := c.find(replica)
	switch {
	case ok && raise:
		(*c)[i].N = max((*c)[i].N, n)
		return
	case ok:
		(*c)[i].N += n
		return
	}
	replica = unique.Make(boundName(replica)).Value() // replica names repeat in every record
	if i, ok = c.find(replica); ok {
		(*c)[i].N = max((*c)[i].N, n)
	} else {
		*c = slices.Insert(*c, i, Counter{replica, n})
	}
	c.bound()
}

// bound keeps the MaxReplicas largest counters (ties by name): the kept entries are then the
// same whatever order merges came in, and Total is a lower bound once some were dropped.
func (c *Counts) bound() {
	if len(*c) <= MaxReplicas {
		return
	}
	byCount := slices.Clone(*c)
	slices.SortFunc(byCount, func(a, b Counter) int { return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Replica, b.Replica)) })
	kept := byCount[:MaxReplicas]
	slices.SortFunc(kept, func(a, b Counter) int { return strings.Compare(a.Replica, b.Replica) })
	*c = kept
}

// MarshalJSON writes {"<replica>": n, …}, sorted by replica.
func (c Counts) MarshalJSON() ([]byte, error) {
	m := make(map[string]int64, len(c))
	for _, e := range c {
		m[e.Replica] = e.N
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads {"<replica>": n, …}, cutting over-long names and keeping the bound.
func (c *Counts) UnmarshalJSON(data []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*c = nil
	for _, r := range slices.Sorted(maps.Keys(m)) {
		c.add(r, m[r], true)
	}
	return nil
}
