package precision

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/vapeval"
)

// The offline evaluator (package vapeval, the API server's CEL code in process) against the
// real API server: the self-admission and escalation tests also evaluate each dry-run pod
// offline, and count the pods on which the two verdicts agree.

// compiler compiles each distinct policy once (vap-shared's is the same in every namespace).
var compiler vapeval.Compiler

// offlineSet compiles the objects of v (policy, binding, and the Namespace for vap-shared).
func offlineSet(t *testing.T, v vap) *vapeval.Set {
	t.Helper()
	var stream bytes.Buffer
	for _, obj := range []*unstructured.Unstructured{v.policy, v.binding, v.namespace} {
		if obj == nil {
			continue
		}
		data, err := obj.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		stream.Write(append(data, '\n'))
	}
	s, err := compiler.Read(&stream)
	if err != nil {
		t.Fatalf("compiling %s offline: %v", v.name(), err)
	}
	return s
}

// offline is a tally of agreement between the two evaluators, and the sets to evaluate with.
type offline struct {
	*tally
	sets []*vapeval.Set
}

func newOffline(t *testing.T, figure string, invalid map[string]string, vaps []vap) *offline {
	o := &offline{tally: &tally{figure: figure + " offline agreement", invalid: invalid}}
	for _, v := range vaps {
		o.sets = append(o.sets, offlineSet(t, v))
	}
	return o
}

// compare evaluates pod offline with the i-th set, as the API server has it at validating
// admission (package defaulting), and records whether the verdict is the API server's (real).
func (o *offline) compare(fixture string, i int, pod *corev1.Pod, real outcome, msg string) {
	pod = pod.DeepCopy()
	defaulting.Apply(pod)
	ds, err := o.sets[i].Evaluate(context.Background(), pod)
	if err != nil {
		o.record(fixture, false, "offline: "+err.Error())
		return
	}
	denied := vapeval.Denied(ds)
	switch real {
	case admitted:
		o.record(fixture, !denied, fmt.Sprintf("admitted by the API server, denied offline: %v", ds))
	case deniedByPolicy, policyError:
		o.record(fixture, denied, "denied by the API server ("+msg+"), admitted offline")
	default:
		o.record(fixture, false, "the API server rejected it otherwise: "+msg)
	}
}
