package attributes

import (
	"slices"
	"sort"
	"strings"
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
	// A pod's own list, as Observe joins it into an empty profile: already canonical.
	if len(a) == 0 && increasing(b, strings.Compare) {
		return b
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// appendNew appends v unless it is the last value: an observer's values are sorted and merged
// once, by Observe, and skipping repeats in a row (every container with the same profile)
// saves that work and its allocations for the common pod without costing n² for a hostile one.
func appendNew[T comparable](list []T, v T) []T {
	if n := len(list); n > 0 && list[n-1] == v {
		return list
	}
	return append(list, v)
}

// increasing reports whether list is sorted and free of duplicates.
func increasing[T any](list []T, compare func(a, b T) int) bool {
	for i := 1; i < len(list); i++ {
		if compare(list[i-1], list[i]) >= 0 {
			return false
		}
	}
	return true
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
