package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/admission"
	celadmission "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// BenchmarkVAPEval evaluates the policy learned for one namespace (TestVAPCost's first one)
// against the restricted pod, in process, with the API server's own ValidatingAdmissionPolicy
// code: what one bound policy costs each pod create, without the noise of a shared machine.
// No control plane is needed: go test ./bench -run '^$' -bench VAPEval
func BenchmarkVAPEval(b *testing.B) {
	for _, format := range []string{render.FormatVAP, render.FormatVAPShared} {
		b.Run(format, func(b *testing.B) {
			const ns = nsPrefix + "0000"
			policy, namespace := learnedPolicy(b, ns, format)
			validator := compile(policy)
			pod := restrictedPod(ns)
			defaulting.Apply(pod) // as the API server has it at validating admission
			gvk := corev1.SchemeGroupVersion.WithKind("Pod")
			gvr := corev1.SchemeGroupVersion.WithResource("pods")
			for b.Loop() {
				attrs := admission.NewAttributesRecord(pod, nil, gvk, ns, pod.Name, gvr, "", admission.Create,
					&metav1.CreateOptions{}, true, &user.DefaultInfo{Name: "bench"})
				versioned := &admission.VersionedAttributes{Attributes: attrs, VersionedObject: admission.NewLazyObject(pod), VersionedKind: gvk}
				res := validator.Validate(context.Background(), gvr, versioned, nil, namespace, celconfig.RuntimeCELCostBudget, nil)
				for _, d := range res.Decisions {
					if d.Action != validating.ActionAdmit {
						b.Fatalf("the restricted pod is not admitted: %s %s", d.Evaluation, d.Message)
					}
				}
			}
		})
	}
}

// learnedPolicy renders the enforcing policy learned for ns (as TestVAPCost learns it) and the
// Namespace it is evaluated with: labelled and annotated as rendered, for vap-shared.
func learnedPolicy(b *testing.B, ns, format string) (*admv1.ValidatingAdmissionPolicy, *corev1.Namespace) {
	var out bytes.Buffer
	if err := render.Render(&out, learned([]string{ns}), render.Options{Format: format, Enforce: true}); err != nil {
		b.Fatal(err)
	}
	var policy *admv1.ValidatingAdmissionPolicy
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{corev1.LabelMetadataName: ns}}}
	dec := utilyaml.NewYAMLOrJSONDecoder(&out, 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		var into any
		switch u.GetKind() {
		case "ValidatingAdmissionPolicy":
			policy = &admv1.ValidatingAdmissionPolicy{}
			into = policy
		case "Namespace":
			into = namespace
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
			b.Fatal(err)
		}
	}
	if policy == nil {
		b.Fatalf("no policy rendered in format %s", format)
	}
	return policy, namespace
}

// compile builds the policy's validator as the API server's plugin does (its compilePolicy):
// variables, validations and message expressions, in the base environment of this version.
func compile(p *admv1.ValidatingAdmissionPolicy) validating.Validator {
	vars := celadmission.OptionalVariableDeclarations{HasParams: false, HasAuthorizer: true}
	compiler, err := celadmission.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return validating.NewValidator(nil, nil, nil, nil, p.Spec.FailurePolicy, err)
	}
	var variables []celadmission.NamedExpressionAccessor
	for _, v := range p.Spec.Variables {
		variables = append(variables, &validating.Variable{Name: v.Name, Expression: v.Expression})
	}
	compiler.CompileAndStoreVariables(variables, vars, environment.StoredExpressions)
	var validations, messages []celadmission.ExpressionAccessor
	for _, v := range p.Spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason})
		if v.MessageExpression != "" {
			messages = append(messages, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression})
		} else {
			messages = append(messages, nil)
		}
	}
	return validating.NewValidator(
		compiler.CompileCondition(validations, vars, environment.StoredExpressions), nil,
		compiler.CompileCondition(nil, vars, environment.StoredExpressions),
		compiler.CompileCondition(messages, celadmission.OptionalVariableDeclarations{}, environment.StoredExpressions),
		p.Spec.FailurePolicy, nil)
}
