package webhook

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Confirmer learns what a review would teach only once the API server is seen storing the pod.
// A review is a claim anyone who reaches the port can make, and a pod that a later admission
// step rejects never ran; the pod read back from the API server (same namespace, name and UID)
// is neither. So the handler answers at once and hands the identity of a pod that would teach
// something new to Hold; the Confirmer reads the stored pod (one GET, retried with backoff
// while it is not stored yet) and learns what the stored pod uses, never what the review
// said. Reviews that teach nothing new are only counted, and need no read: the API load is
// proportional to what is new, not to admissions.
//
// Why a GET and not a pod informer: an informer holds every pod of the cluster (even stripped
// to its identity, about 0.5 KiB each: ~52 MiB at 100,000 pods, plus the API server's LIST of
// all pods at every start and a watch event for every status change of every pod), to confirm
// the few pods that teach something; and it would still lack their specs. A GET costs one
// request per new observation, and what is held is bounded here: MaxHeld identities, each of
// a valid namespace (63 bytes at most), name (253) and UID (36), so the bytes are bounded too
// (4096 of the longest take about 4 MiB). BenchmarkConfirmCost prints both.
//
// A sender can claim any namespace, so no namespace may crowd the others out of the hold:
// once it is full, a namespace holding fewer than the one holding most takes one of that
// one's places. Reads are rate-limited (ReadsPerSecond) so forged reviews cannot turn into an
// API load. Whatever is not confirmed within Timeout is dropped and counted by reason.
type Confirmer struct {
	Reader         client.Reader // the API server itself, not a cache
	Log            logr.Logger
	MaxHeld        int           // identities held at once (0: DefaultMaxHeld)
	Timeout        time.Duration // how long a held pod may take to be stored (0: DefaultConfirmTimeout)
	ReadsPerSecond float64       // GETs of held pods per second, at most (0: DefaultReadsPerSecond)
	// Selects, if set, is the webhook's objectSelector: a stored pod it does not select is one
	// the API server would not have sent, so it is not learned.
	Selects func(*corev1.Pod) bool

	learner Learner
	observe func(context.Context, *corev1.Pod) aggregate.Observation
	now     func() time.Time

	mu        sync.Mutex
	held      map[identity]*pending
	perNS     map[string]int
	confirmed map[uint64]time.Time // fingerprints learned from a stored pod, until Timeout
	queue     workqueue.TypedDelayingInterface[identity]
	limiter   *rate.Limiter
}

// Defaults of the Confirmer's bounds.
const (
	DefaultMaxHeld        = 4096
	DefaultConfirmTimeout = 30 * time.Second
	DefaultReadsPerSecond = 50
	// firstRead is when a held pod is first read: it is stored only after every validating
	// webhook answered. Reads then back off, doubling up to maxReadWait.
	firstRead   = 250 * time.Millisecond
	maxReadWait = 4 * time.Second
	// readTimeout bounds one GET.
	readTimeout = 2 * time.Second
	readWorkers = 4
	// On shutdown, Drain reads what is held drainRounds times, drainPause apart.
	drainRounds = 3
	drainPause  = 500 * time.Millisecond
)

// Reasons an observation was not learned (pod_security_advisor_unconfirmed_total).
const (
	UnconfirmedFull         = "full"         // the hold was full (or this namespace's place was taken)
	UnconfirmedUnidentified = "unidentified" // the review names no valid namespace, name and UID
	UnconfirmedNotStored    = "not_stored"   // no pod of that namespace, name and UID was stored within the timeout
	UnconfirmedDiffers      = "differs"      // the stored pod never used what the review claimed (the stored one is learned)
	UnconfirmedReadError    = "read_error"   // the API server could not be read until the timeout
	UnconfirmedNotSelected  = "not_selected" // the stored pod is not one the webhook's objectSelector selects
)

type identity struct {
	namespace, name string
	uid             types.UID
}

type pending struct {
	fingerprint uint64
	deadline    time.Time
	wait        time.Duration // until the next read
	reason      string        // why the last read did not confirm
}

// start fills the defaults; NewHandler calls it with the handler's learner and observation.
func (c *Confirmer) start(l Learner, observe func(context.Context, *corev1.Pod) aggregate.Observation, now func() time.Time) {
	c.learner, c.observe, c.now = l, observe, now
	c.MaxHeld = cmpOr(c.MaxHeld, DefaultMaxHeld)
	c.Timeout = cmpOr(c.Timeout, DefaultConfirmTimeout)
	c.ReadsPerSecond = cmpOr(c.ReadsPerSecond, DefaultReadsPerSecond)
	c.held, c.perNS, c.confirmed = map[identity]*pending{}, map[string]int{}, map[uint64]time.Time{}
	c.queue = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[identity]{Name: ""})
	c.limiter = rate.NewLimiter(rate.Limit(c.ReadsPerSecond), readWorkers)
}

func cmpOr[T int | float64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Hold keeps the identity of the reviewed pod until it is seen stored; o is what the review
// claims (only its fingerprint is kept). It never blocks.
func (c *Confirmer) Hold(pod *corev1.Pod, o aggregate.Observation) {
	id := identity{pod.Namespace, pod.Name, pod.UID}
	if validation.IsDNS1123Label(id.namespace) != nil || validation.IsDNS1123Subdomain(id.name) != nil ||
		id.uid == "" || len(id.uid) > 36 {
		unconfirmed.WithLabelValues(UnconfirmedUnidentified).Inc()
		return
	}
	fp := fingerprint(o)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.held[id]; p != nil {
		p.fingerprint = fp // the latest claim (an UPDATE); the deadline stays
		return
	}
	if len(c.held) >= c.MaxHeld && !c.evictFor(id.namespace) {
		unconfirmed.WithLabelValues(UnconfirmedFull).Inc()
		return
	}
	c.held[id] = &pending{fingerprint: fp, deadline: c.now().Add(c.Timeout), wait: firstRead, reason: UnconfirmedNotStored}
	c.perNS[id.namespace]++
	held.Set(float64(len(c.held)))
	c.queue.AddAfter(id, firstRead)
}

// evictFor frees a place for a pod of namespace ns if ns holds fewer than the namespace that
// holds most; c.mu is held. The scan is over held entries, only when the hold is full.
func (c *Confirmer) evictFor(ns string) bool {
	biggest := ""
	for name, n := range c.perNS {
		if n > c.perNS[biggest] {
			biggest = name
		}
	}
	if c.perNS[ns]+1 >= c.perNS[biggest] {
		return false
	}
	for id := range c.held {
		if id.namespace == biggest {
			c.drop(id)
			unconfirmed.WithLabelValues(UnconfirmedFull).Inc()
			return true
		}
	}
	return false
}

// drop forgets a held identity (a queued read of it finds nothing); c.mu is held.
func (c *Confirmer) drop(id identity) {
	delete(c.held, id)
	if c.perNS[id.namespace]--; c.perNS[id.namespace] <= 0 {
		delete(c.perNS, id.namespace)
	}
	held.Set(float64(len(c.held)))
}

// Start reads held pods until ctx ends (a manager Runnable).
func (c *Confirmer) Start(ctx context.Context) error {
	go func() { <-ctx.Done(); c.queue.ShutDown() }()
	var workers sync.WaitGroup
	for range readWorkers {
		workers.Go(func() {
			for {
				id, stop := c.queue.Get()
				if stop {
					return
				}
				c.check(ctx, id)
				c.queue.Done(id)
			}
		})
	}
	workers.Wait()
	return nil
}

// NeedLeaderElection is false: every replica confirms what it was sent.
func (c *Confirmer) NeedLeaderElection() bool { return false }

// check reads the stored pod of a held identity once: learned and done, read again later, or
// given up.
func (c *Confirmer) check(ctx context.Context, id identity) {
	c.mu.Lock()
	p := c.held[id]
	if p == nil {
		c.mu.Unlock()
		return
	}
	fp, reason, expired := p.fingerprint, p.reason, !c.now().Before(p.deadline)
	if at, ok := c.confirmed[fp]; ok && c.now().Sub(at) < c.Timeout {
		// Another pod of the same claim was confirmed: this one teaches nothing more.
		c.drop(id)
		c.mu.Unlock()
		confirmations.Inc()
		return
	}
	if expired {
		c.drop(id)
		c.mu.Unlock()
		unconfirmed.WithLabelValues(reason).Inc() // counted, not logged: forged reviews end here
		return
	}
	c.mu.Unlock()

	if err := c.limiter.Wait(ctx); err != nil {
		return // shutting down: Drain reads it
	}
	reason = c.read(ctx, id, fp)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p = c.held[id]; p == nil {
		return
	}
	if reason == "" {
		c.drop(id)
		c.remember(p.fingerprint)
		confirmations.Inc()
		return
	}
	p.reason = reason
	if ctx.Err() != nil {
		return
	}
	// Read again (or, past the deadline, count it as given up at its next turn).
	wait := min(p.wait, max(p.deadline.Sub(c.now()), 0))
	p.wait = min(2*p.wait, maxReadWait)
	c.queue.AddAfter(id, wait)
}

// read GETs the pod, learns the stored one if it is the held identity, and returns "" when
// the stored pod is what the review claimed, else why not.
func (c *Confirmer) read(ctx context.Context, id identity, fp uint64) string {
	get, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	pod := &corev1.Pod{}
	err := c.Reader.Get(get, client.ObjectKey{Namespace: id.namespace, Name: id.name}, pod)
	confirmReads.Inc()
	switch {
	case apierrors.IsNotFound(err):
		return UnconfirmedNotStored
	case err != nil:
		c.Log.V(1).Info("reading a held pod failed", "namespace", id.namespace, "name", id.name, "error", err)
		return UnconfirmedReadError
	case pod.UID != id.uid:
		return UnconfirmedNotStored // another pod of that name: this one was not (yet) stored
	case c.Selects != nil && !c.Selects(pod):
		return UnconfirmedNotSelected
	}
	o := c.observe(ctx, pod)
	if c.learner.Learn(o) {
		c.Log.V(1).Info("learned from the stored pod", "namespace", id.namespace, "name", id.name, "workload", o.Owner.String())
	}
	if fingerprint(o) != fp {
		// A forged claim under a real pod's identity, or an update not stored yet.
		return UnconfirmedDiffers
	}
	return ""
}

// Drain reads every held pod at once, and again a few times drainPause apart while some are
// not stored yet, until none is held or ctx ends; what is still held then is given up. On
// shutdown it runs before the last save, so that pods admitted before a SIGTERM are learned.
func (c *Confirmer) Drain(ctx context.Context) {
	for round := range drainRounds {
		c.mu.Lock()
		ids := slices.Collect(maps.Keys(c.held))
		c.mu.Unlock()
		if len(ids) == 0 {
			return
		}
		if round > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(drainPause):
			}
		}
		work := make(chan identity)
		var workers sync.WaitGroup
		for range readWorkers {
			workers.Go(func() {
				for id := range work {
					c.drainOne(ctx, id)
				}
			})
		}
		for _, id := range ids {
			work <- id
		}
		close(work)
		workers.Wait()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, p := range c.held {
		c.drop(id)
		unconfirmed.WithLabelValues(p.reason).Inc()
	}
}

// drainOne reads one held pod without waiting for the rate limit.
func (c *Confirmer) drainOne(ctx context.Context, id identity) {
	c.mu.Lock()
	p := c.held[id]
	c.mu.Unlock()
	if p == nil || ctx.Err() != nil {
		return
	}
	reason := c.read(ctx, id, p.fingerprint)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p = c.held[id]; p == nil {
		return
	}
	if reason == "" {
		c.drop(id)
		c.remember(p.fingerprint)
		confirmations.Inc()
		return
	}
	p.reason = reason
}

// remember notes a confirmed fingerprint, so that held pods of the same claim need no read;
// c.mu is held. The map is bounded by MaxHeld: expired entries go first, then any (forgetting
// one costs a read, never learning).
func (c *Confirmer) remember(fp uint64) {
	now := c.now()
	if len(c.confirmed) >= c.MaxHeld {
		maps.DeleteFunc(c.confirmed, func(_ uint64, at time.Time) bool { return now.Sub(at) >= c.Timeout })
		for k := range c.confirmed {
			if len(c.confirmed) < c.MaxHeld {
				break
			}
			delete(c.confirmed, k)
		}
	}
	c.confirmed[fp] = now
}

// fingerprint hashes what an observation teaches (all of it but the time it was made).
func fingerprint(o aggregate.Observation) uint64 {
	o.Time = time.Time{}
	data, err := json.Marshal(o)
	if err != nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(data)
	return h.Sum64()
}
