package attributes

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Range is an inclusive span of integers (IDs or ports).
type Range struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

func (r Range) String() string {
	if r.Min == r.Max {
		return fmt.Sprint(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// Ranges is a set of integers kept as sorted, disjoint, non-adjacent ranges: 1000, 1001 and
// 1002 are stored as 1000-1002, so the set is exact and its form is unique.
type Ranges []Range

// Add returns the set with v added.
func (rs Ranges) Add(v int64) Ranges { return rs.Join(Ranges{{v, v}}) }

// Join returns the union of two sets, within the bound (see bounded).
func (rs Ranges) Join(other Ranges) Ranges {
	if len(rs) == 0 && len(other) == 0 {
		return nil
	}
	if rs.covers(other) {
		return rs // nothing new: no allocation on the admission path
	}
	if len(rs) == 0 && other.canonical() && blocks(other, 0) <= MaxRanges {
		return other // a pod's own few values, as Observe joins them into an empty profile
	}
	all := append(slices.Clone(rs), other...)
	slices.SortFunc(all, func(a, b Range) int {
		if a.Min != b.Min {
			return compare(a.Min, b.Min)
		}
		return compare(a.Max, b.Max)
	})
	out := Ranges{all[0]}
	for _, r := range all[1:] {
		last := &out[len(out)-1]
		// last.Max+1 would wrap at MaxInt64, where nothing can lie above last anyway.
		if last.Max == math.MaxInt64 || r.Min <= last.Max+1 {
			last.Max = max(last.Max, r.Max)
			continue
		}
		out = append(out, r)
	}
	return out.bounded()
}

// canonical reports whether rs is sorted, disjoint and non-adjacent.
func (rs Ranges) canonical() bool {
	for i, r := range rs {
		if r.Min > r.Max || i > 0 && (rs[i-1].Max >= r.Min || uint64(r.Min)-uint64(rs[i-1].Max) == 1) {
			return false
		}
	}
	return true
}

// covers reports whether every range of other lies inside one range of rs.
func (rs Ranges) covers(other Ranges) bool {
	for _, o := range other {
		i, _ := slices.BinarySearchFunc(rs, o.Min, func(r Range, v int64) int {
			if r.Max < v {
				return -1
			}
			if r.Min > v {
				return 1
			}
			return 0
		})
		if i == len(rs) || rs[i].Min > o.Min || rs[i].Max < o.Max {
			return false
		}
	}
	return true
}

func (rs Ranges) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// IDs is the set of user or group IDs that were set explicitly, and whether some container left
// the ID unset (so the image or runtime chose it).
type IDs struct {
	Values Ranges `json:"values,omitempty"`
	Unset  bool   `json:"unset,omitempty"`
}

// Join returns the union of two ID sets.
func (ids IDs) Join(other IDs) IDs {
	return IDs{Values: ids.Values.Join(other.Values), Unset: ids.Unset || other.Unset}
}

// covers reports whether ids already holds everything other does.
func (ids IDs) covers(other IDs) bool {
	return ids.Values.covers(other.Values) && (ids.Unset || !other.Unset)
}

// observe records one value, or that it was unset.
func (ids *IDs) observe(v *int64) {
	if v == nil {
		ids.Unset = true
		return
	}
	ids.Values = appendNew(ids.Values, Range{*v, *v}) // Observe sorts and merges once
}
