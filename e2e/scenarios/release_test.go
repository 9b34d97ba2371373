package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// The tests' clients log nothing worth reading; without a logger controller-runtime prints a
// stack trace after 30s.
func init() { ctrllog.SetLogger(logr.Discard()) }

// labelRelease selects the namespaces a release's webhook is sent pods of.
const labelRelease = "e2e.pod-security-advisor.io/release"

// Release is one helm install of the chart, in url mode, with its serving certificate issued.
type Release struct {
	Name      string
	Namespace string // the release namespace: state and policy ConfigMaps live here
	Fullname  string // prefix of the chart's resources, the webhook's --name
	Port      int    // the port webhook.url points at
	CertDir   string // tls.crt and tls.key of the serving Secret, as the kubelet mounts them
	// Kubeconfig holds a token of the chart's ServiceAccount: the webhook runs with the
	// chart's RBAC and nothing more.
	Kubeconfig string

	c client.Client
}

type installOptions struct {
	timeoutSeconds int               // webhook.timeoutSeconds; 0: the chart's default
	objectSelector map[string]string // webhook.objectSelector matchLabels; nil: none
}

// install runs `helm install` of charts/pod-security-advisor into a fresh namespace, waits for
// cert-manager to issue the serving certificate and cainjector to inject its CA, and prepares
// the certificate directory and ServiceAccount kubeconfig a webhook process needs. Cleanup
// uninstalls the release.
func install(t *testing.T, o installOptions) *Release {
	t.Helper()
	c := harness.Client(t)
	r := &Release{Name: "psa-" + rand.String(5), Port: harness.FreePort(t), c: c}
	r.Fullname = r.Name + "-pod-security-advisor"
	r.Namespace = harness.Namespace(t, c, r.Name+"-system", nil)

	values := map[string]any{
		"replicas": 0, // no kubelet: the webhook runs on the host instead
		"webhook": map[string]any{
			"url": fmt.Sprintf("https://127.0.0.1:%d/validate-pods", r.Port),
			"namespaceSelectorExpressions": []any{
				map[string]any{"key": labelRelease, "operator": "In", "values": []string{r.Name}},
			},
		},
		"certManager": map[string]any{"extraIPAddresses": []string{"127.0.0.1"}},
		"learning":    map[string]any{"flushInterval": "1s"},
		"logging":     map[string]any{"format": "console", "level": "debug", "development": true},
		"test":        map[string]any{"enabled": false},
	}
	if o.timeoutSeconds > 0 {
		values["webhook"].(map[string]any)["timeoutSeconds"] = o.timeoutSeconds
	}
	if o.objectSelector != nil {
		values["webhook"].(map[string]any)["objectSelector"] = map[string]any{"matchLabels": o.objectSelector}
	}
	valuesFile := filepath.Join(t.TempDir(), "values.yaml")
	data, _ := yaml.Marshal(values)
	if err := os.WriteFile(valuesFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	helm := harness.Bin(t, "helm")
	t.Cleanup(func() {
		if _, _, err := harness.Run(t, "", helm, "uninstall", r.Name, "-n", r.Namespace, "--wait", "--timeout", "60s"); err != nil {
			t.Logf("helm uninstall: %v", err)
		}
	})
	start := time.Now()
	if _, _, err := harness.Run(t, "", helm, "install", r.Name, filepath.Join(harness.Root(), "charts", "pod-security-advisor"),
		"-n", r.Namespace, "-f", valuesFile); err != nil {
		t.Fatal(err)
	}
	harness.Kubectl(t, "", "wait", "-n", r.Namespace, "--for=condition=Ready", "--timeout=90s", "certificate/"+r.Fullname+"-serving-cert")
	ca := r.servingSecret(t).Data["ca.crt"]
	harness.Eventually(t, 60*time.Second, "cainjector fills the webhook's caBundle", func() error {
		return r.caInjected(ca)
	})
	t.Logf("release %s installed in %s, certificate issued and CA injected in %s", r.Name, r.Namespace, time.Since(start).Round(time.Millisecond))

	r.Kubeconfig = harness.ServiceAccountKubeconfig(t, c, r.Namespace, r.Fullname)
	r.CertDir = filepath.Join(t.TempDir(), "serving-certs")
	r.SyncCerts(t)
	return r
}

// caInjected checks that every webhook of the release's configuration trusts ca.
func (r *Release) caInjected(ca []byte) error {
	vwc := &admissionv1.ValidatingWebhookConfiguration{}
	if err := r.c.Get(context.Background(), client.ObjectKey{Name: r.Fullname}, vwc); err != nil {
		return err
	}
	for _, wh := range vwc.Webhooks {
		if !bytes.Equal(bytes.TrimSpace(wh.ClientConfig.CABundle), bytes.TrimSpace(ca)) {
			return fmt.Errorf("webhook %s: caBundle is not the CA of the serving certificate (%d bytes)", wh.Name, len(wh.ClientConfig.CABundle))
		}
	}
	return nil
}

func (r *Release) servingSecret(t *testing.T) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := r.c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Fullname + "-serving-cert"}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// SyncCerts copies the serving Secret into CertDir the way the kubelet updates a mounted
// Secret, and returns the certificate's serial number.
func (r *Release) SyncCerts(t *testing.T) *big.Int {
	t.Helper()
	s := r.servingSecret(t)
	if err := harness.WriteAtomicDir(r.CertDir, map[string][]byte{"tls.crt": s.Data["tls.crt"], "tls.key": s.Data["tls.key"]}); err != nil {
		t.Fatal(err)
	}
	return serial(t, s.Data["tls.crt"])
}

func serial(t *testing.T, certPEM []byte) *big.Int {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("serving Secret: tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.SerialNumber
}

// TestNamespace creates a namespace whose pods this release's webhook is sent (label value
// r.Name, or selector[0] for a namespace of an extra webhook entry, see addWebhookEntry).
func (r *Release) TestNamespace(t *testing.T, prefix string, selector ...string) string {
	t.Helper()
	value := r.Name
	if len(selector) > 0 {
		value = selector[0]
	}
	return harness.Namespace(t, r.c, prefix, map[string]string{labelRelease: value})
}

// trustReviews makes a webhook learn the reviews posted to it as they arrive, for scenarios
// that post synthetic reviews of pods no API server stored (scale, store): confirmation against
// the stored pod is what confirm_test.go tests.
const trustReviews = "--confirm-learning=false"

// Webhook is one `pod-security-advisor serve` process of a release.
type Webhook struct {
	*harness.Process
	Port, MetricsPort, HealthPort int
}

type webhookOptions struct {
	port     int      // default: the release's
	replica  string   // --replica; default: the process label
	backfill bool     // off by default: backfill lists the pods of every scenario
	args     []string // appended last: they override the chart's
	label    string   // names the process in logs
}

// Start runs the webhook as the chart's Deployment would (its container args, rendered by
// helm), bound to 127.0.0.1 on host ports, with the release's token, and waits for /readyz.
func (r *Release) Start(t *testing.T, o webhookOptions) *Webhook {
	t.Helper()
	w := &Webhook{Port: or(o.port, r.Port), MetricsPort: harness.FreePort(t), HealthPort: harness.FreePort(t)}
	label := or(o.label, "webhook")
	replica := or(o.replica, r.Name+"-"+label)
	args := r.chartArgs(t, replica)
	env := r.chartEnv(t)
	args = append(args,
		"--host=127.0.0.1", "--port="+strconv.Itoa(w.Port), "--cert-dir="+r.CertDir,
		"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(w.MetricsPort),
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(w.HealthPort),
		"--kubeconfig="+r.Kubeconfig, "--backfill="+strconv.FormatBool(o.backfill))
	args = append(args, o.args...)
	w.Process = harness.StartProcess(t, label, env, harness.Advisor(t), args...)
	harness.Eventually(t, 60*time.Second, label+" /readyz", func() error {
		if !w.Running() {
			t.Fatalf("%s exited before it was ready:\n%s", label, w.Log())
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", w.HealthPort))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	return w
}

// chartArgs returns the args of the chart's Deployment, with the downward-API variables
// filled in and the in-pod addresses and paths left out (Start sets host ones).
func (r *Release) chartArgs(t *testing.T, replica string) []string {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := r.c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Fullname}, d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if slices.ContainsFunc([]string{"--port=", "--cert-dir=", "--metrics-bind-address=", "--health-probe-bind-address="},
			func(p string) bool { return strings.HasPrefix(a, p) }) {
			continue
		}
		a = strings.ReplaceAll(a, "$(POD_NAMESPACE)", r.Namespace)
		out = append(out, strings.ReplaceAll(a, "$(POD_NAME)", replica))
	}
	return out
}

// chartEnv returns the environment the chart's Deployment gives from the container's resources
// (MEMORY_LIMIT, from which the webhook sets its Go memory limit), resolved as the kubelet
// resolves it: memory figures are measured under the chart's own limit.
func (r *Release) chartEnv(t *testing.T) []string {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := r.c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Fullname}, d); err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	var out []string
	for _, e := range c.Env {
		if ref := e.ValueFrom; ref != nil && ref.ResourceFieldRef != nil && ref.ResourceFieldRef.Resource == "limits.memory" {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				out = append(out, fmt.Sprintf("%s=%d", e.Name, q.Value()))
			}
		}
	}
	return out
}

// Metric returns the sum of the webhook's samples of a metric with the given labels.
func (w *Webhook) Metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, err := harness.Metric(fmt.Sprintf("http://127.0.0.1:%d/metrics", w.MetricsPort), name, labels...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ServingSerial dials the webhook and returns the serial of the certificate it serves,
// verified against the release's CA for the IP 127.0.0.1 the API server dials.
func (r *Release) ServingSerial(t *testing.T, port int) (*big.Int, error) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.servingSecret(t).Data["ca.crt"])
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// StateConfigMaps lists the state shards (label pod-security-advisor.io/state=<fullname>).
func (r *Release) StateConfigMaps(t *testing.T) []corev1.ConfigMap {
	t.Helper()
	list := &corev1.ConfigMapList{}
	if err := r.c.List(context.Background(), list, client.InNamespace(r.Namespace), client.MatchingLabels{store.LabelState: r.Fullname}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// State joins every state shard; an undecodable shard is an error.
func (r *Release) State(t *testing.T) (*aggregate.Aggregate, error) {
	t.Helper()
	joined := aggregate.New("e2e")
	cms := r.StateConfigMaps(t)
	for i := range cms {
		agg, err := store.Decode(&cms[i])
		if err != nil {
			return nil, err
		}
		joined.Merge(agg)
	}
	return joined, nil
}

// WaitState polls the stored state until cond accepts it.
func (r *Release) WaitState(t *testing.T, timeout time.Duration, what string, cond func(*aggregate.Aggregate) error) *aggregate.Aggregate {
	t.Helper()
	var agg *aggregate.Aggregate
	harness.Eventually(t, timeout, what, func() error {
		var err error
		if agg, err = r.State(t); err != nil {
			return err
		}
		return cond(agg)
	})
	return agg
}

// WaitWorkloads waits until the stored state holds every workload ("namespace/Kind/name").
func (r *Release) WaitWorkloads(t *testing.T, timeout time.Duration, want ...string) *aggregate.Aggregate {
	t.Helper()
	return r.WaitState(t, timeout, "state holds "+strings.Join(want, ", "), func(agg *aggregate.Aggregate) error {
		return hasWorkloads(agg, want...)
	})
}

func hasWorkloads(agg *aggregate.Aggregate, want ...string) error {
	have := workloads(agg)
	var missing []string
	for _, w := range want {
		if have[w] == nil {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %v; have %v", missing, slices.Sorted(maps.Keys(have)))
	}
	return nil
}

// workloads indexes the aggregate's workloads by "namespace/Kind/name".
func workloads(agg *aggregate.Aggregate) map[string]*aggregate.Workload {
	out := map[string]*aggregate.Workload{}
	for ns, n := range agg.Namespaces {
		for _, w := range n.Workloads {
			out[ns+"/"+w.Ref.String()] = w
		}
	}
	return out
}

// learning is the aggregate without what merely counts observations (counters and first and
// last seen), as JSON: two states with equal learning allow and deny exactly the same.
func learning(t *testing.T, agg *aggregate.Aggregate) string {
	t.Helper()
	data, err := json.Marshal(agg)
	if err != nil {
		t.Fatal(err)
	}
	cp := aggregate.New("")
	if err := json.Unmarshal(data, cp); err != nil {
		t.Fatal(err)
	}
	for _, n := range cp.Namespaces {
		for _, w := range n.Workloads {
			w.Counts, w.FirstSeen, w.LastSeen = nil, time.Time{}, time.Time{}
		}
	}
	data, _ = json.MarshalIndent(cp, "", " ")
	return string(data)
}

// Policy returns the policy ConfigMap's data (nil while it does not exist).
func (r *Release) Policy(t *testing.T) map[string]string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	err := r.c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Fullname + "-policy"}, cm)
	if err != nil {
		return nil
	}
	return cm.Data
}

// PolicyKey fetches one key of the policy the way the README tells users to.
func (r *Release) PolicyKey(t *testing.T, key string) string {
	t.Helper()
	return harness.Kubectl(t, "", "get", "configmap", r.Fullname+"-policy", "-n", r.Namespace,
		"-o", "jsonpath={.data."+strings.ReplaceAll(key, ".", `\.`)+"}")
}

// apply creates manifests in a namespace with kubectl.
func apply(t *testing.T, ns, manifests string) {
	t.Helper()
	harness.Kubectl(t, manifests, "apply", "-n", ns, "-f", "-")
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
