//go:build integration

package store

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// TestAPIServer runs the store against a real kube-apiserver and etcd (envtest). Run with
//
//	KUBEBUILDER_ASSETS=/work/main/e2e/bin go test -tags integration ./pkg/store/ -v
func TestAPIServer(t *testing.T) {
	// Each replica gets its own uncached client, as each webhook pod has its own connection.
	newClient := apiServer(t)
	ctx := context.Background()
	admin := newClient(t)
	clean := func(t *testing.T) {
		t.Cleanup(func() {
			err := admin.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(testNS), client.MatchingLabels{LabelManagedBy: ManagedBy})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("ConcurrentReplicas", func(t *testing.T) {
		clean(t)
		const rounds = 30
		type replica struct {
			name   string
			store  *Store
			memory *aggregate.Aggregate // what the replica holds in memory
			learnt *aggregate.Aggregate // everything it observed itself
		}
		var reps []*replica
		for _, name := range []string{"a", "b"} {
			c := newClient(t)
			s := newStore(t, c, func(o *Options) { o.InitialShards, o.MaxShardBytes, o.MaxAttempts = 2, 24<<10, 100 })
			reps = append(reps, &replica{name, s, aggregate.New(name), aggregate.New(name)})
		}
		for round := range rounds {
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, r := range reps {
				wg.Go(func() {
					// Overlapping workloads, observed in different pods by each replica.
					seen := synthetic(r.name, round*10+i*5, 15, uint64(1000*i+round))
					r.learnt.Merge(seen)
					r.memory.Merge(seen)
					<-start
					joined, err := r.store.Save(ctx, r.memory)
					if err != nil {
						t.Error(err)
						return
					}
					r.memory.Merge(joined)
				})
			}
			close(start)
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
		}
		want := union(reps[0].learnt, reps[1].learnt)
		sameState(t, mustLoad(t, reps[0].store), want)
		// One more save brings a replica everything the other learned.
		reps[1].memory.Merge(mustSave(t, reps[1].store, reps[1].memory))
		sameState(t, reps[1].memory, want)
		conflicts := reps[0].store.Stats().Conflicts + reps[1].store.Stats().Conflicts
		t.Logf("%d rounds, %d workloads, %d shards, %d conflicts retried", rounds, workloads(want), reps[0].store.Stats().Shards, conflicts)
		if conflicts == 0 {
			t.Error("no write conflicted: the test did not race")
		}
	})

	t.Run("CorruptShard", func(t *testing.T) {
		for name, corrupt := range corruptions {
			t.Run(name, func(t *testing.T) {
				clean(t)
				testCorruptShard(t, newClient(t), corrupt)
			})
		}
	})

	t.Run("10kWorkloads", func(t *testing.T) {
		clean(t)
		c := newClient(t)
		s := newStore(t, c)
		agg := synthetic("r1", 0, 10000, 2)
		mustSave(t, s, agg)
		shards, _ := stateMaps(t, c)
		largest, managed := 0, 0
		for _, cm := range shards {
			data, err := json.Marshal(cm)
			if err != nil {
				t.Fatal(err)
			}
			mf, _ := json.Marshal(cm.ManagedFields)
			largest, managed = max(largest, len(data)), max(managed, len(mf))
			if len(data) > DefaultMaxShardBytes {
				t.Errorf("%s is %d bytes, over %d", cm.Name, len(data), DefaultMaxShardBytes)
			}
		}
		sameState(t, mustLoad(t, s), agg)
		st := s.Stats()
		t.Logf("10,000 workloads in the API server: %d shards, largest ConfigMap %d bytes as read back (managedFields %d bytes); %.0f bytes per workload compressed, %.0f raw",
			len(shards), largest, managed, float64(st.PayloadBytes)/10000, float64(st.RawBytes)/10000)
	})
}

// apiServer starts a kube-apiserver and etcd (envtest) with the namespace testNS, and returns
// a function making clients of it.
func apiServer(t *testing.T) func(*testing.T) client.Client {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS must name a directory holding etcd and kube-apiserver (e.g. e2e/bin)")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	newClient := func(t *testing.T) client.Client {
		c, err := client.New(cfg, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := newClient(t).Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}); err != nil {
		t.Fatal(err)
	}
	return newClient
}
