// Package policy keeps the rendered policy in ConfigMaps, one key per format, so users fetch
// it with `kubectl get configmap`.
//
// A small cluster's policy is one ConfigMap, <name>. When it would outgrow one ConfigMap, it is
// split into parts: <name> keeps the README (what is where, and how to fetch it) and each part
// <name>-part-<i>-of-<n> holds every key for the namespaces whose hash modulo n is i, labelled
// namespace.pod-security-advisor.io/<namespace> for each of them. A part splits in two (i and
// i+n of 2n) only when it outgrows a ConfigMap, so a change in one namespace rewrites the one
// part that holds it. Everything is bounded: each ConfigMap's data stays under MaxBytes and its
// request under MaxRequestBytes, and all of the policy under MaxTotalBytes; what does not fit
// is left out with a note saying how to render it from the state.
//
// Publishing renders only namespaces whose records changed since the last publish (a
// fingerprint per namespace), and writes only ConfigMaps whose content changed or that are
// missing; it never reads the policy ConfigMaps' data back, only their metadata.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// Keys of a policy ConfigMap and the format each holds.
var Keys = map[string]string{}

// format is one key of the policy. formats are in the order they are kept when the budget is
// short; a ConfigMap that cannot hold them all leaves them out from the last one.
type format struct{ key, name string }

var formats = []format{
	{"pod-security-standards.yaml", render.FormatPSS},
	{"validating-admission-policy.yaml", render.FormatVAP},
	{"gatekeeper.yaml", render.FormatGatekeeper},
	{"pod-security-policy.yaml", render.FormatPSP},
	{"report.json", render.FormatReport},
}

func init() {
	for _, f := range formats {
		Keys[f.key] = f.name
	}
}

// ReadmeKey holds what a policy ConfigMap contains and how to use it.
const ReadmeKey = "README"

// Labels and annotations of the policy ConfigMaps.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "pod-security-advisor"
	// LabelPolicy=<name> is on the main ConfigMap and every part.
	LabelPolicy = "pod-security-advisor.io/policy"
	// LabelPart=<i>-of-<n> is on each part.
	LabelPart = "pod-security-advisor.io/part"
	// LabelNamespacePrefix+<namespace> is on the part that holds the namespace.
	LabelNamespacePrefix = "namespace.pod-security-advisor.io/"
	// AnnotationContent is the SHA-256 of the data, so an unchanged ConfigMap is recognised
	// from its metadata alone.
	AnnotationContent = "pod-security-advisor.io/content-sha256"
	// LabelState selects the state ConfigMaps that notes tell users to render from.
	LabelState = "pod-security-advisor.io/state"
)

// Bounds. A ConfigMap's data must stay under the API server's 1 MiB (MaxBytes leaves room for
// metadata), and its request, JSON with escapes, under the 3 MiB request limit.
var (
	MaxBytes        = 900 * 1024
	MaxRequestBytes = 2560 * 1024
	// DefaultMaxTotalBytes bounds all of the policy, and so what one publish holds in memory.
	DefaultMaxTotalBytes = 128 << 20
)

// Publisher writes the policy ConfigMaps.
type Publisher struct {
	Reader    client.Reader // reads from the API server, not a cache
	Client    client.Client // writes
	Namespace string
	Name      string // the policy ConfigMap's name
	Scope     string // render scope for vap and psp
	Enforce   bool   // vap binding with Deny
	// MaxTotalBytes bounds the rendered policy; past it, formats are left out whole, from the
	// report up (0: DefaultMaxTotalBytes).
	MaxTotalBytes int

	mu   sync.Mutex
	seen *memory
}

// memory is what a Publisher remembers between publishes: per namespace what it rendered, so
// unchanged namespaces are not rendered again, and per ConfigMap what it wrote.
type memory struct {
	namespaces map[string]*measured
	// overBudget: formats whose rendering passed the budget, with the workloads there were then;
	// they are tried again only when there are fewer.
	overBudget map[string]int
	written    map[string]writtenCM
	whole      map[string]wholeMeasure
}

func newMemory() *memory {
	return &memory{namespaces: map[string]*measured{}, overBudget: map[string]int{}, written: map[string]writtenCM{}, whole: map[string]wholeMeasure{}}
}

type writtenCM struct {
	inputs  [sha256.Size]byte // digest of what the content was built from
	content string            // AnnotationContent of what was written
}

// Publish renders the policy and writes every ConfigMap whose content changed or is missing.
func (p *Publisher) Publish(ctx context.Context, agg *aggregate.Aggregate) error {
	return p.publish(ctx, agg, nil)
}

// PublishChanged is Publish for a caller that knows which namespaces may have changed since its
// previous call: the others are not fingerprinted, which saves
// encoding every record. A namespace the Publisher has not seen yet is always measured.
func (p *Publisher) PublishChanged(ctx context.Context, agg *aggregate.Aggregate, changed []string) error {
	set := make(map[string]bool, len(changed))
	for _, ns := range changed {
		set[ns] = true
	}
	return p.publish(ctx, agg, set)
}

func (p *Publisher) publish(ctx context.Context, agg *aggregate.Aggregate, changed map[string]bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if longest := p.Name + partSuffix(1<<maxDepth-1, maxDepth); len(validation.IsDNS1123Subdomain(longest)) > 0 {
		return fmt.Errorf("policy ConfigMap name %q leaves no room for part names such as %q", p.Name, longest)
	}
	if p.seen == nil {
		p.seen = newMemory()
	}
	existing, err := p.existing(ctx)
	if err != nil {
		return err
	}
	pl, err := p.plan(agg, changed)
	if err != nil {
		return err
	}
	// Parts first: the README never points at a part that is not written yet.
	wanted := map[string]bool{}
	for _, part := range pl.parts {
		wanted[part.name] = true
		if err := p.ensure(ctx, existing[part.name], part.name, part.inputs, func() (*corev1.ConfigMap, error) { return pl.buildPart(part) }); err != nil {
			return err
		}
	}
	wanted[p.Name] = true
	if err := p.ensure(ctx, existing[p.Name], p.Name, pl.mainInputs(), pl.buildMain); err != nil {
		return err
	}
	// Parts of an earlier layout that this one no longer has would be stale: remove them.
	for _, name := range slices.Sorted(maps.Keys(existing)) {
		if !wanted[name] {
			old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: name}}
			if err := p.Client.Delete(ctx, old); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting stale policy part %s: %w", name, err)
			}
			delete(p.seen.written, name)
		}
	}
	return nil
}

// Render returns the ConfigMaps of the policy, the main one first, without writing them.
func (p *Publisher) Render(agg *aggregate.Aggregate) ([]*corev1.ConfigMap, error) {
	q := &Publisher{Namespace: p.Namespace, Name: p.Name, Scope: p.Scope, Enforce: p.Enforce, MaxTotalBytes: p.MaxTotalBytes,
		seen: newMemory()}
	pl, err := q.plan(agg, nil)
	if err != nil {
		return nil, err
	}
	main, err := pl.buildMain()
	if err != nil {
		return nil, err
	}
	out := []*corev1.ConfigMap{main}
	for _, part := range pl.parts {
		cm, err := pl.buildPart(part)
		if err != nil {
			return nil, err
		}
		out = append(out, cm)
	}
	return out, nil
}

// existing lists the metadata of the policy ConfigMaps: the parts and the main one (which an
// older release wrote without LabelPolicy).
func (p *Publisher) existing(ctx context.Context) (map[string]*metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	if err := p.Reader.List(ctx, list, client.InNamespace(p.Namespace), client.MatchingLabels{LabelPolicy: p.Name}); err != nil {
		return nil, fmt.Errorf("listing the parts of policy ConfigMap %s: %w", p.Name, err)
	}
	out := map[string]*metav1.PartialObjectMetadata{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	if _, ok := out[p.Name]; !ok {
		main := &metav1.PartialObjectMetadata{}
		main.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		err := p.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name}, main)
		switch {
		case err == nil:
			out[p.Name] = main
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading policy ConfigMap %s: %w", p.Name, err)
		}
	}
	return out, nil
}

// ensure writes ConfigMap name unless it exists with the content last written from the same
// inputs; build renders it only when it must be written or its content is unknown.
func (p *Publisher) ensure(ctx context.Context, have *metav1.PartialObjectMetadata, name string, inputs [sha256.Size]byte, build func() (*corev1.ConfigMap, error)) error {
	last, known := p.seen.written[name]
	if known && last.inputs == inputs && have != nil && have.Annotations[AnnotationContent] == last.content {
		return nil
	}
	want, err := build()
	if err != nil {
		return fmt.Errorf("rendering policy ConfigMap %s: %w", name, err)
	}
	content := contentHash(want.Data)
	want.Annotations = map[string]string{AnnotationContent: content}
	if err := p.apply(ctx, have, want); err != nil {
		return fmt.Errorf("writing policy ConfigMap %s: %w", name, err)
	}
	p.seen.written[name] = writtenCM{inputs: inputs, content: content}
	return nil
}

// apply creates or updates one ConfigMap, leaving it alone when its content is unchanged.
// Labels and annotations a user added are kept; our namespace labels that no longer apply go.
func (p *Publisher) apply(ctx context.Context, have *metav1.PartialObjectMetadata, want *corev1.ConfigMap) error {
	if have == nil {
		return p.Client.Create(ctx, want)
	}
	labels := map[string]string{}
	for k, v := range have.Labels {
		if _, ours := want.Labels[k]; ours || !isNamespaceLabel(k) {
			labels[k] = v
		}
	}
	if have.Annotations[AnnotationContent] == want.Annotations[AnnotationContent] && maps.Equal(labels, have.Labels) && hasLabels(have.Labels, want.Labels) {
		return nil
	}
	maps.Copy(labels, want.Labels)
	annotations := maps.Clone(have.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	maps.Copy(annotations, want.Annotations)
	cm := &corev1.ConfigMap{ObjectMeta: *have.ObjectMeta.DeepCopy(), Data: want.Data}
	cm.Labels, cm.Annotations, cm.ManagedFields = labels, annotations, nil
	// A conflict means another replica published at the same moment; the next flush retries.
	return p.Client.Update(ctx, cm)
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func isNamespaceLabel(k string) bool { return strings.HasPrefix(k, LabelNamespacePrefix) }

// contentHash digests a ConfigMap's data, keys in order, each key and value length-prefixed.
func contentHash(data map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(data[k]))
		h.Write([]byte(data[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (p *Publisher) configMap(name string, extra, data map[string]string) *corev1.ConfigMap {
	labels := map[string]string{LabelManagedBy: ManagedBy, LabelPolicy: p.Name}
	maps.Copy(labels, extra)
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: name, Labels: labels}, Data: data}
}
