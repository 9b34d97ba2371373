// Package vapeval evaluates ValidatingAdmissionPolicies against pods offline, with the API
// server's own code (k8s.io/apiserver): its CEL compiler and environment, its binding matcher
// and its validator. Tests, the check command and drift detection thus see the verdict a real
// API server would give, without a cluster: the project's CEL is compiled by `go test`, not
// first by a user's API server.
//
// What it does not model: paramKind policies (the project renders none), audit annotations,
// and the type checking the API server runs against the OpenAPI schema, which only ever warns.
package vapeval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/admission"
	celadmission "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/generic"
	"k8s.io/apiserver/pkg/admission/plugin/policy/matching"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Budgets the API server gives CEL (k8s.io/apiserver/pkg/apis/cel): one policy's evaluation
// for one request, and one expression.
const (
	PolicyBudget     = celconfig.RuntimeCELCostBudget
	ExpressionBudget = celconfig.PerCallLimit
)

var (
	podKind     = corev1.SchemeGroupVersion.WithKind("Pod")
	podResource = corev1.SchemeGroupVersion.WithResource("pods")
	// requester is the user the offline requests come from: the policies read no user.
	requester = &user.DefaultInfo{Name: "pod-security-advisor-offline"}
)

// The variables a policy's expressions may read, as the API server declares them for a policy
// without a paramKind: validations and match conditions may use the authorizer, message
// expressions may not.
var (
	conditionVars = celadmission.OptionalVariableDeclarations{HasAuthorizer: true}
	messageVars   = celadmission.OptionalVariableDeclarations{}
)

// Policy is one ValidatingAdmissionPolicy compiled as the API server compiles it.
type Policy struct {
	spec      *admv1.ValidatingAdmissionPolicy
	matcher   matchconditions.Matcher // nil without match conditions
	validator validating.Validator
	// validations evaluates the validations alone (with the variables), for their cost.
	validations celadmission.ConditionEvaluator
}

// Name is the policy's name.
func (p *Policy) Name() string { return p.spec.Name }

// Spec is the policy as compiled; callers must not modify it.
func (p *Policy) Spec() *admv1.ValidatingAdmissionPolicy { return p.spec }

// Compile compiles every expression of p (variables, match conditions, validations and message
// expressions) in the API server's base environment of this library version. The error names
// each expression that does not compile; a Policy is returned only when all do.
func Compile(p *admv1.ValidatingAdmissionPolicy) (*Policy, error) {
	if p.Spec.ParamKind != nil {
		return nil, fmt.Errorf("policy %s: paramKind is not supported", p.Name)
	}
	compiler, err := celadmission.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return nil, err
	}
	var errs []error
	failed := func(what string, e []error) {
		for _, err := range e {
			errs = append(errs, fmt.Errorf("policy %s: %s: %w", p.Name, what, err))
		}
	}
	for _, v := range p.Spec.Variables {
		res := compiler.CompileAndStoreVariable(&validating.Variable{Name: v.Name, Expression: v.Expression}, conditionVars, environment.StoredExpressions)
		if res.Error != nil {
			failed("variable "+v.Name, []error{res.Error})
		}
	}
	compile := func(what string, accessors []celadmission.ExpressionAccessor, vars celadmission.OptionalVariableDeclarations) celadmission.ConditionEvaluator {
		ev := compiler.CompileCondition(accessors, vars, environment.StoredExpressions)
		failed(what, ev.CompilationErrors())
		return ev
	}
	var validations, messages []celadmission.ExpressionAccessor
	for _, v := range p.Spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason})
		var m celadmission.ExpressionAccessor // a nil entry keeps the messages aligned
		if v.MessageExpression != "" {
			m = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		}
		messages = append(messages, m)
	}
	var matcher matchconditions.Matcher
	if len(p.Spec.MatchConditions) > 0 {
		conds := make([]celadmission.ExpressionAccessor, len(p.Spec.MatchConditions))
		for i := range p.Spec.MatchConditions {
			conds[i] = (*matchconditions.MatchCondition)(&p.Spec.MatchConditions[i])
		}
		matcher = matchconditions.NewMatcher(compile("match conditions", conds, conditionVars), p.Spec.FailurePolicy, "policy", "validate", p.Name)
	}
	// The match conditions are evaluated apart, before the validator (as its Validate would),
	// so that the validator's decisions are always one per validation.
	compiled := &Policy{spec: p, matcher: matcher, validations: compile("validations", validations, conditionVars)}
	compiled.validator = validating.NewValidator(compiled.validations, nil,
		compile("audit annotations", nil, conditionVars), compile("message expressions", messages, messageVars),
		p.Spec.FailurePolicy, nil)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return compiled, nil
}

// Denial is one validation a pod failed, or could not be evaluated for (Error: a runtime
// error or an exhausted budget, which failurePolicy Fail turns into a denial).
type Denial struct {
	Validation int // index in spec.validations; -1 when the policy as a whole failed
	Message    string
	Error      bool
}

// Evaluate runs p on the creation of pod in namespace ns (which supplies namespaceObject and
// must be the pod's), as the API server's validator does once a binding matched. It returns
// the failed validations, in order; none means admitted. Match conditions that exclude the pod
// give none.
func (p *Policy) Evaluate(ctx context.Context, pod *corev1.Pod, ns *corev1.Namespace) []Denial {
	attrs := versioned(pod)
	if p.matcher != nil {
		m := p.matcher.Match(ctx, attrs, nil, nil)
		if m.Error != nil {
			if p.spec.Spec.FailurePolicy != nil && *p.spec.Spec.FailurePolicy == admv1.Ignore {
				return nil
			}
			return []Denial{{Validation: -1, Message: m.Error.Error(), Error: true}}
		}
		if !m.Matches {
			return nil
		}
	}
	res := p.validator.Validate(ctx, podResource, attrs, nil, ns, PolicyBudget, nil)
	var out []Denial
	whole := len(res.Decisions) != len(p.spec.Spec.Validations) // the evaluation as a whole failed
	for i, d := range res.Decisions {
		if d.Action != validating.ActionAdmit {
			if whole {
				i = -1
			}
			out = append(out, Denial{Validation: i, Message: d.Message, Error: d.Evaluation == validating.EvalError})
		}
	}
	return out
}

// Cost is the runtime cost of p's validations (with the variables they read) for pod in ns,
// in the units of PolicyBudget; the evaluation is not cut at the budget.
func (p *Policy) Cost(ctx context.Context, pod *corev1.Pod, ns *corev1.Namespace) (int64, error) {
	const unbounded = int64(1) << 62
	attrs := versioned(pod)
	req := celadmission.CreateAdmissionRequest(attrs.Attributes, metav1.GroupVersionResource(podResource), metav1.GroupVersionKind(podKind))
	results, remaining, err := p.validations.ForInput(ctx, attrs, req, celadmission.OptionalVariableBindings{}, celadmission.CreateNamespaceObject(ns), unbounded)
	if err != nil {
		return 0, err
	}
	for _, r := range results {
		if r.Error != nil {
			return 0, r.Error
		}
	}
	return unbounded - remaining, nil
}

func versioned(pod *corev1.Pod) *admission.VersionedAttributes {
	attrs := admission.NewAttributesRecord(pod, nil, podKind, pod.Namespace, pod.Name, podResource, "", admission.Create,
		&metav1.CreateOptions{}, false, requester)
	return &admission.VersionedAttributes{Attributes: attrs, VersionedObject: admission.NewLazyObject(pod), VersionedKind: podKind}
}

// Set is what a rendering holds: policies, their bindings, and the Namespaces they read.
type Set struct {
	policies   map[string]*Policy
	bindings   []*admv1.ValidatingAdmissionPolicyBinding // sorted by name
	namespaces map[string]*corev1.Namespace
}

// Read decodes a YAML or JSON stream of objects, keeps the ValidatingAdmissionPolicies, their
// bindings and the Namespaces, and compiles the policies. Other kinds are skipped.
func Read(r io.Reader) (*Set, error) { return new(Compiler).Read(r) }

// Compiler reads renderings and compiles each distinct policy once: a program that reads many
// renderings of one shared policy (vap-shared: the same policy, other Namespaces) compiles it
// once. It keeps every policy it compiled; the zero value is ready.
type Compiler struct {
	compiled map[string]*Policy // by the policy's JSON encoding
}

// Compile is the package's Compile, once per distinct policy.
func (c *Compiler) Compile(p *admv1.ValidatingAdmissionPolicy) (*Policy, error) {
	key, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if compiled, ok := c.compiled[string(key)]; ok {
		return compiled, nil
	}
	compiled, err := Compile(p)
	if err != nil {
		return nil, err
	}
	if c.compiled == nil {
		c.compiled = map[string]*Policy{}
	}
	c.compiled[string(key)] = compiled
	return compiled, nil
}

// Read is the package's Read, compiling with c.
func (c *Compiler) Read(r io.Reader) (*Set, error) {
	s := &Set{policies: map[string]*Policy{}, namespaces: map[string]*corev1.Namespace{}}
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var errs []error
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var into any
		switch u.GetKind() {
		case "ValidatingAdmissionPolicy":
			into = &admv1.ValidatingAdmissionPolicy{}
		case "ValidatingAdmissionPolicyBinding":
			into = &admv1.ValidatingAdmissionPolicyBinding{}
		case "Namespace":
			into = &corev1.Namespace{}
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
			return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
		switch o := into.(type) {
		case *admv1.ValidatingAdmissionPolicy:
			p, err := c.Compile(o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.policies[o.Name] = p
		case *admv1.ValidatingAdmissionPolicyBinding:
			s.bindings = append(s.bindings, o)
		case *corev1.Namespace:
			s.namespaces[o.Name] = o
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(s.bindings, func(a, b *admv1.ValidatingAdmissionPolicyBinding) int { return strings.Compare(a.Name, b.Name) })
	return s, nil
}

// Policies lists the set's compiled policies by name.
func (s *Set) Policies() map[string]*Policy { return s.policies }

// Decision is what one binding made of a pod.
type Decision struct {
	Policy, Binding string
	Actions         []admv1.ValidationAction
	Denials         []Denial
}

// Denies says whether the decision rejects the pod: a failed validation bound with Deny.
func (d Decision) Denies() bool {
	return len(d.Denials) > 0 && slices.Contains(d.Actions, admv1.Deny)
}

// Namespace returns the Namespace the set has for name, or the one the API server gives every
// namespace that carries nothing else: the kubernetes.io/metadata.name label.
func (s *Set) Namespace(name string) *corev1.Namespace {
	if ns, ok := s.namespaces[name]; ok {
		ns = ns.DeepCopy()
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = name
		return ns
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelMetadataName: name}}}
}

// Evaluate decides the creation of pod (in pod.Namespace) by every binding whose policy and
// match resources select it, with the API server's matcher, in binding name order. The pod is
// taken as the API server has it at validating admission: defaulted, mutated.
func (s *Set) Evaluate(ctx context.Context, pod *corev1.Pod) ([]Decision, error) {
	ns := s.Namespace(pod.Namespace)
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(ns); err != nil {
		return nil, err
	}
	// Every lookup is of ns, which the lister holds: no client is needed.
	m := generic.NewPolicyMatcher(matching.NewMatcher(corelisters.NewNamespaceLister(indexer), nil))
	attrs := versioned(pod).Attributes
	objects := admission.NewObjectInterfacesFromScheme(scheme.Scheme)
	var out []Decision
	for _, b := range s.bindings {
		p, ok := s.policies[b.Spec.PolicyName]
		if !ok {
			continue // as the API server, a binding of a missing policy does nothing
		}
		match, _, _, err := m.DefinitionMatches(attrs, objects, validating.NewValidatingAdmissionPolicyAccessor(withSelectors(p.spec)))
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.Name(), err)
		}
		if !match {
			continue
		}
		match, err = m.BindingMatches(attrs, objects, validating.NewValidatingAdmissionPolicyBindingAccessor(bindingWithSelectors(b)))
		if err != nil {
			return nil, fmt.Errorf("binding %s: %w", b.Name, err)
		}
		if !match {
			continue
		}
		out = append(out, Decision{Policy: p.Name(), Binding: b.Name, Actions: b.Spec.ValidationActions, Denials: p.Evaluate(ctx, pod, ns)})
	}
	return out, nil
}

// Denied says whether any decision rejects the pod.
func Denied(ds []Decision) bool { return slices.ContainsFunc(ds, Decision.Denies) }

// withSelectors and bindingWithSelectors default the selectors the API server defaults on
// storage (an absent selector selects everything; matchPolicy is Equivalent).
func withSelectors(p *admv1.ValidatingAdmissionPolicy) *admv1.ValidatingAdmissionPolicy {
	p = p.DeepCopy()
	if p.Spec.MatchConstraints == nil {
		p.Spec.MatchConstraints = &admv1.MatchResources{}
	}
	defaultSelectors(p.Spec.MatchConstraints)
	return p
}

func bindingWithSelectors(b *admv1.ValidatingAdmissionPolicyBinding) *admv1.ValidatingAdmissionPolicyBinding {
	b = b.DeepCopy()
	if b.Spec.MatchResources != nil {
		defaultSelectors(b.Spec.MatchResources)
	}
	return b
}

func defaultSelectors(m *admv1.MatchResources) {
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
	if m.MatchPolicy == nil {
		equivalent := admv1.Equivalent
		m.MatchPolicy = &equivalent
	}
}
