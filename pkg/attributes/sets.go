package attributes

import (
	"slices"
	"sort"
)

// union returns the sorted union of two sorted, duplicate-free lists.
func union(a, b []string) []string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	// The common case on the admission path: nothing new. Return a without allocating.
	if subset(b, a) {
		return a
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// subset reports whether every element of sorted b is in sorted a.
func subset(b, a []string) bool {
	for _, v := range b {
		if _, found := slices.BinarySearch(a, v); !found {
			return false
		}
	}
	return true
}
