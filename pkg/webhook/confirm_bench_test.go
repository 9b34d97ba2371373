package webhook

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/learner"
)

// confirmPods is the cluster size the ways of confirming are compared at.
const confirmPods = 100_000

func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkConfirmCost compares what confirming against the stored pod costs at 100,000 pods
// (go test ./pkg/webhook -run '^$' -bench ConfirmCost -benchtime 1x):
//   - a pod informer: its store, even stripped by a transform to each pod's identity
//     (metadata-only), and with the spec kept (what observing the stored pod from it needs);
//     its API cost is a LIST of every pod at each start and a watch event per pod change;
//   - the Confirmer's hold at its bound (MaxHeld identities of the longest names), whose API
//     cost is one GET per new claim (a repeat needs none; pods of one new claim share one).
//
// The synthetic pods carry no status and no managedFields, so real pods cost more in every
// informer row; the hold's cost does not depend on the pods at all.
func BenchmarkConfirmCost(b *testing.B) {
	for b.Loop() {
		r := rand.New(rand.NewPCG(1, 2))
		pods := make([]*corev1.Pod, confirmPods)
		listBytes := 0
		for i := range pods {
			p, _ := synthetic.Pod(r, i)
			p.Name = fmt.Sprintf("%s-%d", p.Name, i)
			p.UID = types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))
			p.ResourceVersion = fmt.Sprint(1_000_000 + i)
			data, _ := json.Marshal(p)
			listBytes += len(data)
			pods[i] = p
		}

		// A metadata-only informer, transform-stripped to the identity.
		base := heapBytes()
		meta := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
		for _, p := range pods {
			_ = meta.Add(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
				Namespace: strings.Clone(p.Namespace), Name: strings.Clone(p.Name), UID: types.UID(strings.Clone(string(p.UID))),
				ResourceVersion: strings.Clone(p.ResourceVersion)}})
		}
		metaBytes := heapBytes() - base
		runtime.KeepAlive(meta)
		meta = nil

		// A pod informer keeping the specs (pods already built: they are what it would hold).
		base = heapBytes()
		full := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
		for _, p := range pods {
			_ = full.Add(p.DeepCopy())
		}
		fullBytes := heapBytes() - base
		runtime.KeepAlive(full)
		full = nil

		// The hold at its bound, every identity as long as names may be.
		c := &Confirmer{}
		base = heapBytes()
		c.start(learner.New(aggregate.New("bench")), nil, time.Now)
		for i := range DefaultMaxHeld {
			ns := fmt.Sprintf("ns-%04d-%s", i%5000, strings.Repeat("n", 53))
			name := fmt.Sprintf("pod-%06d-%s", i, strings.Repeat("p", 242))
			c.Hold(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))}}, aggregate.Observation{})
		}
		time.Sleep(100 * time.Millisecond) // the delaying queue takes the adds in
		holdBytes := heapBytes() - base
		runtime.KeepAlive(c)
		c.queue.ShutDown()
		runtime.KeepAlive(pods)

		mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
		b.ReportMetric(mib(metaBytes), "informer-metadata-MiB")
		b.ReportMetric(mib(fullBytes), "informer-full-MiB")
		b.ReportMetric(mib(holdBytes), "hold-MiB")
		fmt.Printf("FIGURE confirm-cost pods=%d informer_metadata_MiB=%.1f informer_full_MiB=%.1f informer_list_MiB=%.1f hold_max_MiB=%.2f hold_max=%d hold_ratio_to_metadata_informer=%.3f\n",
			confirmPods, mib(metaBytes), mib(fullBytes), mib(uint64(listBytes)), mib(holdBytes), DefaultMaxHeld, float64(holdBytes)/float64(metaBytes))
	}
}
