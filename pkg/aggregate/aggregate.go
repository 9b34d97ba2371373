// Package aggregate joins observations into a per-namespace, per-workload record of what pods
// need, with the evidence (service accounts, images, counts, first and last seen).
//
// Everything but the counters is a join-semilattice: merging two aggregates is commutative,
// associative and idempotent, so replicas and restarts merge in any order and nothing learned is
// lost. Counts are grow-only counters per replica (each replica only increments its own entry
// and merges take the maximum per replica), which keeps merging idempotent too.
package aggregate

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
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
	// MaxWorkloads bounds memory: past it, a new workload's evidence joins its namespace's
	// Overflow record instead of a record of its own. Allowances are never dropped. 0: no bound.
	MaxWorkloads int
	Namespaces   map[string]*Namespace
	workloads    int
}

// Overflow is the record that holds workloads beyond MaxWorkloads.
var Overflow = owner.Ref{Kind: "Overflow", Name: "workloads-beyond-max-workloads"}

// Namespace holds the workloads of one namespace, keyed by Ref.Key().
type Namespace struct {
	Workloads map[string]*Workload `json:"workloads"`
}

// Workload is the joined record of every observed pod of one owner workload.
type Workload struct {
	owner.Ref
	ServiceAccounts []string           `json:"serviceAccounts"`
	Images          []string           `json:"images"`
	Counts          map[string]int64   `json:"counts"`
	FirstSeen       time.Time          `json:"firstSeen,omitzero"`
	LastSeen        time.Time          `json:"lastSeen,omitzero"`
	Profile         attributes.Profile `json:"profile"`
	PSS             pss.Verdict        `json:"pss"`
}

// Count is the number of observations of this workload across all replicas.
func (w *Workload) Count() int64 {
	var n int64
	for _, c := range w.Counts {
		n += c
	}
	return n
}

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
		w = &Workload{Ref: ref, Counts: map[string]int64{}}
		ns.Workloads[key] = w
		a.workloads++
	}
	at := o.Time.UTC().Truncate(time.Second)
	learned = setUnion(&w.ServiceAccounts, o.ServiceAccount) || learned
	learned = setUnion(&w.Images, o.Images...) || learned
	if p := attributes.Join(w.Profile, o.Profile); !equal(&p, &w.Profile) {
		w.Profile, learned = p, true
	}
	if v := pss.Join(w.PSS, o.Verdict); !equal(&v, &w.PSS) {
		w.PSS, learned = v, true
	}
	if !at.IsZero() && (w.FirstSeen.IsZero() || at.Before(w.FirstSeen)) {
		w.FirstSeen = at
	}
	if at.After(w.LastSeen) {
		w.LastSeen = at
	}
	w.Counts[a.Replica]++
	return learned
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
				ns.Workloads[slotKey] = w
				a.workloads++
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
			ns.Workloads[slotKey] = w
			a.workloads++
		}
	}
}

func (w *Workload) merge(o *Workload) bool {
	learned := setUnion(&w.ServiceAccounts, o.ServiceAccounts...)
	learned = setUnion(&w.Images, o.Images...) || learned
	if p := attributes.Join(w.Profile, o.Profile); !equal(&p, &w.Profile) {
		w.Profile, learned = p, true
	}
	if v := pss.Join(w.PSS, o.PSS); !equal(&v, &w.PSS) {
		w.PSS, learned = v, true
	}
	if !o.FirstSeen.IsZero() && (w.FirstSeen.IsZero() || o.FirstSeen.Before(w.FirstSeen)) {
		w.FirstSeen = o.FirstSeen
	}
	if o.LastSeen.After(w.LastSeen) {
		w.LastSeen = o.LastSeen
	}
	for r, c := range o.Counts {
		w.Counts[r] = max(w.Counts[r], c)
	}
	return learned
}

// clone copies what Add and Merge change in place (the sets and counters). Profiles and verdicts
// are shared: joins never modify their inputs, they build new values.
func (w *Workload) clone() *Workload {
	c := *w
	c.ServiceAccounts = slices.Clone(w.ServiceAccounts)
	c.Images = slices.Clone(w.Images)
	c.Counts = maps.Clone(w.Counts)
	if c.Counts == nil {
		c.Counts = map[string]int64{}
	}
	return &c
}

// Clone returns a copy that later Adds and Merges on a do not change. It is cheap enough to
// take under the learner's lock (no serialisation).
func (a *Aggregate) Clone() *Aggregate {
	c := &Aggregate{Replica: a.Replica, MaxWorkloads: a.MaxWorkloads, Namespaces: make(map[string]*Namespace, len(a.Namespaces)), workloads: a.workloads}
	for name, ns := range a.Namespaces {
		cns := &Namespace{Workloads: make(map[string]*Workload, len(ns.Workloads))}
		for key, w := range ns.Workloads {
			cns.Workloads[key] = w.clone()
		}
		c.Namespaces[name] = cns
	}
	return c
}

// slot returns where a workload's evidence goes: its own record, or the namespace's overflow
// record once MaxWorkloads records exist. It returns that record's ref and key, and the record
// itself, nil when it does not exist yet. The key is built and looked up once: this runs for
// every admitted pod.
func (a *Aggregate) slot(ns *Namespace, ref owner.Ref) (owner.Ref, string, *Workload) {
	key := ref.Key()
	if w, ok := ns.Workloads[key]; ok || a.MaxWorkloads <= 0 || a.workloads < a.MaxWorkloads {
		return ref, key, w
	}
	key = Overflow.Key()
	return Overflow, key, ns.Workloads[key]
}

func (a *Aggregate) namespace(name string) *Namespace {
	ns, ok := a.Namespaces[name]
	if !ok {
		ns = &Namespace{Workloads: map[string]*Workload{}}
		a.Namespaces[name] = ns
	}
	return ns
}

// setUnion adds values to a sorted set and reports whether it grew.
func setUnion(set *[]string, values ...string) bool {
	grew := false
	for _, v := range values {
		i, found := slices.BinarySearch(*set, v)
		if !found {
			*set = slices.Insert(*set, i, v)
			grew = true
		}
	}
	return grew
}

// equal compares joined values (pointers, so nothing is copied to the heap); joins keep empty
// lists nil, so deep equality is exact.
func equal[T any](a, b *T) bool { return reflect.DeepEqual(a, b) }

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
	a.Namespaces = doc.Namespaces
	a.workloads = 0
	if a.Namespaces == nil {
		a.Namespaces = map[string]*Namespace{}
	}
	for name, ns := range a.Namespaces {
		if ns == nil || ns.Workloads == nil {
			a.Namespaces[name] = &Namespace{Workloads: map[string]*Workload{}}
			continue
		}
		for key, w := range ns.Workloads {
			if w == nil || w.Key() != key {
				return fmt.Errorf("namespace %s: workload %q does not match its key", name, key)
			}
			if w.Counts == nil {
				w.Counts = map[string]int64{}
			}
			a.workloads++
		}
	}
	return nil
}

// Workloads returns the number of workload records.
func (a *Aggregate) Workloads() int { return a.workloads }
