package chart

import (
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current chart")

const (
	chartDir = "../../charts/pod-security-advisor"
	certsDir = "../../certs"

	// The release most tests render: its fullname differs from the chart name, so the tests
	// see that every name is derived from the release.
	releaseName      = "advisor"
	releaseNamespace = "security"
	fullname         = "advisor-pod-security-advisor"
	policyConfigMap  = fullname + "-policy"
	webhookService   = fullname + "-webhook"
	servingSecret    = fullname + "-serving-cert"

	// kubeVersion is what the chart is rendered and linted for (the e2e control plane's).
	kubeVersion = "v1.37.2"
)

// Value sets rendered by the golden test and checked by the others.
const (
	valuesDefault = ``
	// No cert-manager: the chart generates a CA and serving certificate.
	valuesGenerated = `
certManager:
  enabled: false
`
	// An existing TLS Secret and its CA.
	valuesExisting = `
certManager:
  enabled: false
tls:
  existingSecret: advisor-tls
  caBundle: |
    -----BEGIN CERTIFICATE-----
    MIIBdDCCARqgAwIBAgIBATAKBggqhkjOPQQDAjAQMQ4wDAYDVQQDEwV0ZXN0czAe
    -----END CERTIFICATE-----
`
	// The webhook runs outside the cluster (the e2e suite, make demo).
	valuesURL = `
replicas: 0
webhook:
  url: https://127.0.0.1:9443/validate-pods
certManager:
  extraIPAddresses:
    - 127.0.0.1
`
)

var valueSets = []struct{ name, values string }{
	{"default", valuesDefault},
	{"generated-certs", valuesGenerated},
	{"existing-secret", valuesExisting},
	{"webhook-url", valuesURL},
	{"custom", valuesCustom},
	{"uninstall", valuesUninstall},
}

func parseValues(t testing.TB, text string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(text))
	if err != nil {
		t.Fatalf("values %q: %v", text, err)
	}
	return vals
}

// renderChart renders the chart as `helm install --dry-run` would, with Helm's engine in
// strict mode (a template reading a value that does not exist fails). It returns the rendered
// files by template path, relative to the chart (templates/deployment.yaml).
func renderChart(name, namespace string, values map[string]any) (map[string]string, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	rv, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{
		Name: name, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	out, err := engine.Engine{Strict: true}.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for path, text := range out {
		rel := strings.TrimPrefix(path, ch.Name()+"/")
		if strings.HasPrefix(filepath.Base(rel), "_") {
			continue
		}
		files[rel] = text
	}
	return files, nil
}

func mustRender(t testing.TB, name, namespace, values string) map[string]string {
	t.Helper()
	files, err := renderChart(name, namespace, parseValues(t, values))
	if err != nil {
		t.Fatalf("rendering with values %q: %v", values, err)
	}
	return files
}

// doc is one YAML document of the rendered manifests.
type doc struct {
	Source     string
	Raw        []byte
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// manifests splits the rendered files (NOTES.txt excluded) into documents, in file order.
func manifests(t testing.TB, files map[string]string) []doc {
	t.Helper()
	var docs []doc
	for _, path := range slices.Sorted(maps.Keys(files)) {
		if strings.HasSuffix(path, "NOTES.txt") {
			continue
		}
		for _, part := range docSeparator.Split(files[path], -1) {
			if isBlank(part) {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(part), &head); err != nil {
				t.Fatalf("%s: invalid YAML: %v\n%s", path, err, part)
			}
			if head.Kind == "" || head.APIVersion == "" || head.Metadata.Name == "" {
				t.Fatalf("%s: document without apiVersion, kind or name:\n%s", path, part)
			}
			docs = append(docs, doc{Source: path, Raw: []byte(part), APIVersion: head.APIVersion, Kind: head.Kind,
				Name: head.Metadata.Name, Namespace: head.Metadata.Namespace})
		}
	}
	return docs
}

// isBlank is true for a document holding only whitespace and comments.
func isBlank(part string) bool {
	for line := range strings.SplitSeq(part, "\n") {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
			return false
		}
	}
	return true
}

// object decodes the document of that kind and name strictly (unknown fields fail) into T.
func object[T any](t testing.TB, docs []doc, kind, name string) *T {
	t.Helper()
	for _, d := range docs {
		if d.Kind == kind && d.Name == name {
			obj := new(T)
			if err := yaml.UnmarshalStrict(d.Raw, obj); err != nil {
				t.Fatalf("%s %s (%s): %v", kind, name, d.Source, err)
			}
			return obj
		}
	}
	t.Fatalf("no %s %s rendered; have %s", kind, name, inventory(docs))
	return nil
}

func has(docs []doc, kind, name string) bool {
	return slices.ContainsFunc(docs, func(d doc) bool { return d.Kind == kind && d.Name == name })
}

func inventory(docs []doc) string {
	var s []string
	for _, d := range docs {
		s = append(s, fmt.Sprintf("%s/%s", d.Kind, d.Name))
	}
	return strings.Join(s, ", ")
}
