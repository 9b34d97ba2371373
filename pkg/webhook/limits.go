package webhook

import "sync/atomic"

// What one review may be, and what all reviews in flight may hold.
const (
	// maxPodJSONBytes is the largest pod an API server hands a webhook: it refuses request
	// bodies over 3 MiB (twice etcd's 1.5 MiB object limit, since JSON shrinks when it is
	// stored as protobuf).
	maxPodJSONBytes = 3 << 20
	// MaxReviewBytes caps an AdmissionReview body. An UPDATE (pods, pods/ephemeralcontainers)
	// carries the object and its oldObject; the rest of a review (user info, options) is small.
	// A longer body is answered at once, unread (outcome too_large).
	MaxReviewBytes = 2*maxPodJSONBytes + 256<<10

	// smallReviewBytes: reviews up to this size are small. An ordinary pod's review is a few
	// KiB, one with dozens of containers some tens.
	smallReviewBytes = 256 << 10
	// reviewCost is the memory a review holds per byte of its body once it is decoded and
	// learned: the body, the object's copy and the decoded pod.
	reviewCost = 4
	// inFlightBytes bounds the memory that reviews in flight hold together. A review that finds
	// no room is answered at once and not learned (outcome shed), never queued: one client's
	// big or slow bodies cannot make anyone else's review wait.
	inFlightBytes = 2 * bigInFlightBytes
	// bigInFlightBytes is the part of inFlightBytes that reviews over smallReviewBytes may
	// fill: room for one maximal review; the other half is always left to the small ones.
	bigInFlightBytes = 32 << 20
)

// budget counts the bytes that reviews in flight hold, up to inFlightBytes. Taking from it
// never waits.
type budget struct{ used atomic.Int64 }

// take reserves n bytes for a review of size bytes (declared, or read so far), if there is
// room for a review of that size.
func (b *budget) take(n, size int64) bool {
	limit := int64(inFlightBytes)
	if size > smallReviewBytes {
		limit = bigInFlightBytes
	}
	for {
		used := b.used.Load()
		if used+n > limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *budget) give(n int64) { b.used.Add(-n) }
