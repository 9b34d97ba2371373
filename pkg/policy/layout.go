package policy

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// maxDepth bounds the splitting of parts: at most 2^16 of them.
const maxDepth = 16

// cost is what a rendering adds to a ConfigMap: bytes of data, and bytes of its JSON request.
type cost struct{ raw, json int }

func (c cost) plus(o cost) cost { return cost{c.raw + o.raw, c.json + o.json} }

func (c cost) fits() bool { return c.raw <= MaxBytes && c.json <= MaxRequestBytes }

// textCost is the cost of s as a data key or value (JSON quotes and separator included).
func textCost[S ~string | ~[]byte](s S) cost { return cost{len(s), jsonLen(s) + 3} }

// jsonLen is the length of s as a JSON string body, escaped as encoding/json escapes it
// (the API client's encoding): quotes, backslashes and control characters, <, > and &, invalid
// UTF-8 and U+2028/U+2029. A hostile name full of them costs up to six times its bytes.
func jsonLen[S ~string | ~[]byte](s S) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune([]byte(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}

// measured is what rendering a namespace gave, remembered while its fingerprint holds.
type measured struct {
	records [sha256.Size]byte  // Renderer.Fingerprint
	fp      [sha256.Size]byte  // of the records and the names other namespaces share
	sizes   map[string]measure // by key; formats not rendered for it are missing
}

// measure is one format's rendering of one namespace; over: it passed MaxBytes and was cut
// short, so it can only be left out.
type measure struct {
	cost
	over bool
}

// entry is a namespace in this publish.
type entry struct {
	name   string
	hash   uint64
	m      *measured
	bodies map[string][]byte // renderings made in this publish, until its part is built
}

// plan is the layout of one publish.
type plan struct {
	p        *Publisher
	agg      *aggregate.Aggregate
	r        *render.Renderer
	entries  []*entry // by name
	included []format // per-namespace formats published
	excluded []format // left out for the budget
	whole    []format // formats rendered for the whole cluster (scope cluster), kept in the main ConfigMap
	single   bool
	parts    []*part
	allFP    [sha256.Size]byte
	cuts     map[string][]string // key → namespaces whose part left it out
	scratch  limitWriter
	kept     int // bytes of the entries' bodies
	// wholeBodies are the whole-cluster formats rendered in this publish (nil: over MaxBytes).
	wholeBodies map[string][]byte
}

// part is one ConfigMap of a split policy: the namespaces whose hash modulo 2^depth is index.
type part struct {
	name, id string
	depth    int
	index    uint64
	members  []*entry
	cut      []format // left out of this part: they do not fit in one ConfigMap
	inputs   [sha256.Size]byte
}

func partSuffix(index uint64, depth int) string {
	return fmt.Sprintf("-part-%s", partID(index, depth))
}

func partID(index uint64, depth int) string { return fmt.Sprintf("%d-of-%d", index, uint64(1)<<depth) }

// nsHash places a namespace: the first 8 bytes of its SHA-256, so that no one can choose
// names that crowd one part.
func nsHash(ns string) uint64 {
	sum := sha256.Sum256([]byte(ns))
	return binary.BigEndian.Uint64(sum[:8])
}

func (p *Publisher) budget() int {
	if p.MaxTotalBytes > 0 {
		return p.MaxTotalBytes
	}
	return DefaultMaxTotalBytes
}

// plan measures every namespace (rendering those that changed), chooses the formats that fit
// the budget, and lays the namespaces out in parts. changed, if not nil, holds the only
// namespaces that may have changed since the last plan; the others are not fingerprinted.
func (p *Publisher) plan(agg *aggregate.Aggregate, changed map[string]bool) (*plan, error) {
	r, err := render.NewRenderer(agg, p.Scope, p.Enforce)
	if err != nil {
		return nil, err
	}
	pl := &plan{p: p, agg: agg, r: r, cuts: map[string][]string{}, wholeBodies: map[string][]byte{}}
	all := sha256.New()
	workloads := 0
	for _, ns := range agg.NamespaceNames() {
		m := p.seen.namespaces[ns]
		records := [sha256.Size]byte{}
		if m != nil && changed != nil && !changed[ns] {
			records = m.records
		} else if records, err = r.Fingerprint(ns); err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
		names := r.NamesFingerprint(ns)
		fp := sha256.Sum256(append(records[:], names[:]...))
		all.Write(fp[:])
		if m == nil || m.fp != fp {
			m = &measured{records: records, fp: fp, sizes: map[string]measure{}}
			p.seen.namespaces[ns] = m
		}
		pl.entries = append(pl.entries, &entry{name: ns, hash: nsHash(ns), m: m, bodies: map[string][]byte{}})
		workloads += len(agg.Namespaces[ns].Workloads)
	}
	all.Sum(pl.allFP[:0])
	for ns := range p.seen.namespaces {
		if _, ok := agg.Namespaces[ns]; !ok {
			delete(p.seen.namespaces, ns)
		}
	}
	used := 0
	for _, f := range formats {
		if r.Whole(f.name) {
			pl.whole = append(pl.whole, f)
			continue
		}
		if at, ok := p.seen.overBudget[f.key]; ok && workloads >= at {
			pl.excluded = append(pl.excluded, f)
			continue
		}
		total, err := pl.measure(f, p.budget()-used)
		if err != nil {
			return nil, err
		}
		if total < 0 {
			p.seen.overBudget[f.key] = workloads
			pl.excluded = append(pl.excluded, f)
			continue
		}
		delete(p.seen.overBudget, f.key)
		pl.included = append(pl.included, f)
		used += total
	}
	pl.single = pl.fitsOne()
	if !pl.single {
		pl.split(0, 0, pl.entries)
		slices.SortFunc(pl.parts, func(a, b *part) int { return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.depth, b.depth)) })
	}
	return pl, nil
}

// errLimit stops a rendering at its limit.
var errLimit = errors.New("rendering passed its limit")

type limitWriter struct {
	buf bytes.Buffer
	n   int
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.buf.Len()+len(b) > l.n {
		return 0, errLimit
	}
	return l.buf.Write(b)
}

// renderNamespace renders format f of one namespace, up to limit bytes; over: it passed them.
// The rendering is made in a buffer reused across namespaces: body is only valid until the
// next rendering.
func (pl *plan) renderNamespace(e *entry, f format, limit int) (body []byte, over bool, err error) {
	pl.scratch.buf.Reset()
	pl.scratch.n = limit
	err = pl.r.Namespace(&pl.scratch, f.name, e.name)
	if errors.Is(err, errLimit) {
		return nil, true, nil
	}
	return pl.scratch.buf.Bytes(), false, err
}

// keptBodies bounds the renderings a publish keeps from measuring a namespace to building its
// part (copied at their exact size). Past it, buildPart renders them again: a first publish
// then holds about one part at a time instead of the whole policy (over 100 MiB at 100,000
// workloads), at the price of rendering most namespaces twice.
const keptBodies = 4 << 20

// keep copies body as e's rendering of key while the renderings kept stay within keptBodies.
func (pl *plan) keep(e *entry, key string, body []byte) {
	if pl.kept+len(body) <= keptBodies {
		e.bodies[key] = bytes.Clone(body)
		pl.kept += len(body)
	}
}

// drop lets e's renderings go.
func (pl *plan) drop(e *entry, key string) {
	pl.kept -= len(e.bodies[key])
	delete(e.bodies, key)
}

// measure renders format f of every namespace not measured yet and returns the bytes the format
// takes in all; -1 when it passes the remaining budget (the renderings are then dropped).
// A namespace whose rendering alone passes MaxBytes counts nothing: its part leaves it out.
func (pl *plan) measure(f format, remaining int) (int, error) {
	total := 0
	var todo []*entry
	for _, e := range pl.entries {
		if s, ok := e.m.sizes[f.key]; !ok {
			todo = append(todo, e)
		} else if !s.over {
			total += s.raw
		}
	}
	if total > remaining {
		return -1, nil
	}
	for i, e := range todo {
		limit := min(MaxBytes, remaining-total)
		body, over, err := pl.renderNamespace(e, f, limit)
		if err != nil {
			return 0, fmt.Errorf("rendering %s of namespace %s: %w", f.key, e.name, err)
		}
		if over && limit < MaxBytes {
			for _, done := range todo[:i] {
				pl.drop(done, f.key)
			}
			return -1, nil
		}
		if over {
			e.m.sizes[f.key] = measure{cost{MaxBytes + 1, MaxRequestBytes + 1}, true}
			continue
		}
		e.m.sizes[f.key] = measure{cost: textCost(body)}
		pl.keep(e, f.key, body)
		total += len(body)
	}
	return total, nil
}

// fitsOne reports whether the whole policy fits in the main ConfigMap alone, as Render writes
// it for the whole cluster (which is never larger than its namespaces' renderings together).
func (pl *plan) fitsOne() bool {
	if len(pl.excluded) > 0 {
		return false
	}
	c := textCost(ReadmeKey + pl.p.readme("", pl.p.single, ""))
	for _, f := range pl.included {
		for _, e := range pl.entries {
			s := e.m.sizes[f.key]
			if s.over {
				return false
			}
			c = c.plus(s.cost)
		}
		c = c.plus(cost{pl.r.JoinOverhead(f.name, len(pl.entries)) + len(f.key), len(f.key) + 3})
	}
	for _, f := range pl.whole {
		s, err := pl.wholeSize(f)
		if err != nil || s.over {
			return false
		}
		c = c.plus(s.cost)
	}
	return c.fits()
}

// split lays out the namespaces whose hash modulo 2^depth is index: one part if they fit (or
// cannot be split further), else the two halves by the next bit of the hash.
func (pl *plan) split(depth int, index uint64, members []*entry) {
	if len(members) == 0 {
		return
	}
	if c := pl.partCost(members, nil); c.fits() || len(members) == 1 || depth == maxDepth {
		pl.addPart(depth, index, members)
		return
	}
	var lo, hi []*entry
	for _, e := range members {
		if e.hash>>depth&1 == 0 {
			lo = append(lo, e)
		} else {
			hi = append(hi, e)
		}
	}
	pl.split(depth+1, index, lo)
	pl.split(depth+1, index|1<<depth, hi)
}

func (pl *plan) addPart(depth int, index uint64, members []*entry) {
	pt := &part{name: pl.p.Name + partSuffix(index, depth), id: partID(index, depth), depth: depth, index: index, members: members}
	// A part that cannot hold every format leaves them out from the last: the report first, then
	// the PSP; the policies people apply stay.
	for i := len(pl.included) - 1; i >= 0 && !pl.partCost(members, pt.cut).fits(); i-- {
		pt.cut = append(pt.cut, pl.included[i])
		for _, e := range members {
			pl.cuts[pl.included[i].key] = append(pl.cuts[pl.included[i].key], e.name)
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", pt.name, keysOf(pl.included), keysOf(pt.cut))
	for _, e := range members {
		fmt.Fprintf(h, "%s %x\n", e.name, e.m.fp)
	}
	h.Sum(pt.inputs[:0])
	pl.parts = append(pl.parts, pt)
}

func keysOf(fs []format) string {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return strings.Join(keys, ",")
}

// partCost is what a part of these members takes, without the formats cut.
func (pl *plan) partCost(members []*entry, cut []format) cost {
	names := make([]string, len(members))
	c := cost{}
	for i, e := range members {
		names[i] = e.name
		c.json += len(LabelNamespacePrefix) + len(e.name) + 6 // its label
	}
	var notes []string
	for _, f := range pl.included {
		if slices.Contains(cut, f) {
			note := pl.p.note(f, "", names)
			notes = append(notes, note)
			c = c.plus(textCost(f.key + note))
			continue
		}
		c = c.plus(cost{pl.r.JoinOverhead(f.name, len(members)) + len(f.key), pl.r.JoinOverhead(f.name, len(members)) + len(f.key) + 3})
		for _, e := range members {
			c = c.plus(e.m.sizes[f.key].cost)
		}
	}
	for _, f := range pl.excluded {
		c = c.plus(textCost(f.key + pl.p.note(f, budgetReason, names)))
	}
	return c.plus(textCost(ReadmeKey + pl.p.partReadme(1<<maxDepth-1, maxDepth, names, cut)))
}

// wholeMeasure is a whole-cluster format's measure and the fingerprint of all namespaces then.
type wholeMeasure struct {
	fp [sha256.Size]byte
	m  measure
}

// wholeSize measures a whole-cluster format (remembered while no namespace changes).
func (pl *plan) wholeSize(f format) (measure, error) {
	if w, ok := pl.p.seen.whole[f.key]; ok && w.fp == pl.allFP {
		return w.m, nil
	}
	body, over, err := pl.renderWhole(f)
	if err != nil {
		return measure{}, err
	}
	pl.wholeBodies[f.key] = body
	m := measure{cost: textCost(body), over: over}
	if over {
		m.cost = cost{MaxBytes + 1, MaxRequestBytes + 1}
	}
	pl.p.seen.whole[f.key] = wholeMeasure{fp: pl.allFP, m: m}
	return m, nil
}

func (pl *plan) renderWhole(f format) ([]byte, bool, error) {
	pl.scratch.buf.Reset()
	pl.scratch.n = MaxBytes
	err := render.Render(&pl.scratch, pl.agg, render.Options{Format: f.name, Scope: pl.p.Scope, Enforce: pl.p.Enforce})
	if errors.Is(err, errLimit) {
		return nil, true, nil
	}
	return bytes.Clone(pl.scratch.buf.Bytes()), false, err
}

// mainInputs digests what the main ConfigMap is built from.
func (pl *plan) mainInputs() [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%t\n%s\n%s\n", pl.single, keysOf(pl.included), keysOf(pl.excluded))
	if pl.single || len(pl.whole) > 0 {
		h.Write(pl.allFP[:])
	}
	for _, pt := range pl.parts {
		fmt.Fprintln(h, pt.name)
	}
	for _, k := range slices.Sorted(maps.Keys(pl.cuts)) {
		fmt.Fprintln(h, k, pl.cuts[k])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// buildMain renders the main ConfigMap: the whole policy, or the README of the parts and the
// whole-cluster formats.
func (pl *plan) buildMain() (*corev1.ConfigMap, error) {
	p := pl.p
	data := map[string]string{}
	if pl.single {
		for _, f := range formats {
			var b bytes.Buffer
			if err := render.Render(&b, pl.agg, render.Options{Format: f.name, Scope: p.Scope, Enforce: p.Enforce}); err != nil {
				return nil, fmt.Errorf("rendering %s: %w", f.key, err)
			}
			data[f.key] = b.String()
		}
		data[ReadmeKey] = p.readme("", p.single, "")
		return p.configMap(p.Name, nil, data), nil
	}
	for _, f := range pl.whole {
		body, ok := pl.wholeBodies[f.key]
		over := false
		if !ok {
			var err error
			if body, over, err = pl.renderWhole(f); err != nil {
				return nil, fmt.Errorf("rendering %s: %w", f.key, err)
			}
		}
		over = over || body == nil
		data[f.key] = string(body)
		if over {
			data[f.key] = p.note(f, fmt.Sprintf("at scope %s it is one document for every namespace, and more than one ConfigMap holds", p.Scope), nil)
		}
	}
	data[ReadmeKey] = p.readme(pl.splitIntro(), pl.fetch, pl.leftOut())
	// The README stays; whole-cluster formats go, last first, if they crowd it out.
	for i := len(pl.whole) - 1; i >= 0 && !dataCost(data).fits(); i-- {
		data[pl.whole[i].key] = p.note(pl.whole[i], "it does not fit in one ConfigMap with the README", nil)
	}
	return p.configMap(p.Name, nil, data), nil
}

// buildPart renders one part from its namespaces' renderings, rendering those it does not have
// (namespaces that did not change), and then lets them go.
func (pl *plan) buildPart(pt *part) (*corev1.ConfigMap, error) {
	p := pl.p
	names := make([]string, len(pt.members))
	labels := map[string]string{LabelPart: pt.id}
	for i, e := range pt.members {
		names[i] = e.name
		if k := LabelNamespacePrefix + e.name; len(validation.IsQualifiedName(k)) == 0 {
			labels[k] = ""
		}
	}
	data := map[string]string{}
	for _, f := range pl.excluded {
		data[f.key] = p.note(f, budgetReason, names)
	}
	for _, f := range pl.included {
		if slices.Contains(pt.cut, f) {
			data[f.key] = p.note(f, "", names)
			continue
		}
		bodies := make([][]byte, len(pt.members))
		for i, e := range pt.members {
			body, ok := e.bodies[f.key]
			if !ok {
				var over bool
				var err error
				if body, over, err = pl.renderNamespace(e, f, MaxBytes); err != nil {
					return nil, fmt.Errorf("rendering %s of namespace %s: %w", f.key, e.name, err)
				} else if over {
					return nil, fmt.Errorf("%s of namespace %s is larger than when it was measured", f.key, e.name)
				}
				body = bytes.Clone(body)
			}
			bodies[i] = body
		}
		var b strings.Builder
		if err := pl.r.Join(&b, f.name, bodies); err != nil {
			return nil, err
		}
		data[f.key] = b.String()
	}
	for _, e := range pt.members {
		for key := range e.bodies {
			pl.drop(e, key)
		}
	}
	data[ReadmeKey] = p.partReadme(pt.index, pt.depth, names, pt.cut)
	if c := dataCost(data); !c.fits() {
		return nil, fmt.Errorf("part of %d bytes (%d as JSON) after measuring less", c.raw, c.json)
	}
	return p.configMap(pt.name, labels, data), nil
}

func dataCost(data map[string]string) cost {
	c := cost{}
	for k, v := range data {
		c = c.plus(textCost(k)).plus(textCost(v))
	}
	return c
}
