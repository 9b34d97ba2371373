package check

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/vapeval"
)

// Bounds of the search for offending fields: every probe is one evaluation of the policy, and
// a pod is untrusted input of any size. maxProbes is per workload, shared by its violations.
const (
	maxProbes     = 2000
	maxFields     = 20
	maxValueBytes = 120
)

// containerLists are the pod's container lists, each field of a container named after its list.
var containerLists = []string{"containers", "initContainers", "ephemeralContainers"}

// locate finds the fields of pod that make validation i of p fail: those without which it
// passes, as deep as a single field is to blame. The pod is taken apart in pieces: its
// pod-level fields with no containers, then each container alone with the pod-level culprits
// removed, so that a culprit in one container is found although another container has one too.
func locate(ctx context.Context, p *vapeval.Policy, ns *corev1.Namespace, pod *corev1.Pod, i int, budget *int) []string {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pod)
	if err != nil {
		return nil
	}
	s := &search{ctx: ctx, p: p, ns: ns, validation: i, budget: budget}
	spec, _ := obj["spec"].(map[string]any)
	if spec == nil {
		return nil
	}
	podLevel := runtime.DeepCopyJSON(obj)
	for _, l := range containerLists {
		delete(podLevel["spec"].(map[string]any), l)
	}
	// containers is required: policies may read it without has().
	podLevel["spec"].(map[string]any)["containers"] = []any{}
	var fields []string
	if s.fails(podLevel) {
		var culprits []path
		for _, top := range []path{{"metadata", "annotations"}, {"spec"}} {
			culprits = append(culprits, s.descend(podLevel, top)...)
		}
		if len(culprits) == 0 {
			return nil // the pod-level fields fail together; no container can be tested alone
		}
		// Remove the culprits deepest and last first, so earlier paths stay valid.
		for j := len(culprits) - 1; j >= 0; j-- {
			fields = append(fields, show(podLevel, culprits[j], nil))
		}
		slices.Reverse(fields)
		for j := len(culprits) - 1; j >= 0; j-- {
			remove(podLevel, culprits[j])
		}
	}
	for _, l := range containerLists {
		list, _ := spec[l].([]any)
		for n, c := range list {
			if *s.budget <= 0 {
				// Past the budget every probe fails: nothing more can be told apart.
				return bound(append(fields, fmt.Sprintf("… the rest not searched (%d evaluations per workload at most)", maxProbes)))
			}
			alone := runtime.DeepCopyJSON(podLevel)
			alone["spec"].(map[string]any)[l] = []any{runtime.DeepCopyJSONValue(c)}

			if !s.fails(alone) {
				continue
			}
			root := path{"spec", l, 0}
			found := s.descend(alone, root)
			prefix := fmt.Sprintf("%s[%d]", l, n)
			if len(found) == 0 {
				// No field to remove: one is missing, or has a value not learned (the message
				// says which are). The container is named.
				name, _ := get(alone, append(slices.Clone(root), "name")).(string)
				fields = append(fields, fmt.Sprintf("%s (%s)", prefix, name))
				continue
			}
			for _, f := range found {
				fields = append(fields, show(alone, f, &prefix))
			}
		}
	}
	return bound(fields)
}

func bound(fields []string) []string {
	if len(fields) > maxFields {
		fields = append(fields[:maxFields], fmt.Sprintf("… %d more", len(fields)-maxFields))
	}
	return fields
}

// path is a position in a JSON object: keys (string) and list indexes (int).
type path []any

type search struct {
	ctx        context.Context
	p          *vapeval.Policy
	ns         *corev1.Namespace
	validation int
	budget     *int // probes left
}

// fails says whether the validation fails for obj; past the budget it says yes, so nothing
// more is blamed.
func (s *search) fails(obj map[string]any) bool {
	if *s.budget <= 0 {
		return true
	}
	*s.budget--
	pod := &corev1.Pod{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, pod); err != nil {
		return true
	}
	// A failure of the policy as a whole (-1) hides the validation's own verdict: taken as failing.
	return slices.ContainsFunc(s.p.Evaluate(s.ctx, pod, s.ns), func(d vapeval.Denial) bool {
		return d.Validation == s.validation || d.Validation < 0
	})
}

// descend returns the children of at whose removal alone makes the validation pass, each
// replaced by its own such children where it has any.
func (s *search) descend(obj map[string]any, at path) []path {
	var out []path
	for _, child := range children(get(obj, at), at) {
		without := runtime.DeepCopyJSON(obj)
		remove(without, child)
		if s.fails(without) {
			continue
		}
		if deeper := s.descend(obj, child); len(deeper) > 0 {
			out = append(out, deeper...)
		} else {
			out = append(out, child)
		}
	}
	return out
}

func children(v any, at path) []path {
	var out []path
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, append(slices.Clone(at), k))
		}
	case []any:
		for i := range v {
			out = append(out, append(slices.Clone(at), i))
		}
	}
	return out
}

func get(v any, at path) any {
	for _, step := range at {
		switch s := step.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[s]
		case int:
			l, _ := v.([]any)
			if s >= len(l) {
				return nil
			}
			v = l[s]
		}
	}
	return v
}

func remove(obj map[string]any, at path) {
	parent := get(obj, at[:len(at)-1])
	switch s := at[len(at)-1].(type) {
	case string:
		if m, ok := parent.(map[string]any); ok {
			delete(m, s)
		}
	case int:
		if l, ok := parent.([]any); ok && s < len(l) {
			set(obj, at[:len(at)-1], slices.Delete(slices.Clone(l), s, s+1))
		}
	}
}

func set(obj map[string]any, at path, value any) {
	parent := get(obj, at[:len(at)-1])
	switch s := at[len(at)-1].(type) {
	case string:
		parent.(map[string]any)[s] = value
	case int:
		parent.([]any)[s] = value
	}
}

// show writes a culprit as a user reads it: "hostPID: true",
// "containers[1].securityContext.capabilities.add: SYS_ADMIN" (a scalar of a list is shown
// as a value of the list), "volumes[2]: {…}". Container paths start at the container, named
// by prefix; pod-level ones drop "spec".
func show(obj map[string]any, at path, prefix *string) string {
	value := get(obj, at)
	steps := at
	var b strings.Builder
	if prefix != nil {
		b.WriteString(*prefix)
		steps = at[3:]
	} else if len(at) > 0 && at[0] == "spec" {
		steps = at[1:]
	}
	_, isMap := value.(map[string]any)
	_, isList := value.([]any)
	if len(steps) > 0 && !isMap && !isList {
		if _, index := steps[len(steps)-1].(int); index {
			steps = steps[:len(steps)-1]
		}
	}
	for _, step := range steps {
		switch s := step.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			b.WriteString("[" + strconv.Itoa(s) + "]")
		}
	}
	text, _ := json.Marshal(value)
	if str, ok := value.(string); ok {
		text = []byte(str)
	}
	if len(text) > maxValueBytes {
		text = append(text[:maxValueBytes], "…"...)
	}
	return b.String() + ": " + string(text)
}
