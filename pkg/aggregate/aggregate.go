// Package aggregate joins observations into a per-namespace, per-workload record of what pods
// need, with the evidence (service accounts, images, counts, first and last seen).
//
// Everything but the counters is a join-semilattice: merging two aggregates is commutative,
// associative and idempotent, so replicas and restarts merge in any order and nothing learned is
// lost. Counts are grow-only counters per replica (each replica only increments its own entry
// and merges take the maximum per replica), which keeps merging idempotent too.
//
// Every record is bounded (bounds.go, MaxRecordJSON): whatever a tenant puts in its pods, one
// record stays far below a state shard. Allowances are widened past their bounds, never
// dropped; evidence is cut, and the record says how much.
package aggregate

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// APIVersion names the JSON schema of a serialised aggregate.
const APIVersion = "pod-security-advisor.io/v1"

// Aggregate is everything learned, per namespace.
type Aggregate struct {
	// Replica names the process that adds observations here; its counter entries are its own.
	Replica string
	// MaxWorkloads bounds memory: the records of their own that namespaces share fairly
	// (budget.go); past its share, a new workload's evidence joins its namespace's Overflow
	// record instead. Allowances are never dropped. 0: no bound.
	MaxWorkloads int
	Namespaces   map[string]*Namespace
	workloads    int          // records, Overflow ones included
	owned        int          // records of their own, what MaxWorkloads bounds
	sizes        sizes        // namespaces by records of their own, once the budget was spent
	folded       []*Namespace // namespaces that folded a record since TakeFolded
}

// Overflow is the record that holds workloads beyond MaxWorkloads.
var Overflow = owner.Ref{Kind: "Overflow", Name: "workloads-beyond-max-workloads"}

// Namespace holds the workloads of one namespace, keyed by Ref.Key().
type Namespace struct {
	Workloads map[string]*Workload `json:"workloads"`
	name      string               // for the budget's order
	owned     int                  // records other than Overflow
	index     int                  // position in the budget's order
}

// Workload is the joined record of every observed pod of one owner workload. Its size is
// bounded (bounds.go): ServiceAccountsNotListed and ImagesNotListed estimate how many names
// seen are not listed, 0 when every one is.
type Workload struct {
	owner.Ref
	ServiceAccounts          []string            `json:"serviceAccounts"`
	ServiceAccountsNotListed int64               `json:"serviceAccountsNotListed,omitempty"`
	Images                   []string            `json:"images"`
	ImagesNotListed          int64               `json:"imagesNotListed,omitempty"`
	Counts                   Counts              `json:"counts"`
	FirstSeen                time.Time           `json:"firstSeen,omitzero"`
	LastSeen                 time.Time           `json:"lastSeen,omitzero"`
	Profile                  *attributes.Profile `json:"profile"` // shared: never modified
	PSS                      pss.Verdict         `json:"pss"`
}

// Count is the number of observations of this workload across all replicas (the MaxReplicas
// that counted most).
func (w *Workload) Count() int64 { return w.Counts.Total() }

// New returns an empty aggregate whose observations are counted under replica.
func New(replica string) *Aggregate {
	return &Aggregate{Replica: replica, Namespaces: map[string]*Namespace{}}
}

// Add records one observation. It reports whether the aggregate learned something new (a
// change other than the counter and last-seen time), which is what makes a flush worthwhile.
func (a *Aggregate) Add(o Observation) bool {
	ns := a.namespace(o.Namespace)
	ref, key, w := a.slot(ns, o.Owner)
	learned := w == nil
	if w == nil {
		w = &Workload{Ref: ref, Profile: attributes.Shared(attributes.Profile{})}
		a.insert(ns, key, w)
	}
	at := o.Time.UTC().Truncate(time.Second)
	learned = w.serviceAccounts().join([]string{o.ServiceAccount}, 0) || learned
	learned = w.images().join(o.Images, 0) || learned
	learned = w.joinProfile(o.Profile, o.Verdict) || learned
	if !at.IsZero() && (w.FirstSeen.IsZero() || at.Before(w.FirstSeen)) {
		w.FirstSeen = at
	}
	if at.After(w.LastSeen) {
		w.LastSeen = at
	}
	w.Counts.add(a.Replica, 1, false)
	return learned
}

func (w *Workload) serviceAccounts() evidence {
	return evidence{&w.ServiceAccounts, &w.ServiceAccountsNotListed}
}

func (w *Workload) images() evidence { return evidence{&w.Images, &w.ImagesNotListed} }

// joinProfile joins a bounded profile and a verdict into w's, and reports whether they grew.
// Nothing is allocated when nothing is new: Covers is exact, and pss.Join returns its first
// argument's findings when the second adds none (then v is within the bounds, being equal to
// what w keeps).
func (w *Workload) joinProfile(p attributes.Profile, v pss.Verdict) bool {
	learned := false
	if !attributes.Covers(*w.Profile, p) {
		w.Profile, learned = attributes.Shared(attributes.Join(*w.Profile, p)), true
	}
	if fast := pss.Join(w.PSS, v); !sameFindings(fast.Baseline, w.PSS.Baseline) || !sameFindings(fast.Restricted, w.PSS.Restricted) {
		// What is new to pss.Join may be beyond the bound, and not new to the bounded verdict.
		if j := boundVerdict(pss.Join(w.PSS, boundVerdict(v))); !equalVerdicts(j, w.PSS) {
			w.PSS, learned = internVerdict(j), true
		}
	}
	return learned
}

// sameFindings reports whether a and b are the same slice (not merely equal ones).
func sameFindings(a, b []pss.Finding) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Merge joins other into a. It reports whether a learned something new, as Add does.
func (a *Aggregate) Merge(other *Aggregate) bool {
	learned := false
	for _, name := range slices.Sorted(maps.Keys(other.Namespaces)) {
		ns := a.namespace(name)
		for _, key := range slices.Sorted(maps.Keys(other.Namespaces[name].Workloads)) {
			ow := other.Namespaces[name].Workloads[key]
			ref, slotKey, w := a.slot(ns, ow.Ref)
			if w == nil {
				w = ow.clone()
				w.Ref = ref
				a.insert(ns, slotKey, w)
				learned = true
				continue
			}
			learned = w.merge(ow) || learned
		}
	}
	return learned
}

// Absorb joins src into a as Merge does, but takes src's workload records over where a has
// none yet, instead of copying them. It is for a src that was just decoded and serves nothing
// else (the store joining its shards): afterwards src's records may belong to a, and must not
// be changed through src. src's maps are left as they are.
func (a *Aggregate) Absorb(src *Aggregate) {
	for _, name := range slices.Sorted(maps.Keys(src.Namespaces)) {
		ns := a.namespace(name)
		for _, key := range slices.Sorted(maps.Keys(src.Namespaces[name].Workloads)) {
			sw := src.Namespaces[name].Workloads[key]
			ref, slotKey, w := a.slot(ns, sw.Ref)
			switch {
			case w != nil:
				w.merge(sw)
				continue
			case ref == sw.Ref:
				w = sw
			default: // overflow: the record is renamed, so it is a copy
				w = sw.clone()
				w.Ref = ref
			}
			a.insert(ns, slotKey, w)
		}
	}
}

func (w *Workload) merge(o *Workload) bool {
	learned := w.serviceAccounts().join(o.ServiceAccounts, o.ServiceAccountsNotListed)
	learned = w.images().join(o.Images, o.ImagesNotListed) || learned
	learned = w.joinProfile(*o.Profile, o.PSS) || learned
	if !o.FirstSeen.IsZero() && (w.FirstSeen.IsZero() || o.FirstSeen.Before(w.FirstSeen)) {
		w.FirstSeen = o.FirstSeen
	}
	if o.LastSeen.After(w.LastSeen) {
		w.LastSeen = o.LastSeen
	}
	for _, c := range o.Counts {
		w.Counts.add(c.Replica, c.N, true)
	}
	return learned
}

// bound brings a decoded record within the bounds (stored state is hostile input, and state
// saved before the bounds existed may be beyond them) and shares what it holds with others.
func (w *Workload) bound() {
	w.Ref = boundRef(w.Ref)
	sas, sasCut, images, imagesCut := w.ServiceAccounts, w.ServiceAccountsNotListed, w.Images, w.ImagesNotListed
	w.ServiceAccounts, w.ServiceAccountsNotListed, w.Images, w.ImagesNotListed = nil, 0, nil, 0
	w.serviceAccounts().join(sas, sasCut)
	w.images().join(images, imagesCut)
	if w.Profile == nil {
		w.Profile = &attributes.Profile{}
	}
	w.Profile = attributes.Shared(*w.Profile) // bounded as it was decoded, as are the counters
	w.PSS = internVerdict(boundVerdict(w.PSS))
}

// clone copies what Add and Merge change in place (the sets and counters). Profiles and verdicts
// are shared: joins never modify their inputs, they build new values.
func (w *Workload) clone() *Workload {
	c := *w
	c.ServiceAccounts = slices.Clone(w.ServiceAccounts)
	c.Images = slices.Clone(w.Images)
	c.Counts = slices.Clone(w.Counts)
	return &c
}

// Clone returns a copy that later Adds and Merges on a do not change. It is cheap enough to
// take under the learner's lock (no serialisation).
func (a *Aggregate) Clone() *Aggregate {
	c := &Aggregate{Replica: a.Replica, MaxWorkloads: a.MaxWorkloads, Namespaces: make(map[string]*Namespace, len(a.Namespaces)),
		workloads: a.workloads, owned: a.owned}
	for name, ns := range a.Namespaces {
		cns := &Namespace{Workloads: make(map[string]*Workload, len(ns.Workloads)), name: name, owned: ns.owned}
		for key, w := range ns.Workloads {
			cns.Workloads[key] = w.clone()
		}
		c.Namespaces[name] = cns
	}
	return c
}

// slot returns where a workload's evidence goes: its own record, or the namespace's overflow
// record once the namespace has its share of MaxWorkloads (budget.go; a new record of a
// smaller namespace may fold one of the biggest). It returns that record's ref and key, and
// the record itself, nil when it does not exist yet (the key is "" for one that exists). This
// runs for every admitted pod: a known workload is found without allocating.
func (a *Aggregate) slot(ns *Namespace, ref owner.Ref) (owner.Ref, string, *Workload) {
	if w := ns.lookup(ref); w != nil {
		return w.Ref, "", w
	}
	ref = boundRef(ref)
	key := ref.Key()
	if w, ok := ns.Workloads[key]; ok || ref == Overflow || !a.full() {
		return ref, key, w
	}
	if big := a.biggest(); big != ns && ns.owned+1 < big.owned {
		a.fold(big)
		return ref, key, nil
	}
	return Overflow, overflowKey, ns.Workloads[overflowKey]
}

// lookup finds the record of ref without building its key on the heap.
func (ns *Namespace) lookup(ref owner.Ref) *Workload {
	var buf [128]byte
	key := append(append(append(buf[:0], ref.Kind...), '/'), ref.Name...)
	return ns.Workloads[string(key)] // no conversion: the compiler indexes by the bytes
}

// namespace returns the namespace of that name, created if new.
func (a *Aggregate) namespace(name string) *Namespace {
	if ns, ok := a.Namespaces[name]; ok {
		return ns
	}
	name = boundName(name)
	ns, ok := a.Namespaces[name]
	if !ok {
		ns = &Namespace{Workloads: map[string]*Workload{}, name: name}
		a.Namespaces[name] = ns
		a.added(ns)
	}
	return ns
}

// NamespaceNames returns the namespaces in order.
func (a *Aggregate) NamespaceNames() []string { return slices.Sorted(maps.Keys(a.Namespaces)) }

// Sorted returns the namespace's workloads ordered by kind and name.
func (ns *Namespace) Sorted() []*Workload {
	out := slices.Collect(maps.Values(ns.Workloads))
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

type document struct {
	APIVersion string                `json:"apiVersion"`
	Kind       string                `json:"kind"`
	Namespaces map[string]*Namespace `json:"namespaces"`
}

// MarshalJSON writes the versioned state document. Map keys are sorted by encoding/json, so the
// output is deterministic.
func (a *Aggregate) MarshalJSON() ([]byte, error) {
	return json.Marshal(document{APIVersion: APIVersion, Kind: "Aggregate", Namespaces: a.Namespaces})
}

// UnmarshalJSON reads a state document, refusing other schema versions rather than guessing.
func (a *Aggregate) UnmarshalJSON(data []byte) error {
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if doc.APIVersion != APIVersion || doc.Kind != "Aggregate" {
		return fmt.Errorf("unsupported state: apiVersion %q kind %q (want %q Aggregate)", doc.APIVersion, doc.Kind, APIVersion)
	}
	// Records are brought within the bounds as they are read, in key order: cutting an
	// over-long name may make two records one, and they join as Merge joins them.
	a.Namespaces = map[string]*Namespace{}
	a.workloads, a.owned, a.sizes = 0, 0, nil
	for _, name := range slices.Sorted(maps.Keys(doc.Namespaces)) {
		ns := a.namespace(boundName(name))
		stored := doc.Namespaces[name]
		if stored == nil {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(stored.Workloads)) {
			w := stored.Workloads[key]
			if w == nil || w.Key() != key {
				return fmt.Errorf("namespace %s: workload %q does not match its key", name, key)
			}
			w.bound()
			if prev, ok := ns.Workloads[w.Key()]; ok {
				prev.merge(w)
				continue
			}
			a.insert(ns, w.Key(), w)
		}
	}
	return nil
}

// Workloads returns the number of workload records.
func (a *Aggregate) Workloads() int { return a.workloads }
