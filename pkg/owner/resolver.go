package owner

import (
	"context"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Watched are the controllers whose owner a pod's owner may have; the serve command starts
// metadata-only informers for them so Resolve never waits on the API server.
var Watched = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
}

// CacheResolver follows ownerReferences one step further through a metadata-only cache:
// ReplicaSet → Deployment and Job → CronJob, whatever their names. When the cache does not know
// the object (yet), it asks Live, else falls back to what the pod itself says (FromPod).
type CacheResolver struct {
	Reader client.Reader // the manager's cache
	// Live, if set, is asked when the cache does not know the controller: the first pods of a
	// new ReplicaSet or Job are admitted moments after it is created, often before the informer
	// has seen it. That is one request bounded by LiveTimeout, on a miss only; pods of known
	// controllers are resolved from the cache alone.
	Live        client.Reader
	LiveTimeout time.Duration
	// synced is set once the informers of Watched have synced: before that a cache read would
	// wait for the sync, and the admission path must never wait.
	synced atomic.Bool
}

// Synced tells the resolver that the owner caches are ready to read.
func (r *CacheResolver) Synced() { r.synced.Store(true) }

// Resolve returns the pod's top workload.
func (r *CacheResolver) Resolve(ctx context.Context, pod *corev1.Pod) Ref {
	ctrl := metav1.GetControllerOfNoCopy(pod)
	if ctrl == nil || !r.synced.Load() {
		return FromPod(pod)
	}
	gv, err := schema.ParseGroupVersion(ctrl.APIVersion)
	if err != nil {
		return FromPod(pod)
	}
	for _, gvk := range Watched {
		if gv.Group != gvk.Group || ctrl.Kind != gvk.Kind {
			continue
		}
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(gvk)
		key := client.ObjectKey{Namespace: pod.Namespace, Name: ctrl.Name}
		err := r.Reader.Get(ctx, key, meta)
		if apierrors.IsNotFound(err) && r.Live != nil {
			live, cancel := context.WithTimeout(ctx, r.LiveTimeout)
			err = r.Live.Get(live, key, meta)
			cancel()
		}
		if err != nil {
			return FromPod(pod)
		}
		if top := metav1.GetControllerOfNoCopy(meta); top != nil {
			return Ref{Kind: top.Kind, Name: top.Name}
		}
		return Ref{Kind: ctrl.Kind, Name: ctrl.Name}
	}
	return FromPod(pod)
}
