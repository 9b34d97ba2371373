package aggregate

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"unique"

	"github.com/pod-security-advisor/pod-security-advisor/internal/jsonsize"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// Bounds of one workload record. Allowances are bounded by attributes.Join, which widens and
// never drops. Evidence (images, service accounts, PSS details, counters) is cut instead, and
// what was cut is said: a cut value ends in "…(<n> bytes, fnv <hash>)", a cut set keeps a count
// of what it no longer lists. Every cut keeps merging commutative, associative and idempotent.
const (
	// MaxValueBytes bounds one name, image, replica, PSS reason or detail (JSON bytes).
	MaxValueBytes = 256
	// MaxEvidence bounds the images and the service accounts listed per record.
	MaxEvidence = 32
	// MaxReplicas bounds the replicas whose counters a record keeps.
	MaxReplicas = 16
	// MaxDetails bounds the details of one PSS finding; MaxFindings the findings of a level
	// (pod-security-admission 1.37 has 19 checks: at most 12 fail at baseline, 15 at restricted).
	MaxDetails  = 2
	MaxFindings = 20
	// MaxRecordJSON bounds the JSON of one record within these bounds, its key in the
	// namespace's map included: the profile (attributes.MaxProfileJSON), ref and key, two
	// evidence sets, counters, and two levels of findings.
	MaxRecordJSON = attributes.MaxProfileJSON + 4*MaxValueBytes + 512 +
		2*MaxEvidence*(MaxValueBytes+1) + MaxReplicas*(MaxValueBytes+24) +
		2*MaxFindings*(2*MaxValueBytes+MaxDetails*(MaxValueBytes+1)+32)
)

// Markers that stand for what a cut dropped. They sort after every name the evaluator writes.
const (
	moreDetails  = "… more details not kept"
	moreFindings = "~more-findings-not-kept"
)

// boundName cuts an over-long name (an ownerReference's kind and name are not validated).
func boundName(s string) string { return jsonsize.Truncate(s, MaxValueBytes) }

// boundRef cuts a ref's names; it is called for new records, whose kinds repeat in many.
func boundRef(r owner.Ref) owner.Ref {
	return owner.Ref{Kind: unique.Make(boundName(r.Kind)).Value(), Name: boundName(r.Name)}
}

// evidence is a bounded set of names: the MaxEvidence of smallest fnv-1a hash, sorted, and
// an estimate of how many more distinct names were seen. Keeping the smallest hashes is a
// bottom-k sketch: which names are kept does not depend on the order they came in, and the
// largest kept hash estimates how many there were ((k-1)/h, h as a fraction of the hash space).
type evidence struct {
	set       *[]string
	notListed *int64
}

// rank orders names by hash, then by name, so that the order is total. fnv-1a spreads
// names that differ in their last bytes (app:1, app:2) unevenly over the high bits, which the
// estimate reads: a finaliser (MurmurHash3's) mixes them.
func rank(s string) (uint64, string) {
	h := fnv.New64a()
	h.Write([]byte(s))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x, s
}

func compareRank(a, b string) int {
	ha, _ := rank(a)
	hb, _ := rank(b)
	return cmp.Or(cmp.Compare(ha, hb), strings.Compare(a, b))
}

// join adds values (cutting each to MaxValueBytes) and the cut count of the set they come from;
// it reports whether the set or its count changed. Values already listed cost a binary search.
func (e evidence) join(values []string, otherNotListed int64) bool {
	changed := false
	var largest string // the kept value of largest rank, once the set is full
	known := false     // whether largest is that of the current set
	for _, v := range values {
		if _, found := slices.BinarySearch(*e.set, v); found {
			continue // as kept, so within the bound
		}
		v = boundName(v)
		i, found := slices.BinarySearch(*e.set, v)
		if found {
			continue
		}
		if len(*e.set) >= MaxEvidence {
			if !known {
				largest, known = slices.MaxFunc(*e.set, compareRank), true
			}
			if compareRank(v, largest) > 0 {
				changed = changed || *e.notListed == 0 // a value beyond the kept ones: cut
				*e.notListed = max(*e.notListed, 1)
				continue
			}
			known = false
		}
		*e.set = slices.Insert(*e.set, i, unique.Make(v).Value()) // images and accounts repeat across records
		changed = true
		if len(*e.set) > MaxEvidence {
			j := slices.Index(*e.set, slices.MaxFunc(*e.set, compareRank))
			*e.set = slices.Delete(*e.set, j, j+1)
			*e.notListed = max(*e.notListed, 1)
		}
	}
	if otherNotListed > 0 && *e.notListed == 0 {
		*e.notListed, changed = 1, true
	}
	if changed && *e.notListed > 0 {
		*e.notListed = estimateNotListed(*e.set)
	}
	return changed
}

// estimateNotListed estimates the distinct names beyond a full kept set, at least 1.
func estimateNotListed(kept []string) int64 {
	if len(kept) < 2 {
		return 1
	}
	h, _ := rank(slices.MaxFunc(kept, compareRank))
	n := float64(len(kept)-1) * math.Exp2(64) / (float64(h) + 1)
	return max(int64(math.Round(n))-int64(len(kept)), 1)
}

// boundVerdict cuts reasons and details to MaxValueBytes and keeps the MaxDetails smallest
// details of each finding and the MaxFindings smallest findings of each level, a marker
// standing for the rest. It returns v itself, allocating nothing, when v is within the bounds.
func boundVerdict(v pss.Verdict) pss.Verdict {
	if findingsBounded(v.Baseline) && findingsBounded(v.Restricted) {
		return v
	}
	return pss.Verdict{Baseline: boundFindings(v.Baseline), Restricted: boundFindings(v.Restricted)}
}

func findingsBounded(fs []pss.Finding) bool {
	if len(fs) > MaxFindings {
		return false
	}
	for _, f := range fs {
		if len(f.Details) > MaxDetails || jsonsize.Len(f.Reason) > MaxValueBytes || jsonsize.Len(f.ID) > MaxValueBytes {
			return false
		}
		for _, d := range f.Details {
			if jsonsize.Len(d) > MaxValueBytes {
				return false
			}
		}
	}
	return true
}

var markerFinding = pss.Finding{ID: moreFindings, Reason: "more findings than a record keeps"}

func boundFindings(fs []pss.Finding) []pss.Finding {
	cut := make([]pss.Finding, len(fs))
	for i, f := range fs {
		cut[i] = pss.Finding{ID: boundName(f.ID), Reason: boundName(f.Reason)}
		for _, d := range f.Details {
			cut[i].Details = append(cut[i].Details, boundName(d))
		}
	}
	// Cut IDs may coincide: join them as pss.Join does (which also sorts details and findings).
	cut = pss.Join(pss.Verdict{}, pss.Verdict{Baseline: cut}).Baseline
	for i := range cut {
		cut[i].Details = keepSmallest(cut[i].Details, MaxDetails, moreDetails,
			func(d string) bool { return d == moreDetails }, strings.Compare)
	}
	return keepSmallest(cut, MaxFindings, markerFinding,
		func(f pss.Finding) bool { return f.ID == moreFindings },
		func(a, b pss.Finding) int { return strings.Compare(a.ID, b.ID) })
}

// keepSmallest returns the values sorted and without duplicates when there are at most k and
// none is the marker; else the k-1 smallest others and the marker. Which are kept does not
// depend on the order values were joined in: they are the smallest of all that ever were.
func keepSmallest[T any](values []T, k int, marker T, isMarker func(T) bool, compare func(a, b T) int) []T {
	cut := slices.ContainsFunc(values, isMarker)
	real := slices.DeleteFunc(slices.Clone(values), isMarker)
	slices.SortFunc(real, compare)
	real = slices.CompactFunc(real, func(a, b T) bool { return compare(a, b) == 0 })
	if !cut && len(real) <= k {
		return real
	}
	n := min(len(real), k-1)
	out := append(real[:n:n], marker)
	slices.SortFunc(out, compare)
	return out
}
