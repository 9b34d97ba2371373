// Package check decides, before anything is applied, whether the pods of a set of manifests
// would pass a learned policy: the `check` command.
//
// Why here and not in the API server: a developer wants every violation of a change before
// merging it, where the API server stops at the first denied object. The verdict is the API
// server's own: the policy is the rendered ValidatingAdmissionPolicy (learned state is rendered
// first), compiled and evaluated in process by package vapeval, so check follows whatever the
// policy says, message expressions included. The offending fields are found afterwards by
// taking the failing pod apart (locate.go); they explain a verdict, they never make one.
package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/internal/state"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/manifest"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/vapeval"
)

// Verdicts of one workload.
const (
	Pass    = "pass"
	Denied  = "denied"
	Unbound = "no-policy" // no binding of the policy selects the pod: the API server admits it
)

// LoadPolicy reads a policy: a rendering with ValidatingAdmissionPolicies (vap or vap-shared),
// or learned state (an aggregate, state ConfigMaps, JSON or YAML), which is rendered as an
// enforced vap of the given scope.
func LoadPolicy(data []byte, scope string) (*vapeval.Set, error) {
	rendered, err := hasPolicies(data)
	if err != nil {
		return nil, err
	}
	if !rendered {
		agg, err := state.Read(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := render.Render(&buf, agg, render.Options{Format: render.FormatVAP, Scope: scope, Enforce: true}); err != nil {
			return nil, err
		}
		data = buf.Bytes()
	}
	set, err := vapeval.Read(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(set.Policies()) == 0 {
		return nil, errors.New("no ValidatingAdmissionPolicy in the policy (nothing learned?)")
	}
	return set, nil
}

// hasPolicies says whether data is a stream holding a ValidatingAdmissionPolicy.
func hasPolicies(data []byte) (bool, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("not YAML or JSON: %w", err)
		}
		if u.GetKind() == "ValidatingAdmissionPolicy" {
			return true, nil
		}
	}
}

// Workload is the verdict on one pod template of the manifests.
type Workload struct {
	Source     string      `json:"source"`
	Document   int         `json:"document"`
	Namespace  string      `json:"namespace"`
	Kind       string      `json:"kind"`
	Name       string      `json:"name"`
	Verdict    string      `json:"verdict"`
	Violations []Violation `json:"violations,omitempty"`
}

// Violation is one validation the pod fails.
type Violation struct {
	Policy  string `json:"policy"`
	Binding string `json:"binding"`
	// Validation is the index in the policy's spec.validations; -1 when the policy as a whole
	// failed (a match condition's error).
	Validation int    `json:"validation"`
	Message    string `json:"message"`
	// Enforced says that the binding denies (validationActions Deny), not only warns or audits.
	Enforced bool `json:"enforced"`
	// Fields are the pod's fields without which the validation passes:
	// "containers[1].securityContext.capabilities.add: SYS_ADMIN"; a container alone,
	// "containers[0] (web)", when no field of it is to remove (a required field is missing, or
	// a value was not learned: the message says what was). Empty when the pod-level fields
	// fail only together.
	Fields []string `json:"fields,omitempty"`
}

// Result is the verdict on every workload, in input order.
type Result struct {
	Workloads []Workload `json:"workloads"`
	Passed    int        `json:"passed"`
	Denied    int        `json:"denied"`
	Unbound   int        `json:"noPolicy"`
}

// Check evaluates the pod of every object, defaulted as the API server would, against set.
// A workload is denied when any validation of a binding that selects it fails, whatever that
// binding's actions: check answers whether the learned policy admits the pod.
func Check(ctx context.Context, set *vapeval.Set, objects []manifest.Object) (*Result, error) {
	res := &Result{Workloads: []Workload{}}
	for _, o := range objects {
		pod := o.Pod.DeepCopy()
		defaulting.Apply(pod)
		ds, err := set.Evaluate(ctx, pod)
		if err != nil {
			return nil, fmt.Errorf("%s document %d: %w", o.Source, o.Document, err)
		}
		w := Workload{Source: o.Source, Document: o.Document, Namespace: pod.Namespace, Kind: o.Owner.Kind, Name: o.Owner.Name, Verdict: Pass}
		if len(ds) == 0 {
			w.Verdict = Unbound
		}
		budget := maxProbes
		for _, d := range ds {
			p := set.Policies()[d.Policy]
			for _, x := range d.Denials {
				if x.Validation >= 0 && render.Combined(p.Spec().Spec.Validations[x.Validation]) {
					continue // the validations after it say each limit
				}
				v := Violation{Policy: d.Policy, Binding: d.Binding, Validation: x.Validation, Message: x.Message, Enforced: d.Denies()}
				if x.Validation >= 0 && !x.Error {
					v.Fields = locate(ctx, p, set.Namespace(pod.Namespace), pod, x.Validation, &budget)
				}
				w.Violations = append(w.Violations, v)
			}
		}
		if len(w.Violations) > 0 {
			w.Verdict = Denied
		}
		switch w.Verdict {
		case Pass:
			res.Passed++
		case Denied:
			res.Denied++
		default:
			res.Unbound++
		}
		res.Workloads = append(res.Workloads, w)
	}
	return res, nil
}
