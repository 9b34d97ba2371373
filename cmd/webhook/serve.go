package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/learner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
	podwebhook "github.com/pod-security-advisor/pod-security-advisor/pkg/webhook"
)

// WebhookPath is where the API server sends pod admission reviews.
const WebhookPath = "/validate-pods"

type serveOptions struct {
	namespace, name, policyName, replica string
	scope                                string
	enforce                              bool
	flushInterval, refreshInterval       time.Duration
	excluded                             []string
	maxWorkloads, maxPolicyBytes         int
	backfill                             bool
	confirm                              bool
	confirmTimeout                       time.Duration
	confirmMaxHeld                       int
	objectSelector, namespaceSelector    string // JSON, as the chart's webhook values
	clientCAFile                         string
	host                                 string
	port, maxConns, maxConnsPerClient    int
	certDir, certName, keyName           string
	tlsMinVersion                        string
	enableHTTP2                          bool
	metricsAddr, probeAddr               string
	zap                                  zap.Options
}

func newServeCommand() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the audit-mode admission webhook (always allows; learns; keeps the policy ConfigMap fresh)",
		Long: `serve runs the validating admission webhook. It answers every pod admission request with
allowed: true, learns what the pod uses, saves the learned state in ConfigMaps of its own
namespace (debounced, only when something new was learned) and keeps the rendered policy in the
ConfigMap <name>-policy there:

  kubectl get configmap <name>-policy -n <namespace> -o jsonpath='{.data.validating-admission-policy\.yaml}'

Several replicas share the state: each joins what the others saved. A SIGTERM flushes before
exit; a SIGKILL loses at most one --flush-interval of learning.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return serve(o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace holding the state and policy ConfigMaps (default $POD_NAMESPACE)")
	f.StringVar(&o.name, "name", "pod-security-advisor", "prefix of the state ConfigMaps (<name>-state-N)")
	f.StringVar(&o.policyName, "policy-configmap", "", "name of the policy ConfigMap (default <name>-policy)")
	f.StringVar(&o.replica, "replica", os.Getenv("POD_NAME"), "this replica's name, for its observation counters (default $POD_NAME, else the host name)")
	f.StringVar(&o.scope, "scope", render.ScopeNamespace, "scope of the rendered vap and psp: "+strings.Join(render.Scopes, ", "))
	f.BoolVar(&o.enforce, "enforce", false, "render the VAP binding with validationActions [Deny]")
	f.DurationVar(&o.flushInterval, "flush-interval", 10*time.Second, "save new learning within this long of learning it (a debounce: a burst is one save); bounds what a SIGKILL loses")
	f.DurationVar(&o.refreshInterval, "refresh-interval", 10*time.Minute, "save counters and last-seen times, and publish the policy again, this often")
	f.StringSliceVar(&o.excluded, "exclude-namespaces", nil, "namespaces answered but never recorded (comma-separated)")
	f.IntVar(&o.maxWorkloads, "max-workloads", 50000, "workload records kept, shared max-min fairly between namespaces: once all are taken, a namespace below the biggest still gets a record and the biggest folds the least recently seen of 8 sampled records into its overflow record; a namespace past its share joins new workloads into its overflow record (allowances are never dropped); 0: no bound")
	f.IntVar(&o.maxPolicyBytes, "max-policy-bytes", policy.DefaultMaxTotalBytes, "bytes of all policy ConfigMaps together, and so of what one publication holds; past it, formats are left out whole, the report first, with a note saying how to render them")
	f.BoolVar(&o.backfill, "backfill", true, "at start, learn from the pods already in the cluster")
	f.BoolVar(&o.confirm, "confirm-learning", true, "learn what is new only from the pod the API server stored (false: from the review as it arrives, which lets anyone who reaches the port write the policy; for tests and benchmarks)")
	f.DurationVar(&o.confirmTimeout, "confirm-timeout", podwebhook.DefaultConfirmTimeout, "how long a new pod may take to be stored before its review is given up")
	f.IntVar(&o.confirmMaxHeld, "confirm-max-held", podwebhook.DefaultMaxHeld, "reviews held until their pod is seen stored, at most")
	f.StringVar(&o.objectSelector, "object-selector", "", "the webhook's objectSelector (a LabelSelector as JSON): backfill learns only the pods it selects")
	f.StringVar(&o.namespaceSelector, "namespace-selector-expressions", "", "the webhook's namespaceSelector matchExpressions (a JSON list): backfill learns only pods of the namespaces they select")
	f.StringVar(&o.host, "host", "", "address the webhook server listens on (default all)")
	f.IntVar(&o.port, "port", 9443, "webhook server port")
	f.IntVar(&o.maxConns, "max-connections", podwebhook.DefaultMaxConns, "open connections to the webhook server, at most; past it a connection not serving a request, of the address holding the most, is closed to make room")
	f.IntVar(&o.maxConnsPerClient, "max-connections-per-client", podwebhook.DefaultMaxConnsPerClient, "open connections from one IP address, at most (an API server holds a few dozen)")
	f.StringVar(&o.certDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory of the serving certificate (reloaded when it changes)")
	f.StringVar(&o.certName, "cert-name", "tls.crt", "serving certificate file name in --cert-dir")
	f.StringVar(&o.keyName, "key-name", "tls.key", "serving key file name in --cert-dir")
	f.StringVar(&o.clientCAFile, "client-ca-file", "", "PEM CA file: the webhook server then admits only clients with a certificate it signed (the API server's webhook kubeconfig client certificate)")
	f.StringVar(&o.tlsMinVersion, "tls-min-version", "1.2", "minimum TLS version: 1.2 or 1.3")
	f.BoolVar(&o.enableHTTP2, "enable-http2", false, "serve HTTP/2 (off by default: HTTP/2 rapid-reset hardening)")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Prometheus metrics address; 0 disables")
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "/healthz and /readyz address")
	zfs := flag.NewFlagSet("zap", flag.ContinueOnError)
	o.zap.BindFlags(zfs)
	f.AddGoFlagSet(zfs)
	// controller-runtime registers --kubeconfig on the standard flag set (else $KUBECONFIG or
	// the in-cluster config is used).
	if kf := flag.CommandLine.Lookup(config.KubeconfigFlagName); kf != nil {
		f.AddGoFlag(kf)
	}
	return cmd
}

var (
	flushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pod_security_advisor_flushes_total", Help: "State saves and policy publications, by result.",
	}, []string{"result"})
	workloads = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pod_security_advisor_workloads", Help: "Workload records held in memory.",
	})
)

func init() { metrics.Registry.MustRegister(flushes, workloads, shardBytes) }

var shardBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "pod_security_advisor_state_shard_bytes", Help: "Size of each state ConfigMap after the last save.",
}, []string{"shard"})

// registerStoreMetrics exposes the store's cumulative counters.
func registerStoreMetrics(st *store.Store) {
	counter := func(name, help string, value func(store.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(value(st.Stats())) })
	}
	metrics.Registry.MustRegister(
		counter("pod_security_advisor_state_writes_total", "State ConfigMaps created or updated.", func(s store.Stats) int64 { return s.Writes }),
		counter("pod_security_advisor_state_conflicts_total", "Saves started over because another replica wrote first.", func(s store.Stats) int64 { return s.Conflicts }),
		counter("pod_security_advisor_state_corrupt_total", "Unreadable state ConfigMaps seen (kept aside, never overwritten silently).", func(s store.Stats) int64 { return s.Corrupt }),
		counter("pod_security_advisor_state_oversized_total", "Workloads not saved because alone they exceed a state shard's limits.", func(s store.Stats) int64 { return s.Oversized }),
		counter("pod_security_advisor_state_unwritable_total", "State shard writes given up (the other shards were written).", func(s store.Stats) int64 { return s.Unwritable }),
		counter("pod_security_advisor_state_written_bytes_total", "Bytes of state ConfigMaps written.", func(s store.Stats) int64 { return s.BytesWritten }),
	)
}

func serve(o serveOptions) error {
	log := zap.New(zap.UseFlagOptions(&o.zap))
	ctrl.SetLogger(log)
	if o.namespace == "" {
		return errors.New("--namespace is required (or set $POD_NAMESPACE)")
	}
	if o.refreshInterval <= 0 {
		return fmt.Errorf("--refresh-interval %s: must be positive (how often counters are saved when nothing new is learned)", o.refreshInterval)
	}
	if o.flushInterval < 0 {
		return fmt.Errorf("--flush-interval %s: must not be negative", o.flushInterval)
	}
	if o.maxWorkloads < 0 {
		return fmt.Errorf("--max-workloads %d: must not be negative (0: no bound)", o.maxWorkloads)
	}
	if o.maxPolicyBytes <= 0 {
		return fmt.Errorf("--max-policy-bytes %d: must be positive", o.maxPolicyBytes)
	}
	if o.maxConns <= 0 || o.maxConnsPerClient <= 0 || o.maxConnsPerClient > o.maxConns {
		return fmt.Errorf("--max-connections (%d) and --max-connections-per-client (%d) must be positive, the second at most the first", o.maxConns, o.maxConnsPerClient)
	}
	if o.confirmTimeout <= 0 || o.confirmMaxHeld <= 0 {
		return fmt.Errorf("--confirm-timeout %s, --confirm-max-held %d: must be positive", o.confirmTimeout, o.confirmMaxHeld)
	}
	sel, err := parseSelectors(o.objectSelector, o.namespaceSelector)
	if err != nil {
		return err
	}
	if o.policyName == "" {
		o.policyName = o.name + "-policy"
	}
	if o.replica == "" {
		o.replica, _ = os.Hostname()
	}
	tlsOpts, err := podwebhook.TLSOptions(o.tlsMinVersion, o.enableHTTP2)
	if err != nil {
		return fmt.Errorf("--tls-min-version: %w", err)
	}
	if soft, err := setMemoryLimit(os.Getenv(MemoryLimitEnv)); err != nil {
		return err
	} else if soft > 0 {
		log.Info("Go memory limit set from the container's", "bytes", soft)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	stateSelector := labels.SelectorFromSet(labels.Set{store.LabelState: o.name})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr, TLSOpts: tlsOpts},
		HealthProbeBindAddress:  o.probeAddr,
		GracefulShutdownTimeout: ptr(25 * time.Second),
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			// Only our own state ConfigMaps are watched.
			&corev1.ConfigMap{}: {Namespaces: map[string]cache.Config{o.namespace: {}}, Label: stateSelector},
		}},
	})
	if err != nil {
		return err
	}

	agg := aggregate.New(o.replica)
	agg.MaxWorkloads = o.maxWorkloads
	lrn := learner.New(agg)
	st, err := store.New(store.Options{Namespace: o.namespace, Name: o.name, Reader: mgr.GetAPIReader(), Client: mgr.GetClient(), Log: log.WithName("store"), MaxWorkloads: o.maxWorkloads})
	if err != nil {
		return err
	}
	registerStoreMetrics(st)
	pub := &policy.Publisher{Reader: mgr.GetAPIReader(), Client: mgr.GetClient(), Namespace: o.namespace, Name: o.policyName, Scope: o.scope, Enforce: o.enforce,
		MaxTotalBytes: o.maxPolicyBytes}
	ready := &readiness{}

	resolver := &owner.CacheResolver{Reader: mgr.GetCache(), Live: mgr.GetAPIReader(), LiveTimeout: time.Second}
	var confirm *podwebhook.Confirmer
	if o.confirm {
		confirm = &podwebhook.Confirmer{Reader: mgr.GetAPIReader(), Log: log.WithName("confirm"), MaxHeld: o.confirmMaxHeld,
			Timeout: o.confirmTimeout, Selects: sel.pods}
		if err := mgr.Add(confirm); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.Handle(WebhookPath, podwebhook.NewHandler(podwebhook.Handler{
		Learner: lrn, Owners: resolver, Excluded: toSet(o.excluded), Log: log.WithName("webhook"), Confirm: confirm,
	}))
	webhookTLS := tlsOpts
	if o.clientCAFile != "" {
		opt, err := podwebhook.ClientCAOption(o.clientCAFile)
		if err != nil {
			return fmt.Errorf("--client-ca-file: %w", err)
		}
		webhookTLS = append(slices.Clone(tlsOpts), opt)
	}
	server := &podwebhook.Server{
		Addr: net.JoinHostPort(o.host, strconv.Itoa(o.port)), CertDir: o.certDir, CertName: o.certName, KeyName: o.keyName,
		TLSOpts: webhookTLS, Handler: mux, Log: log.WithName("webhook-server"),
		MaxConns: o.maxConns, MaxConnsPerClient: o.maxConnsPerClient,
	}
	if err := mgr.Add(server); err != nil {
		return err
	}

	// Start-up: load the state, warm the owner caches, backfill, then learn from others' saves.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		return start(ctx, mgr, st, lrn, resolver, o, sel, log, ready)
	})); err != nil {
		return err
	}
	loop := &learner.Loop{
		Learner: lrn, Saver: st, Publisher: pub, Log: log.WithName("flush"),
		Debounce: o.flushInterval, Refresh: o.refreshInterval,
		Flushed: func(err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			flushes.WithLabelValues(result).Inc()
			workloads.Set(float64(lrn.Workloads()))
			for i, b := range st.Stats().ShardBytes {
				shardBytes.WithLabelValues(strconv.Itoa(i)).Set(float64(b))
			}
		},
	}
	if confirm != nil {
		loop.Drain = confirm.Drain
	}
	if err := mgr.Add(loop); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if err := server.Ready(); err != nil {
			return err
		}
		return ready.check()
	}); err != nil {
		return err
	}
	log.Info("starting", "namespace", o.namespace, "state", o.name+"-state-*", "policy", o.policyName, "replica", o.replica)
	return mgr.Start(ctrl.SetupSignalHandler())
}

func start(ctx context.Context, mgr ctrl.Manager, st *store.Store, lrn *learner.Learner, resolver *owner.CacheResolver, o serveOptions, sel selectors, log logr.Logger, ready *readiness) error {
	// A state that cannot be loaded is retried; corrupted shards are skipped by the store.
	for {
		loaded, err := st.Load(ctx)
		if err == nil {
			lrn.Merge(loaded)
			break
		}
		log.Error(err, "loading state failed; retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	// GetInformer returns once the informer has synced; until then (and if it fails) owners
	// are named from the pod itself, so admission never waits for a cache.
	synced := true
	for _, gvk := range owner.Watched {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(gvk)
		if _, err := mgr.GetCache().GetInformer(ctx, meta); err != nil {
			log.Error(err, "owner cache unavailable; owners resolve from pod names", "kind", gvk.Kind)
			synced = false
		}
	}
	if synced {
		resolver.Synced()
	}
	// Others' saves are joined into memory; a deleted or unreadable shard is saved again.
	informer, err := mgr.GetCache().GetInformer(ctx, &corev1.ConfigMap{})
	if err != nil {
		return err
	}
	if err := st.Watch(ctx, informer, lrn); err != nil {
		return err
	}
	ready.set()
	if o.backfill {
		n, err := backfill(ctx, mgr.GetAPIReader(), resolver, lrn, toSet(o.excluded), sel)
		if err != nil {
			log.Error(err, "backfill incomplete", "pods", n)
		} else {
			log.Info("backfill done", "pods", n)
		}
	}
	// What an unreadable shard held is back only as far as running pods and other replicas
	// know it: say how far.
	for _, lost := range st.Unreadable() {
		log.Info("workloads of the unreadable state shard held again (from backfill and other replicas); the rest of what it held is lost",
			"configmap", lost.Name, "bytes", lost.Bytes, "copy", lost.Copy, "workloads", lrn.Count(lost.Holds), "backfill", o.backfill)
	}
	<-ctx.Done()
	return nil
}

// backfill learns the pods that already run, a page at a time: those the API server would
// send the webhook (its selectors), no more.
func backfill(ctx context.Context, r client.Reader, owners *owner.CacheResolver, lrn *learner.Learner, excluded map[string]bool, sel selectors) (int, error) {
	selected, err := sel.selectedNamespaces(ctx, r)
	if err != nil {
		return 0, err
	}
	n, cont := 0, ""
	for {
		pods := &corev1.PodList{}
		if err := r.List(ctx, pods, client.Limit(500), client.Continue(cont), client.MatchingLabelsSelector{Selector: sel.objects}); err != nil {
			return n, err
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			if excluded[pod.Namespace] || selected != nil && !selected[pod.Namespace] {
				continue
			}
			lrn.Learn(aggregate.Observe(pod, owners.Resolve(ctx, pod), pod.CreationTimestamp.Time))
			n++
		}
		if cont = pods.Continue; cont == "" {
			return n, nil
		}
	}
}

// readiness turns true once the stored state is loaded: before that, a replica would render a
// policy from a partial view.
type readiness struct{ ok atomic.Bool }

func (r *readiness) set() { r.ok.Store(true) }
func (r *readiness) check() error {
	if !r.ok.Load() {
		return errors.New("state not loaded yet")
	}
	return nil
}

func toSet(list []string) map[string]bool {
	set := map[string]bool{}
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			set[s] = true
		}
	}
	return set
}

func ptr[T any](v T) *T { return &v }
