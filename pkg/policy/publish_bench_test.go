package policy

// This file uses only Publisher, Publish and MaxBytes of the package (and internal/synthetic),
// so the same benchmark runs on an older release's code for a before/after comparison:
//
//	git worktree add /tmp/policy-base <older commit>
//	cp pkg/policy/publish_bench_test.go /tmp/policy-base/pkg/policy/
//	cp internal/synthetic/synthetic.go /tmp/policy-base/internal/synthetic/
//	(cd /tmp/policy-base && go test ./pkg/policy -run '^$' -bench Publish -benchtime 1x)
//	go test ./pkg/policy -run '^$' -bench Publish -benchtime 1x
//	git worktree remove --force /tmp/policy-base

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syntheticpods "github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// benchAPI is a fake API server that refuses what the real one refuses (ConfigMap data over
// 1 MiB, a request over 3 MiB) and counts what was written.
type benchAPI struct {
	client.WithWatch
	mu             sync.Mutex
	writes, bytes  int // accepted writes and their data bytes
	largest        int // data bytes of the largest ConfigMap written
	requestLargest int
	refused        error
	written        map[string]int // data bytes per ConfigMap that exists
}

func newBenchAPI() *benchAPI {
	a := &benchAPI{written: map[string]int{}}
	check := func(obj client.Object) error {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return nil
		}
		size := 0
		for k, v := range cm.Data {
			size += len(k) + len(v)
		}
		body, _ := json.Marshal(cm)
		a.mu.Lock()
		defer a.mu.Unlock()
		var err error
		switch {
		case size > 1<<20:
			err = apierrors.NewBadRequest(fmt.Sprintf("ConfigMap %q is invalid: []: Too long: must have at most 1048576 bytes", cm.Name))
		case len(body) > 3<<20:
			err = apierrors.NewRequestEntityTooLargeError("limit is 3145728")
		}
		if err != nil {
			if a.refused == nil {
				a.refused = err
			}
			return err
		}
		a.writes++
		a.bytes += size
		a.written[cm.Name] = size
		a.largest = max(a.largest, size)
		a.requestLargest = max(a.requestLargest, len(body))
		return nil
	}
	a.WithWatch = interceptor.NewClient(fake.NewClientBuilder().Build(), interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := check(obj); err != nil {
				return err
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := check(obj); err != nil {
				return err
			}
			return c.Update(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			a.mu.Lock()
			delete(a.written, obj.GetName())
			a.mu.Unlock()
			return c.Delete(ctx, obj, opts...)
		},
	})
	return a
}

// benchGrow gives namespace ns one more workload, the i-th.
func benchGrow(agg *aggregate.Aggregate, ns string, i int) {
	for _, n := range syntheticpods.Aggregate("bench", 10_000_000+i, 1, 7).Namespaces {
		for k, w := range n.Workloads {
			agg.Namespaces[ns].Workloads[k] = w
		}
	}
}

// heapPeak samples the heap while f runs and returns f's error, its duration and the peak heap
// above the heap before it (after a GC).
func heapPeak(f func() error) (error, time.Duration, uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := read()
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
				peak = max(peak, read())
			}
		}
	})
	start := time.Now()
	err := f()
	d := time.Since(start)
	peak = max(peak, read())
	close(done)
	wg.Wait()
	return err, d, peak - base
}

// BenchmarkPublish publishes the policy of 100,000 workloads in 5,000 namespaces and of 50,000
// in 10 to an API server with the real size limits, then again after one namespace changed.
func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct{ workloads, namespaces int }{{100_000, 5_000}, {50_000, 10}} {
		b.Run(fmt.Sprintf("%dk-in-%d", c.workloads/1000, c.namespaces), func(b *testing.B) {
			agg := syntheticpods.Spread("bench", c.workloads, c.namespaces)
			for b.Loop() {
				api := newBenchAPI()
				p := &Publisher{Reader: api, Client: api, Namespace: "psa", Name: "psa-policy", Scope: "namespace"}
				ctx := context.Background()
				err, d, heap := heapPeak(func() error { return p.Publish(ctx, agg) })
				total := 0
				for _, n := range api.written {
					total += n
				}
				b.Logf("FIGURE policy %s publish: %d ConfigMaps, largest %d bytes (request %d), total %d bytes, %.1fs, peak heap +%d MiB, refused: %v",
					b.Name(), len(api.written), api.largest, api.requestLargest, total, d.Seconds(), heap>>20, err)

				ns := agg.NamespaceNames()[c.namespaces/2]
				benchGrow(agg, ns, 0)
				writes, bytes := api.writes, api.bytes
				err, d, heap = heapPeak(func() error { return p.Publish(ctx, agg) })
				b.Logf("FIGURE policy %s second publish, one namespace changed: %d ConfigMaps written, %d bytes, %.2fs, peak heap +%d MiB, refused: %v",
					b.Name(), api.writes-writes, api.bytes-bytes, d.Seconds(), heap>>20, err)
				if pc, ok := any(p).(interface {
					PublishChanged(context.Context, *aggregate.Aggregate, []string) error
				}); ok {
					benchGrow(agg, ns, 1)
					writes, bytes = api.writes, api.bytes
					err, d, heap = heapPeak(func() error { return pc.PublishChanged(ctx, agg, []string{ns}) })
					b.Logf("FIGURE policy %s third publish, the caller names the changed namespace: %d ConfigMaps written, %d bytes, %.2fs, peak heap +%d MiB, refused: %v",
						b.Name(), api.writes-writes, api.bytes-bytes, d.Seconds(), heap>>20, err)
				}
				b.ReportMetric(float64(len(api.written)), "configmaps")
				b.ReportMetric(float64(api.largest), "largest-bytes")
				b.ReportMetric(float64(total), "total-bytes")
			}
		})
	}
}
