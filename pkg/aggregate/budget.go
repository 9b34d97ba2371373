package aggregate

import (
	"container/heap"
	"slices"
	"strings"
)

// The workload budget: MaxWorkloads records of their own, shared between namespaces by max-min
// fairness, so that no namespace can push another's workloads into overflow. Once the budget
// is spent, a new workload of a namespace that holds at least two records fewer than the
// biggest takes a record, and the biggest folds one of its own into its Overflow record
// (joined, so nothing it allowed is lost); any other new workload joins its namespace's
// Overflow record. Namespaces thus end within one record of each other, or below their need,
// and records do not pass back and forth between two namespaces of nearly equal size.
//
// Overflow records are not counted: there is at most one per namespace.

// overflowKey is Overflow.Key().
var overflowKey = Overflow.Key()

// sizes orders namespaces by records of their own, the biggest first (ties: the name first in
// order), so the biggest is found in constant time and updated in log(namespaces) time. It is
// built when the budget is first spent, and kept up to date from then on.
type sizes []*Namespace

func (h sizes) Len() int { return len(h) }
func (h sizes) Less(i, j int) bool {
	if h[i].owned != h[j].owned {
		return h[i].owned > h[j].owned
	}
	return h[i].name < h[j].name
}
func (h sizes) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *sizes) Push(x any) {
	ns := x.(*Namespace)
	ns.index = len(*h)
	*h = append(*h, ns)
}
func (h *sizes) Pop() any {
	old := *h
	ns := old[len(old)-1]
	*h = old[:len(old)-1]
	return ns
}

// full reports whether the budget is spent.
func (a *Aggregate) full() bool { return a.MaxWorkloads > 0 && a.owned >= a.MaxWorkloads }

// biggest returns the namespace with the most records of its own.
func (a *Aggregate) biggest() *Namespace {
	if a.sizes == nil {
		a.sizes = make(sizes, 0, len(a.Namespaces))
		for name, ns := range a.Namespaces {
			ns.name = name
			a.sizes = append(a.sizes, ns)
			ns.index = len(a.sizes) - 1
		}
		heap.Init(&a.sizes)
	}
	return a.sizes[0]
}

// resized keeps the order once ns gained or lost a record of its own.
func (a *Aggregate) resized(ns *Namespace) {
	if a.sizes != nil {
		heap.Fix(&a.sizes, ns.index)
	}
}

// added notes a new namespace.
func (a *Aggregate) added(ns *Namespace) {
	if a.sizes != nil {
		heap.Push(&a.sizes, ns)
	}
}

// foldSample is how many records fold looks at to choose one.
const foldSample = 8

// fold moves one record of ns into its Overflow record: the least recently seen of a few
// (a sample keeps this constant-time; the budget only needs some record to give up).
func (a *Aggregate) fold(ns *Namespace) {
	var key string
	var victim *Workload
	n := 0
	for k, w := range ns.Workloads {
		if w.Ref == Overflow {
			continue
		}
		if victim == nil || w.LastSeen.Before(victim.LastSeen) || w.LastSeen.Equal(victim.LastSeen) && strings.Compare(k, key) < 0 {
			key, victim = k, w
		}
		if n++; n == foldSample {
			break
		}
	}
	a.remove(ns, key)
	a.folded = append(a.folded, ns)
	if over, ok := ns.Workloads[overflowKey]; ok {
		over.merge(victim)
		return
	}
	victim.Ref = Overflow // the record is this aggregate's own: renamed, not copied
	a.insert(ns, overflowKey, victim)
}

// insert stores a new record and counts it.
func (a *Aggregate) insert(ns *Namespace, key string, w *Workload) {
	ns.Workloads[key] = w
	a.workloads++
	if w.Ref != Overflow {
		ns.owned++
		a.owned++
		a.resized(ns)
	}
}

// remove deletes a record of its own.
func (a *Aggregate) remove(ns *Namespace, key string) {
	delete(ns.Workloads, key)
	a.workloads--
	ns.owned--
	a.owned--
	a.resized(ns)
}

// TakeFolded returns the namespaces whose overflow record grew by a fold since the last call,
// so that a caller tracking changed records (the learner) saves those overflow records too.
func (a *Aggregate) TakeFolded() []string {
	if len(a.folded) == 0 {
		return nil
	}
	var names []string
	for name, ns := range a.Namespaces {
		if slices.Contains(a.folded, ns) {
			names = append(names, name)
		}
	}
	a.folded = a.folded[:0]
	return names
}
