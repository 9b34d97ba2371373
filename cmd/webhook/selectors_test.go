package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The selectors as the chart passes them (toJson of its values) select what the API server
// would; malformed ones stop serve with the flag's name.
func TestParseSelectors(t *testing.T) {
	sel, err := parseSelectors(`{"matchExpressions":[{"key":"app","operator":"In","values":["web","a.b"]}],"matchLabels":{"tier":"front"}}`,
		`[{"key":"team","operator":"Exists"}]`)
	if err != nil {
		t.Fatal(err)
	}
	pod := func(l map[string]string) *corev1.Pod { return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: l}} }
	if !sel.pods(pod(map[string]string{"app": "a.b", "tier": "front"})) || sel.pods(pod(map[string]string{"app": "web"})) {
		t.Errorf("objectSelector %s selects the wrong pods", sel.objects)
	}
	if !sel.namespaces.Matches(labels.Set{"team": "x"}) || sel.namespaces.Matches(labels.Set{"other": "x"}) {
		t.Errorf("namespace selector %s", sel.namespaces)
	}

	none, err := parseSelectors("", "")
	if err != nil || !none.pods(pod(nil)) || none.namespaces != nil {
		t.Errorf("no selectors: %v, %v", none, err)
	}
	for _, bad := range []struct{ object, namespaces, flag string }{
		{`{"matchExpressions":[{"key":"app","operator":"Near"}]}`, "", "--object-selector"},
		{`{"matchLabel":{}}`, "", "--object-selector"},
		{"", `{"key":"team"}`, "--namespace-selector-expressions"},
		{"", `[{"key":"team","operator":"In"}]`, "--namespace-selector-expressions"},
	} {
		if _, err := parseSelectors(bad.object, bad.namespaces); err == nil || !strings.Contains(err.Error(), bad.flag) {
			t.Errorf("%s %s: %v, want an error naming %s", bad.object, bad.namespaces, err, bad.flag)
		}
	}
}
