package chart

import (
	"strings"
	"testing"
)

// TestSchemaRejects: values.schema.json turns typical mistakes into install errors.
func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct{ values, field string }{
		{`replicas: two`, "replicas"},
		{`replicas: -1`, "replicas"},
		{`replica: 2`, "replica"}, // misspelt key
		{`webhook: {failurePolicy: Sometimes}`, "failurePolicy"},
		{`webhook: {failurePolicy: Fail}`, "failurePolicy"}, // audit-only: never blocks a pod
		{`webhook: {timeoutSeconds: 31}`, "timeoutSeconds"},
		{`webhook: {url: "http://127.0.0.1:9443/validate-pods"}`, "url"},
		{`tls: {minVersion: "1.1"}`, "minVersion"},
		{`tls: {minVersion: 1.2}`, "minVersion"}, // a YAML number, not the string "1.2"
		{`logging: {format: text}`, "format"},
		{`logging: {level: verbose}`, "level"},
		{`learning: {flushInterval: 10}`, "flushInterval"},
		{`learning: {scope: workload}`, "scope"},
		{`learning: {excludedNamespaces: [Kube_System]}`, "excludedNamespaces"},
		{`learning: {maxWorkloads: 0}`, "maxWorkloads"},
		{`certManager: {enabled: "yes"}`, "enabled"},
		{`certManager: {extraIPAddresses: [localhost]}`, "extraIPAddresses"},
		{`terminationGracePeriodSeconds: 5`, "terminationGracePeriodSeconds"},
		{`image: {pullPolicy: Sometimes}`, "pullPolicy"},
		{`extraArgs: [serve]`, "extraArgs"},
		{`resources: {limits: {memory: abc}}`, "memory"},
		{`resources: {limit: {memory: 1Gi}}`, "limit"},
		{`revisionHistoryLimit: -1`, "revisionHistoryLimit"},
		{`hostNetwork: "yes"`, "hostNetwork"},
		{`extraEnv: [{value: "1"}]`, "extraEnv"},
		{`extraEnv: {GOMEMLIMIT: 1GiB}`, "extraEnv"},
		{`extraVolumes: [{configMap: {name: ca}}]`, "extraVolumes"},
		{`extraVolumeMounts: [{name: ca}]`, "extraVolumeMounts"},
		{`podSecurityContext: [runAsUser]`, "podSecurityContext"},
		{`containerSecurityContext: "restricted"`, "containerSecurityContext"},
		{`service: {annotations: {a: 1}}`, "annotations"},
		{`service: {type: NodePort}`, "type"},
		{`webhook: {annotations: [a]}`, "annotations"},
		{`serviceAccount: {create: "no"}`, "create"},
		{`podDisruptionBudget: {maxUnavailable: 1.5}`, "maxUnavailable"},
		{`podDisruptionBudget: {maxUnavailable: half}`, "maxUnavailable"},
	} {
		_, err := renderChart(releaseName, releaseNamespace, parseValues(t, tc.values))
		if err == nil {
			t.Errorf("%s: accepted", tc.values)
		} else if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error does not name %s: %v", tc.values, tc.field, err)
		}
	}
}

// TestSchemaAccepts: the documented alternatives render.
func TestSchemaAccepts(t *testing.T) {
	for _, values := range []string{
		`logging: {level: 2}`,
		`logging: {level: debug, format: console}`,
		`tls: {minVersion: "1.3"}`,
		`podDisruptionBudget: {minAvailable: "50%"}`,
		`replicas: 1`,
		`learning: {excludedNamespaces: []}`,
		`image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`,
		`certManager: {extraIPAddresses: ["::1", 10.0.0.1]}`,
		`global: {imageRegistry: example.com}`,
		`fullnameOverride: psa`,
		`webhook: {failurePolicy: Ignore}`,
		`podDisruptionBudget: {maxUnavailable: 1}`,
		`revisionHistoryLimit: 0`,
		`serviceAccount: {create: false, name: existing}`,
		`resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 2Gi}}`,
	} {
		if _, err := renderChart(releaseName, releaseNamespace, parseValues(t, values)); err != nil {
			t.Errorf("%s: %v", values, err)
		}
	}
}
