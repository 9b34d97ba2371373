// Package policy keeps the rendered policy in a ConfigMap, one key per format, so users fetch
// it with `kubectl get configmap`. It rewrites a ConfigMap only when its rendering changed.
//
// When the renderings of all namespaces outgrow one ConfigMap, the policy is split: the main
// ConfigMap keeps the README (saying so) and the Pod Security Standards labels, and each
// namespace gets a ConfigMap of its own, <name>-ns-<namespace>, labelled LabelPolicy=<name>
// and LabelNamespace=<namespace>.
package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// Keys of a policy ConfigMap and the format each holds.
var Keys = map[string]string{
	"pod-security-standards.yaml":      render.FormatPSS,
	"validating-admission-policy.yaml": render.FormatVAP,
	"pod-security-policy.yaml":         render.FormatPSP,
	"report.json":                      render.FormatReport,
}

// Labels of the per-namespace ConfigMaps of a split policy.
const (
	LabelPolicy    = "pod-security-advisor.io/policy"
	LabelNamespace = "pod-security-advisor.io/namespace"
)

// MaxBytes keeps a ConfigMap under the API server's 1 MiB object limit with room for metadata.
var MaxBytes = 900 * 1024

// Publisher writes the policy ConfigMaps.
type Publisher struct {
	Reader    client.Reader // reads from the API server, not a cache
	Client    client.Client // writes
	Namespace string
	Name      string // the policy ConfigMap's name
	Scope     string // render scope for vap and psp
	Enforce   bool   // vap binding with Deny
}

// Publish renders the policy and writes every ConfigMap whose data changed.
func (p *Publisher) Publish(ctx context.Context, agg *aggregate.Aggregate) error {
	want, err := p.Render(agg)
	if err != nil {
		return err
	}
	existing := &corev1.ConfigMapList{}
	if err := p.Reader.List(ctx, existing, client.InNamespace(p.Namespace), client.MatchingLabels{LabelPolicy: p.Name}); err != nil {
		return fmt.Errorf("listing the parts of policy ConfigMap %s: %w", p.Name, err)
	}
	for _, cm := range want {
		if err := p.apply(ctx, cm); err != nil {
			return fmt.Errorf("writing policy ConfigMap %s: %w", cm.Name, err)
		}
	}
	// Parts of an earlier split that this rendering no longer has would be stale: remove them.
	for i := range existing.Items {
		old := &existing.Items[i]
		if !slices.ContainsFunc(want, func(cm *corev1.ConfigMap) bool { return cm.Name == old.Name }) {
			if err := p.Client.Delete(ctx, old); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting stale policy part %s: %w", old.Name, err)
			}
		}
	}
	return nil
}

// Render returns the ConfigMaps of the policy: one, or the main one and one per namespace.
func (p *Publisher) Render(agg *aggregate.Aggregate) ([]*corev1.ConfigMap, error) {
	data, err := p.renderData(agg)
	if err != nil {
		return nil, err
	}
	if size(data)+len(p.readme(nil)) <= MaxBytes || p.Scope == render.ScopeCluster {
		data["README"] = p.readme(nil)
		return []*corev1.ConfigMap{p.configMap(p.Name, nil, fit(data))}, nil
	}
	var parts []*corev1.ConfigMap
	var names []string
	for _, ns := range agg.NamespaceNames() {
		sub := aggregate.New(agg.Replica)
		sub.Namespaces[ns] = agg.Namespaces[ns]
		d, err := p.renderData(sub)
		if err != nil {
			return nil, err
		}
		name := partName(p.Name, ns)
		names = append(names, name)
		parts = append(parts, p.configMap(name, map[string]string{LabelPolicy: p.Name, LabelNamespace: ns}, fit(d)))
	}
	main := map[string]string{"pod-security-standards.yaml": data["pod-security-standards.yaml"], "README": p.readme(names)}
	return append([]*corev1.ConfigMap{p.configMap(p.Name, nil, main)}, parts...), nil
}

func (p *Publisher) renderData(agg *aggregate.Aggregate) (map[string]string, error) {
	data := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(Keys)) {
		var buf bytes.Buffer
		if err := render.Render(&buf, agg, render.Options{Format: Keys[key], Scope: p.Scope, Enforce: p.Enforce}); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", key, err)
		}
		data[key] = buf.String()
	}
	return data, nil
}

// fit keeps one ConfigMap under MaxBytes when even a single namespace (or the cluster scope,
// which cannot be split) renders too much: the evidence report goes first, then the legacy PSP,
// each replaced by a note saying where to get it. The policies people apply stay.
func fit(data map[string]string) map[string]string {
	for _, key := range []string{"report.json", "pod-security-policy.yaml"} {
		if size(data) <= MaxBytes {
			break
		}
		data[key] = fmt.Sprintf("# Left out: %d bytes do not fit in this ConfigMap. Render it from the state:\n"+
			"#   kubectl get configmap -l pod-security-advisor.io/state -o json | pod-security-advisor render --format %s\n", len(data[key]), Keys[key])
	}
	return data
}

func size(data map[string]string) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	return n
}

func (p *Publisher) configMap(name string, extra, data map[string]string) *corev1.ConfigMap {
	labels := map[string]string{"app.kubernetes.io/managed-by": "pod-security-advisor"}
	maps.Copy(labels, extra)
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: name, Labels: labels}, Data: data}
}

// partName is <name>-ns-<namespace>, cut and suffixed with a hash when too long.
func partName(name, ns string) string {
	full := name + "-ns-" + ns
	if len(validation.IsDNS1123Subdomain(full)) == 0 {
		return full
	}
	sum := sha256.Sum256([]byte(ns))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return strings.TrimRight(full[:validation.DNS1123SubdomainMaxLength-len(suffix)], "-.") + suffix
}

// apply creates or updates one ConfigMap, leaving it alone when its data is unchanged.
func (p *Publisher) apply(ctx context.Context, want *corev1.ConfigMap) error {
	cm := &corev1.ConfigMap{}
	err := p.Reader.Get(ctx, client.ObjectKeyFromObject(want), cm)
	switch {
	case apierrors.IsNotFound(err):
		return p.Client.Create(ctx, want)
	case err != nil:
		return err
	case maps.Equal(cm.Data, want.Data) && hasLabels(cm.Labels, want.Labels):
		return nil
	}
	// Our labels are set; labels a user added are kept.
	cm.Data = want.Data
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	maps.Copy(cm.Labels, want.Labels)
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

func (p *Publisher) readme(parts []string) string {
	get := func(cm, key string) string {
		return fmt.Sprintf("kubectl get configmap %s -n %s -o jsonpath='{.data.%s}'", cm, p.Namespace, strings.ReplaceAll(key, ".", `\.`))
	}
	where := p.Name
	split := ""
	if len(parts) > 0 {
		where = "<part>"
		split = fmt.Sprintf(`
The policy of all namespaces does not fit in one ConfigMap, so it is split: this ConfigMap holds
the Pod Security Standards labels, and each namespace's other keys are in its own ConfigMap:
  kubectl get configmap -n %s -l %s=%s
  parts: %s
`, p.Namespace, LabelPolicy, p.Name, strings.Join(parts, ", "))
	}
	actions := "[Warn, Audit]: violations are reported, nothing is blocked"
	if p.Enforce {
		actions = "[Deny]: violations are rejected"
	}
	return fmt.Sprintf(`Least-privilege pod security policy learned by pod-security-advisor from the pods it admitted.
Every key is re-rendered when something new is learned. Review report.json before enforcing.
%s
pod-security-standards.yaml
  Namespace labels: enforce the strictest Pod Security Standards level every observed pod of the
  namespace passes; warn and audit at the next stricter level. Check, then apply:
    %s | kubectl apply --dry-run=server -f -
    %s | kubectl apply -f -

validating-admission-policy.yaml
  ValidatingAdmissionPolicies (scope: %s) admitting exactly what was observed, bound with
  validationActions %s. Apply:
    %s | kubectl apply -f -

pod-security-policy.yaml
  Legacy policy/v1beta1 PodSecurityPolicies, for clusters older than Kubernetes 1.25.
    %s

report.json
  Evidence: for every privilege, the workloads (namespace, kind, name, service accounts,
  count, first and last seen) that need it, and each namespace's Pod Security Standards verdict.
    %s
`, split, get(p.Name, "pod-security-standards.yaml"), get(p.Name, "pod-security-standards.yaml"), p.Scope, actions,
		get(where, "validating-admission-policy.yaml"), get(where, "pod-security-policy.yaml"), get(where, "report.json"))
}
