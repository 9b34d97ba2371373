package chart

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

func runLint(t *testing.T, values string) []support.Message {
	t.Helper()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	return lint.AllWithKubeVersion(chartDir, parseValues(t, values), releaseNamespace, kv).Messages
}

// TestLint is `helm lint --strict`: no errors and no warnings, for every value set.
func TestLint(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			for _, m := range runLint(t, vs.values) {
				if m.Severity >= support.WarningSev {
					t.Errorf("%s", m)
				} else {
					t.Logf("%s", m)
				}
			}
		})
	}
}

// TestLintRejectsBadValues: helm lint reports the schema violation as an error.
func TestLintRejectsBadValues(t *testing.T) {
	var errs []string
	for _, m := range runLint(t, "replicas: two\n") {
		if m.Severity == support.ErrorSev {
			errs = append(errs, m.Error())
		}
	}
	if !strings.Contains(strings.Join(errs, "\n"), "replicas") {
		t.Fatalf("lint with replicas: two: want a schema error naming replicas, got %q", errs)
	}
}
