package store

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// Informer is the part of an informer of the state ConfigMaps that Watch uses (a
// controller-runtime cache.Informer is one).
type Informer interface {
	AddEventHandler(toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error)
}

// Watch keeps mem current with the state: every shard another writer saves is decoded and
// joined into mem (versions mem already holds, its own writes included, are skipped); a shard
// that is deleted, or that cannot be decoded, makes mem save again what it holds of that
// shard, at once; an undecodable one is also counted and copied aside at once. Save and Load
// report their own losses to mem from now on too. ctx bounds the API calls the watch makes.
func (s *Store) Watch(ctx context.Context, informer Informer, mem Memory) error {
	s.mu.Lock()
	s.mem = mem
	s.mu.Unlock()
	_, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.changed(ctx, obj) },
		UpdateFunc: func(_, obj any) { s.changed(ctx, obj) },
		DeleteFunc: func(obj any) { s.deleted(obj) },
	})
	return err
}

// ours reports whether cm is a shard of this state, and its index (-1 if it has none).
func (s *Store) ours(cm *corev1.ConfigMap) (int, bool) {
	if cm.Namespace != s.opts.Namespace || cm.Labels[LabelState] != s.opts.Name {
		return -1, false
	}
	i := shardIndex(s.opts.Name, cm.Name)
	if i >= maxShards {
		i = -1
	}
	return i, true
}

func (s *Store) changed(ctx context.Context, obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return
	}
	i, ok := s.ours(cm)
	if !ok || s.holds(cm) {
		return
	}
	sh := s.decode(cm, i)
	if sh.agg == nil {
		ctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		if _, err := s.setAside(ctx, sh); err != nil {
			s.opts.Log.Error(err, "unreadable state shard not copied aside yet; the next save tries again")
		}
		s.lost(i, s.layoutOf(cm))
		return
	}
	s.learnLayout(labelShards(cm))
	s.mem.Merge(sh.agg)
	s.remember(sh)
}

func (s *Store) deleted(obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if d, tomb := obj.(toolscache.DeletedFinalStateUnknown); tomb {
		cm, ok = d.Obj.(*corev1.ConfigMap)
		if !ok { // the name is all that is left of it
			ns, name, _ := strings.Cut(d.Key, "/")
			cm, ok = &corev1.ConfigMap{}, true
			cm.Namespace, cm.Name = ns, name
			cm.Labels = map[string]string{LabelState: s.opts.Name}
		}
	}
	if !ok {
		return
	}
	i, ours := s.ours(cm)
	if !ours {
		return
	}
	s.mu.Lock()
	delete(s.known, cm.Name)
	s.mu.Unlock()
	s.opts.Log.Info("state ConfigMap deleted; saving again what it held", "configmap", cm.Namespace+"/"+cm.Name)
	s.lost(i, s.layoutOf(cm))
}

// layoutOf is the shard count cm was written with, else the one in use.
func (s *Store) layoutOf(cm *corev1.ConfigMap) int {
	if n := labelShards(cm); n > 0 {
		return n
	}
	return s.shardCount()
}
