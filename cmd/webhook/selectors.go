package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// selectors are the webhook configuration's objectSelector and namespaceSelector expressions
// as serve is told them (the chart passes its values): what the API server sends is what
// backfill and confirmation may learn.
type selectors struct {
	objects    labels.Selector // of pods; labels.Everything() when unset
	namespaces labels.Selector // nil when unset: every namespace not excluded
}

// parseSelectors reads --object-selector (a LabelSelector) and
// --namespace-selector-expressions (a list of match expressions), both JSON.
func parseSelectors(objectJSON, namespaceExpressionsJSON string) (selectors, error) {
	sel := selectors{objects: labels.Everything()}
	if objectJSON != "" {
		var ls metav1.LabelSelector
		if err := yaml.UnmarshalStrict([]byte(objectJSON), &ls); err != nil {
			return sel, fmt.Errorf("--object-selector: %w", err)
		}
		s, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			return sel, fmt.Errorf("--object-selector: %w", err)
		}
		sel.objects = s
	}
	if namespaceExpressionsJSON != "" {
		var exprs []metav1.LabelSelectorRequirement
		if err := yaml.UnmarshalStrict([]byte(namespaceExpressionsJSON), &exprs); err != nil {
			return sel, fmt.Errorf("--namespace-selector-expressions: %w", err)
		}
		if len(exprs) > 0 {
			s, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchExpressions: exprs})
			if err != nil {
				return sel, fmt.Errorf("--namespace-selector-expressions: %w", err)
			}
			sel.namespaces = s
		}
	}
	return sel, nil
}

// pods reports whether the objectSelector selects a pod.
func (s selectors) pods(pod *corev1.Pod) bool { return s.objects.Matches(labels.Set(pod.Labels)) }

// selectedNamespaces lists the namespaces the expressions select (metadata only); nil when
// there are none, meaning every namespace.
func (s selectors) selectedNamespaces(ctx context.Context, r client.Reader) (map[string]bool, error) {
	if s.namespaces == nil {
		return nil, nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.List(ctx, list, client.MatchingLabelsSelector{Selector: s.namespaces}); err != nil {
		return nil, fmt.Errorf("listing the namespaces the webhook selects: %w", err)
	}
	out := make(map[string]bool, len(list.Items))
	for _, ns := range list.Items {
		out[ns.Name] = true
	}
	return out, nil
}
