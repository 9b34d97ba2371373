// Package inspect learns from the pods of a running cluster in one pass, with read-only
// access, for the `inspect` command: the one-shot scan a user runs before (or instead of)
// installing the webhook.
//
// Each pod is resolved to its top workload by the webhook's own resolver (owner.CacheResolver),
// fed from an index of the owners' metadata listed up front, so a ReplicaSet's pods are
// learned as their Deployment's, a Job's as their CronJob's, exactly as serve learns them.
// Everything is listed a page at a time: a cluster's pods never have to fit in one response.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

// PageSize is the objects asked for per list request, as serve's backfill.
const PageSize = 500

// progressAfter is how long a scan runs before it reports progress, and then how often.
const progressAfter = time.Second

// Options choose what Scan reads.
type Options struct {
	// Namespace limits the scan to one namespace; empty means every namespace.
	Namespace string
	// Progress, if set, receives a line now and then once the scan takes more than a moment.
	Progress io.Writer
}

// Stats are what a scan read.
type Stats struct {
	Pods, Namespaces, Owners int
}

// Scan learns every pod in opts.Namespace (or the cluster) into a new aggregate.
func Scan(ctx context.Context, r client.Reader, opts Options) (*aggregate.Aggregate, Stats, error) {
	var st Stats
	p := &progress{w: opts.Progress, start: time.Now()}
	index, err := listOwners(ctx, r, opts.Namespace, p)
	if err != nil {
		return nil, st, err
	}
	st.Owners = index.size()
	resolver := &owner.CacheResolver{Reader: index}
	resolver.Synced()
	agg := aggregate.New("inspect")
	last, cont := "", ""
	for {
		pods := &corev1.PodList{}
		if err := r.List(ctx, pods, client.InNamespace(opts.Namespace), client.Limit(PageSize), client.Continue(cont)); err != nil {
			return nil, st, fmt.Errorf("listing pods: %w", err)
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			agg.Add(aggregate.Observe(pod, resolver.Resolve(ctx, pod), pod.CreationTimestamp.Time))
			st.Pods++
			if pod.Namespace != last { // pods are listed namespace by namespace
				st.Namespaces++
				last = pod.Namespace
			}
		}
		// The namespace of the page's last pod may go on in the next page.
		p.report("listed %d pods, %d namespaces done", st.Pods, max(st.Namespaces-1, 0))
		if cont = pods.Continue; cont == "" {
			return agg, st, nil
		}
	}
}

// progress writes a line at most every progressAfter, and none in the first.
type progress struct {
	w           io.Writer
	start, last time.Time
}

func (p *progress) report(format string, args ...any) {
	now := time.Now()
	if p.w == nil || now.Sub(p.start) < progressAfter || now.Sub(p.last) < progressAfter {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, format+"\n", args...)
}

// ownerIndex is the controller of every object of the kinds owner.Watched, by kind and key:
// the cache the resolver reads, from lists instead of informers.
type ownerIndex map[schema.GroupVersionKind]map[client.ObjectKey]*metav1.OwnerReference

func listOwners(ctx context.Context, r client.Reader, namespace string, p *progress) (ownerIndex, error) {
	index := ownerIndex{}
	for _, gvk := range owner.Watched {
		byKey := map[client.ObjectKey]*metav1.OwnerReference{}
		index[gvk] = byKey
		cont := ""
		for {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := r.List(ctx, list, client.InNamespace(namespace), client.Limit(PageSize), client.Continue(cont)); err != nil {
				return nil, fmt.Errorf("listing %ss: %w", gvk.Kind, err)
			}
			for i := range list.Items {
				m := &list.Items[i]
				var ctrl *metav1.OwnerReference
				if c := metav1.GetControllerOfNoCopy(m); c != nil {
					ctrl = &metav1.OwnerReference{APIVersion: c.APIVersion, Kind: c.Kind, Name: c.Name, UID: c.UID, Controller: c.Controller}
				}
				byKey[client.ObjectKey{Namespace: m.Namespace, Name: m.Name}] = ctrl
			}
			p.report("listed %d %ss", len(byKey), gvk.Kind)
			if cont = list.Continue; cont == "" {
				break
			}
		}
	}
	return index, nil
}

func (x ownerIndex) size() int {
	n := 0
	for _, m := range x {
		n += len(m)
	}
	return n
}

// Get answers the resolver's reads of an owner's metadata.
func (x ownerIndex) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	meta, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return fmt.Errorf("inspect: owners are read as metadata, not %T", obj)
	}
	gvk := meta.GroupVersionKind()
	ctrl, ok := x[gvk][key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, key.Name)
	}
	meta.Namespace, meta.Name, meta.OwnerReferences = key.Namespace, key.Name, nil
	if ctrl != nil {
		meta.OwnerReferences = []metav1.OwnerReference{*ctrl}
	}
	return nil
}

// List is not read by the resolver.
func (x ownerIndex) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("inspect: the owner index is read by key only")
}
