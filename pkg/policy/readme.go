package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// budgetReason marks a note about a format left out for the budget.
const budgetReason = "budget"

// maxListed bounds the namespaces the main README names in one sentence.
const maxListed = 20

// single fetches a key of the main ConfigMap.
func (p *Publisher) single(key string) string { return p.get(p.Name, key) }

func (p *Publisher) get(cm, key string) string {
	return fmt.Sprintf("kubectl get configmap %s -n %s -o jsonpath='{.data.%s}'", cm, p.Namespace, jsonpathKey(key))
}

func jsonpathKey(key string) string { return strings.ReplaceAll(key, ".", `\.`) }

// renderCommand prints format f from the state ConfigMaps, for the given namespaces or all.
func (p *Publisher) renderCommand(f format, namespaces []string) string {
	cmd := fmt.Sprintf("kubectl get configmap -n %s -l %s -o json | pod-security-advisor render --format %s", p.Namespace, LabelState, f.name)
	if f.name == render.FormatVAP || f.name == render.FormatPSP || f.name == render.FormatGatekeeper {
		scope := p.Scope
		if scope == "" {
			scope = render.ScopeNamespace
		}
		cmd += " --scope " + scope
	}
	if (f.name == render.FormatVAP || f.name == render.FormatGatekeeper) && p.Enforce {
		cmd += " --enforce"
	}
	if len(namespaces) > 0 {
		cmd += " --namespaces " + strings.Join(namespaces, ",")
	}
	return cmd
}

// note replaces a format left out of a ConfigMap, saying why and how to render it. An empty
// reason means it does not fit in one ConfigMap with the other keys of these namespaces.
func (p *Publisher) note(f format, reason string, namespaces []string) string {
	switch reason {
	case "":
		reason = fmt.Sprintf("%s of %s does not fit in one ConfigMap with the other keys", f.key, namespaceList(namespaces, len(namespaces)))
	case budgetReason:
		reason = fmt.Sprintf("%s of all namespaces passes the policy budget of %d MiB", f.key, p.budget()>>20)
	}
	return fmt.Sprintf("# Left out: %s. Render it from the state:\n#   %s\n", reason, p.renderCommand(f, namespaces))
}

// namespaceList is "namespace a" or "namespaces a, b", naming at most limit of them.
func namespaceList(names []string, limit int) string {
	if len(names) == 1 {
		return "namespace " + names[0]
	}
	if len(names) <= limit {
		return "namespaces " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("%d namespaces (%s, … and %d more)", len(names), strings.Join(names[:limit], ", "), len(names)-limit)
}

// partReadme says what part index of 2^depth holds.
func (p *Publisher) partReadme(index uint64, depth int, namespaces []string, cut []format) string {
	var b strings.Builder
	fmt.Fprintf(&b, `Part %s of the pod security policy learned by pod-security-advisor. The README of ConfigMap
%s says what each key holds and how to apply it. This part holds the namespaces whose hash
(the first 8 bytes of the SHA-256 of the name, big-endian) modulo %d is %d:
  %s
`, partID(index, depth), p.Name, uint64(1)<<depth, index, strings.Join(namespaces, ", "))
	if len(cut) > 0 {
		fmt.Fprintf(&b, "Left out of this part, as they do not fit in one ConfigMap (each key says how to render it): %s\n", keysOf(cut))
	}
	return b.String()
}

// readme says what the policy ConfigMap holds and how to use it. intro (the layout of a split
// policy) and tail (what was left out) are empty for a policy in one ConfigMap; fetch is the
// command that prints a key.
func (p *Publisher) readme(intro string, fetch func(key string) string, tail string) string {
	actions, gkAction := "[Warn, Audit]: violations are reported, nothing is blocked", "dryrun: violations are audited"
	if p.Enforce {
		actions, gkAction = "[Deny]: violations are rejected", "deny: violations are rejected"
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

gatekeeper.yaml
  Gatekeeper constraints (scope: %s) for the gatekeeper-library pod-security-policy
  ConstraintTemplates, which must be installed first; enforcementAction %s.
  Comments say where a template is looser than what was learned. Apply:
    %s | kubectl apply -f -

pod-security-policy.yaml
  Legacy policy/v1beta1 PodSecurityPolicies, for clusters older than Kubernetes 1.25.
    %s

report.json
  Evidence: for every privilege, the workloads (namespace, kind, name, service accounts,
  count, first and last seen) that need it, and each namespace's Pod Security Standards verdict.
    %s
%s`, intro, fetch("pod-security-standards.yaml"), fetch("pod-security-standards.yaml"), p.Scope, actions,
		fetch("validating-admission-policy.yaml"), p.Scope, gkAction, fetch("gatekeeper.yaml"), fetch("pod-security-policy.yaml"), fetch("report.json"), tail)
}

// fetch is the command that prints a key of a split policy: every part's (and the main
// ConfigMap's) value joined, or, for a format left out, its rendering from the state.
func (pl *plan) fetch(key string) string {
	p := pl.p
	for _, f := range pl.excluded {
		if f.key == key {
			return p.renderCommand(f, nil)
		}
	}
	for _, f := range pl.whole {
		if f.key == key {
			return p.single(key)
		}
	}
	return fmt.Sprintf("kubectl get configmap -n %s -l %s=%s -o jsonpath='{range .items[*]}{.data.%s}{end}'", p.Namespace, LabelPolicy, p.Name, jsonpathKey(key))
}

// splitIntro explains the parts of a split policy.
func (pl *plan) splitIntro() string {
	p := pl.p
	names := make([]string, len(pl.parts))
	for i, pt := range pl.parts {
		names[i] = pt.name
	}
	var where strings.Builder
	for _, f := range pl.whole {
		fmt.Fprintf(&where, "%s (scope %s: one document for every namespace) is in this ConfigMap.\n", f.key, p.Scope)
	}
	return fmt.Sprintf(`
The policy of all namespaces does not fit in one ConfigMap, so it is split into %d parts, each
holding the keys below for some namespaces: part <i>-of-<n> holds those whose hash modulo n is i,
and it splits in two (i and i+n of 2n) only when it outgrows a ConfigMap. A part's report.json is a
%s of its namespaces' reports. The part of a namespace is labelled %s<namespace>:
  kubectl get configmap -n %s -l %s<namespace> -o jsonpath='{.items[0].data.validating-admission-policy\.yaml}'
%sParts: %s
`, len(pl.parts), render.ReportListKind, LabelNamespacePrefix, p.Namespace, LabelNamespacePrefix, where.String(), strings.Join(names, ", "))
}

// leftOut lists what is not published, and how to get it.
func (pl *plan) leftOut() string {
	var b strings.Builder
	for _, f := range pl.excluded {
		fmt.Fprintf(&b, "  %s: all namespaces' renderings pass the policy budget of %d MiB; the command above\n  renders them from the state, and for one namespace:\n    %s\n",
			f.key, pl.p.budget()>>20, pl.p.renderCommand(f, []string{"<namespace>"}))
	}
	for _, f := range formats {
		if names := slices.Sorted(slices.Values(pl.cuts[f.key])); len(names) > 0 {
			fmt.Fprintf(&b, "  %s of %s: more than one ConfigMap holds; the key in its part says how to render it.\n", f.key, namespaceList(names, maxListed))
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nLeft out:\n" + b.String()
}
