package render

import (
	"io"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// renderVAP writes a ValidatingAdmissionPolicy and its binding per unit. Each learned
// restriction is one validation, so a denied pod's message names the privilege it asked for
// and how the policy learned that nobody needed it.
func renderVAP(w io.Writer, us []*unit, scope string, enforce bool) error {
	s := &stream{w: w}
	s.comment(
		"ValidatingAdmissionPolicies learned by pod-security-advisor, one per "+scopeNoun(scope)+".",
		"Each admits the pods it was learned from and denies anything more privileged.",
	)
	actions := []admv1.ValidationAction{admv1.Warn, admv1.Audit}
	if enforce {
		actions = []admv1.ValidationAction{admv1.Deny}
	}
	for _, u := range us {
		s.doc(vapPolicy(u), evidenceComment(u)...)
		s.doc(vapBinding(u, actions))
	}
	return s.err
}

func vapPolicy(u *unit) *admv1.ValidatingAdmissionPolicy {
	rs, vars := restrictions(u.Profile)
	fail := admv1.Fail
	reason := metav1.StatusReasonForbidden
	p := &admv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: u.Name},
		Spec: admv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			// Pods are checked when created, and again when a debug container is added. A plain
			// pod UPDATE cannot change security fields, and checking it would block label edits on
			// old pods (Pod Security admission exempts such updates too).
			MatchConstraints: &admv1.MatchResources{ResourceRules: []admv1.NamedRuleWithOperations{
				podRule(admv1.Create, "pods"),
				podRule(admv1.Update, "pods/ephemeralcontainers"),
			}},
		},
	}
	if u.ServiceAccount != "" {
		// The ServiceAccount admission plugin fills in "default" before validating admission;
		// the fallback only keeps the expression safe.
		sa := "(has(object.spec.serviceAccountName) ? object.spec.serviceAccountName : 'default')"
		cond := sa + " == " + quote(u.ServiceAccount)
		if u.ServiceAccount == otherAccounts {
			learned := make([]string, len(u.Learned))
			for i, name := range u.Learned {
				learned[i] = quote(name)
			}
			cond = "!(" + sa + " in [" + strings.Join(learned, ", ") + "])"
		}
		p.Spec.MatchConditions = []admv1.MatchCondition{{Name: "service-account", Expression: cond}}
	}
	for _, v := range vars {
		p.Spec.Variables = append(p.Spec.Variables, admv1.Variable{Name: v.name, Expression: v.expr})
	}
	if len(rs) == 0 {
		return p
	}
	if len(rs) == 1 { // its own validation names the one limit
		p.Spec.Validations = []admv1.Validation{{Expression: rs[0].expr, Message: rs[0].message(u), Reason: &reason}}
		return p
	}
	// Each restriction is a variable, evaluated once per pod however many expressions read it,
	// so that the first validation can name in one message every learned limit the pod
	// exceeds: the API server denies with the first failing validation's message only. The
	// validations after it say one limit each (one warning each under [Warn]).
	within, parts := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		name := withinPrefix + r.name
		p.Spec.Variables = append(p.Spec.Variables, admv1.Variable{Name: name, Expression: r.expr})
		within[i] = "variables." + name
		parts[i] = within[i] + " ? '' : " + quote(r.exceeded())
	}
	p.Spec.Validations = append(p.Spec.Validations, admv1.Validation{
		Expression: strings.Join(within, " &&\n"),
		MessageExpression: quote("the pod exceeds the limits learned "+u.where()+": ") +
			" + [\n  " + strings.Join(parts, ",\n  ") + "\n].filter(m, m != '').join('; ') + " + quote("; "+u.learnedFrom()),
		Message: oneLine("the pod exceeds limits learned " + u.where() + ", each named by a validation of policy " + u.Name + "; " + u.learnedFrom()),
		Reason:  &reason,
	})
	for i, r := range rs {
		p.Spec.Validations = append(p.Spec.Validations, admv1.Validation{
			Expression: within[i],
			Message:    r.message(u),
			Reason:     &reason,
		})
	}
	return p
}

// withinPrefix names the variable that holds whether the pod is within one learned limit.
const withinPrefix = "within_"

// Combined reports whether v is a learned VAP's first validation, which fails with every other
// and names them all: a reader that reports validations one by one skips it.
func Combined(v admv1.Validation) bool {
	return v.MessageExpression != "" && strings.HasPrefix(v.Expression, "variables."+withinPrefix) && strings.Contains(v.Expression, "&&")
}

func vapBinding(u *unit, actions []admv1.ValidationAction) *admv1.ValidatingAdmissionPolicyBinding {
	b := &admv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: u.Name},
		Spec: admv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        u.Name,
			ValidationActions: actions,
		},
	}
	if u.Namespace != "" {
		b.Spec.MatchResources = &admv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"kubernetes.io/metadata.name": u.Namespace},
		}}
	}
	return b
}

func podRule(op admv1.OperationType, resource string) admv1.NamedRuleWithOperations {
	return admv1.NamedRuleWithOperations{RuleWithOperations: admv1.RuleWithOperations{
		Operations: []admv1.OperationType{op},
		Rule:       admv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{resource}},
	}}
}
