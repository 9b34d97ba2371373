package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// tenantClient creates a ServiceAccount in ns that may create pods there and nothing else,
// and returns a client acting as it: what a tenant of a multi-tenant cluster has.
func tenantClient(t *testing.T, c client.Client, ns string) client.Client {
	t.Helper()
	ctx := context.Background()
	const name = "tenant"
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	return fastClient(t, harness.ServiceAccountKubeconfig(t, c, ns, name))
}

// fastClient is a client of the kubeconfig that creates hundreds of pods without waiting on
// client-side rate limits (the API server's priority and fairness still applies).
func fastClient(t *testing.T, kubeconfig string) client.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 200
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bigWorkload is the record of the tenant's big pods: their controller is a ConfigMap the
// admin created, which the garbage collector finds (a dangling owner would have the pods
// deleted before the webhook confirms them) and no controller manages.
const bigWorkload = "ConfigMap/big"

// bigPod is pod i of the tenant's workload bigWorkload, owned by the ConfigMap of UID owner:
// containers containers whose images are imageLen random characters long (about 100 × 8,000
// bytes is what the API server accepts in one pod).
func bigPod(owner types.UID, i, containers, imageLen int) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("big-%d", i), OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: "big", UID: owner, Controller: ptrTo(true)}}}}
	for c := range containers {
		prefix := fmt.Sprintf("registry.example.com/p%d-c%d/", i, c)
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name:  fmt.Sprintf("c%d", c),
			Image: prefix + rand.String(imageLen-len(prefix)),
		})
	}
	return pod
}

// create creates the pods with a few clients at a time; the first error fails the test.
func create(t *testing.T, c client.Client, ns string, pods []*corev1.Pod) {
	t.Helper()
	const workers = 8
	work := make(chan *corev1.Pod)
	errs := make(chan error, len(pods))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p := range work {
				p.Namespace = ns
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := c.Create(ctx, p); err != nil {
					errs <- fmt.Errorf("pod %s/%s: %w", ns, p.Name, err)
				}
				cancel()
			}
		})
	}
	for _, p := range pods {
		work <- p
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// plainPod is a small pod of its own workload.
func plainPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox:1.36", SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot: ptrTo(true), RunAsUser: ptrTo[int64](1000)}}}}}
}

func ptrTo[T any](v T) *T { return &v }

// largestShard is the size of the largest state ConfigMap, as the store measures it (its JSON).
func largestShard(t *testing.T, r *Release) int {
	t.Helper()
	largest := 0
	for _, cm := range r.StateConfigMaps(t) {
		data, err := json.Marshal(cm)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(data))
	}
	return largest
}

// TestTenantCannotBreakTheState: a tenant that may only create pods in its namespace creates
// two pods of 100 containers with 8,000-character images (which grew one record past what a
// state shard holds, so that every flush failed after). The tenant's record stays within its
// bound, flushes keep succeeding, and 50 workloads admitted afterwards in other namespaces are
// saved within moments of the flush interval.
func TestTenantCannotBreakTheState(t *testing.T) {
	const flush = 2 * time.Second
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{args: []string{"--flush-interval=" + flush.String()}})
	tenantNS := r.TestNamespace(t, "tenant-a")
	tenant := tenantClient(t, r.c, tenantNS)

	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: tenantNS, Name: "big"}}
	if err := r.c.Create(context.Background(), owner); err != nil {
		t.Fatal(err)
	}
	create(t, tenant, tenantNS, []*corev1.Pod{bigPod(owner.UID, 0, 100, 8000), bigPod(owner.UID, 1, 100, 8000)})
	r.WaitWorkloads(t, 60*time.Second, tenantNS+"/"+bigWorkload)

	var want []string
	admin := fastClient(t, harness.Kubeconfig(t))
	start := time.Now()
	for i := range 5 {
		ns := r.TestNamespace(t, fmt.Sprintf("team-%d", i))
		var pods []*corev1.Pod
		for j := range 10 {
			pods = append(pods, plainPod(fmt.Sprintf("app-%d", j)))
			want = append(want, fmt.Sprintf("%s/Pod/app-%d", ns, j))
		}
		create(t, admin, ns, pods)
	}
	created := time.Now()
	agg := r.WaitWorkloads(t, 60*time.Second, want...)
	saved := time.Since(created)

	rec := workloads(agg)[tenantNS+"/"+bigWorkload]
	data, _ := json.Marshal(rec)
	if len(data) > aggregate.MaxRecordJSON {
		t.Errorf("tenant record is %d bytes, over the bound of %d", len(data), aggregate.MaxRecordJSON)
	}
	if rec.ImagesNotListed == 0 || len(rec.Images) > aggregate.MaxEvidence {
		t.Errorf("tenant record: %d images listed, %d not listed", len(rec.Images), rec.ImagesNotListed)
	}
	if failed := w.Metric(t, "pod_security_advisor_flushes_total", "result", "error"); failed > 0 {
		t.Errorf("%v flushes failed:\n%s", failed, w.Log())
	}
	largest := largestShard(t, r)
	fmt.Printf("FIGURE tenant: 2 pods of 100 containers with 8,000-character images, then 50 workloads in 5 other namespaces "+
		"(created in %s): all saved %s after the last was created (flush interval %s); largest state shard %d bytes (limit %d)\n",
		created.Sub(start).Round(10*time.Millisecond), saved.Round(10*time.Millisecond), flush, largest, store.DefaultMaxShardBytes)
}

// TestTenantCannotTakeTheBudget: with --max-workloads 1000, a tenant creates 1,000 junk pods
// (each its own workload) in its namespace, spending the whole budget; then another
// namespace's StatefulSets are admitted. Each keeps a record of its own (the tenant's
// namespace folds records into its overflow record instead), and nothing is learned apart.
func TestTenantCannotTakeTheBudget(t *testing.T) {
	const budget = 1000
	r := install(t, installOptions{})
	w := r.Start(t, webhookOptions{args: []string{fmt.Sprintf("--max-workloads=%d", budget)}})
	tenantNS := r.TestNamespace(t, "tenant-b")
	tenant := tenantClient(t, r.c, tenantNS)

	var junk []*corev1.Pod
	for i := range budget {
		junk = append(junk, plainPod(fmt.Sprintf("junk-%04d", i)))
	}
	start := time.Now()
	create(t, tenant, tenantNS, junk)
	flooded := time.Since(start)
	harness.Eventually(t, 60*time.Second, "the junk pods spend the budget", func() error {
		if n := w.Metric(t, "pod_security_advisor_workloads"); n < budget {
			return fmt.Errorf("%v workload records", n)
		}
		return nil
	})

	victim := r.TestNamespace(t, "victim")
	const sets = 3
	var manifests []string
	var want []string
	for i := range sets {
		manifests = append(manifests, fmt.Sprintf(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db-%d}
spec:
  serviceName: db-%d
  replicas: 1
  selector: {matchLabels: {app: db-%d}}
  template:
    metadata: {labels: {app: db-%d}}
    spec:
      containers: [{name: db, image: postgres:17, securityContext: {runAsUser: %d}}]`, i, i, i, i, 70+i))
		want = append(want, fmt.Sprintf("%s/StatefulSet/db-%d", victim, i))
	}
	apply(t, victim, strings.Join(manifests, "\n---"))
	agg := r.WaitWorkloads(t, 90*time.Second, want...)

	byKey := workloads(agg)
	own := 0
	for i, key := range want {
		uid := attributes.Range{Min: int64(70 + i), Max: int64(70 + i)}
		if rec := byKey[key]; !attributes.Covers(*rec.Profile, attributes.Profile{RunAsUser: attributes.IDs{Values: attributes.Ranges{uid}}}) {
			t.Errorf("%s: runAsUser %d not learned in its own record", key, 70+i)
			continue
		}
		own++
	}
	if over := byKey[victim+"/"+aggregate.Overflow.String()]; over != nil {
		t.Errorf("the victim's workloads went to overflow: %+v", over.Ref)
	}
	tenantOwn := 0
	var tenantOverflow bool
	for _, rec := range agg.Namespaces[tenantNS].Workloads {
		if rec.Ref == aggregate.Overflow {
			tenantOverflow = true
			continue
		}
		tenantOwn++
	}
	records := w.Metric(t, "pod_security_advisor_workloads")
	if records > budget+2 { // one overflow record per namespace at most
		t.Errorf("%v records in memory with --max-workloads %d", records, budget)
	}
	if !tenantOverflow {
		t.Errorf("the tenant's namespace folded nothing into its overflow record")
	}
	fmt.Printf("FIGURE tenant budget: %d junk pods in one namespace (created in %s), then %d StatefulSets of another: "+
		"%d of %d with records of their own; %v records in memory (budget %d); stored: %d records of the tenant's namespace and its overflow record\n",
		budget, flooded.Round(10*time.Millisecond), sets, own, sets, records, budget, tenantOwn)
}
