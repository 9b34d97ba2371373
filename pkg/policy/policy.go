// Package policy keeps the rendered policy in a ConfigMap, one key per format, so users fetch
// it with `kubectl get configmap`. It rewrites the ConfigMap only when a rendering changed.
package policy

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// Keys of the policy ConfigMap and the format each holds.
var Keys = map[string]string{
	"pod-security-standards.yaml":      render.FormatPSS,
	"validating-admission-policy.yaml": render.FormatVAP,
	"pod-security-policy.yaml":         render.FormatPSP,
	"report.json":                      render.FormatReport,
}

// MaxBytes keeps the ConfigMap under the API server's 1 MiB object limit with room for metadata.
const MaxBytes = 900 * 1024

// Publisher writes the policy ConfigMap.
type Publisher struct {
	Client    client.Client // a live (uncached) client is best: it reads before writing
	Namespace string
	Name      string // the policy ConfigMap's name
	Scope     string // render scope for vap and psp
	Enforce   bool   // vap binding with Deny
}

// Render returns the ConfigMap data for an aggregate.
func (p *Publisher) Render(agg *aggregate.Aggregate) (map[string]string, error) {
	data := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(Keys)) {
		var buf bytes.Buffer
		if err := render.Render(&buf, agg, render.Options{Format: Keys[key], Scope: p.Scope, Enforce: p.Enforce}); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", key, err)
		}
		data[key] = buf.String()
	}
	data["README"] = p.readme()
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if size > MaxBytes {
		// Too big for one ConfigMap: keep the evidence report out and say where it went.
		data["report.json"] = ""
		data["README"] += fmt.Sprintf("\nThe evidence report (%d bytes) does not fit in this ConfigMap; read it from the state with\n`pod-security-advisor render --format report`.\n", size)
	}
	return data, nil
}

// Publish renders and writes the ConfigMap if its data changed.
func (p *Publisher) Publish(ctx context.Context, agg *aggregate.Aggregate) error {
	data, err := p.Render(agg)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{}
	err = p.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name}, cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: map[string]string{
				"app.kubernetes.io/managed-by": "pod-security-advisor",
			}},
			Data: data,
		}
		return p.Client.Create(ctx, cm)
	case err != nil:
		return err
	case maps.Equal(cm.Data, data):
		return nil
	}
	cm.Data = data
	// A conflict means another replica published at the same moment; the next flush retries.
	return p.Client.Update(ctx, cm)
}

func (p *Publisher) readme() string {
	get := func(key string) string {
		return fmt.Sprintf("kubectl get configmap %s -n %s -o jsonpath='{.data.%s}'", p.Name, p.Namespace, strings.ReplaceAll(key, ".", `\.`))
	}
	actions := "[Warn, Audit]: violations are reported, nothing is blocked"
	if p.Enforce {
		actions = "[Deny]: violations are rejected"
	}
	return fmt.Sprintf(`Least-privilege pod security policy learned by pod-security-advisor from the pods it admitted.
Every key is re-rendered when something new is learned. Review report.json before enforcing.

pod-security-standards.yaml
  Namespace labels: enforce the strictest Pod Security Standards level every observed pod of the
  namespace passes; warn and audit at the next stricter level. Check, then apply:
    %s | kubectl label --dry-run=server --overwrite -f -
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
`, get("pod-security-standards.yaml"), get("pod-security-standards.yaml"), p.Scope, actions,
		get("validating-admission-policy.yaml"), get("pod-security-policy.yaml"), get("report.json"))
}
