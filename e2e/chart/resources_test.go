package chart

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/internal/rbac"
)

// policyKeys are the keys of the policy ConfigMap (pkg/policy.Keys, and README), the contract
// users rely on: NOTES.txt shows how to fetch each.
var policyKeys = []string{
	"README",
	"gatekeeper.yaml",
	"pod-security-policy.yaml",
	"pod-security-standards.yaml",
	"report.json",
	"validating-admission-policy.yaml",
}

// Kinds the chart may render, each decoded strictly: a misspelt field fails the test.
var typedKinds = map[string]func() any{
	"ServiceAccount":                 func() any { return &corev1.ServiceAccount{} },
	"Service":                        func() any { return &corev1.Service{} },
	"Secret":                         func() any { return &corev1.Secret{} },
	"Pod":                            func() any { return &corev1.Pod{} },
	"Deployment":                     func() any { return &appsv1.Deployment{} },
	"Job":                            func() any { return &batchv1.Job{} },
	"PodDisruptionBudget":            func() any { return &policyv1.PodDisruptionBudget{} },
	"Role":                           func() any { return &rbacv1.Role{} },
	"RoleBinding":                    func() any { return &rbacv1.RoleBinding{} },
	"ClusterRole":                    func() any { return &rbacv1.ClusterRole{} },
	"ClusterRoleBinding":             func() any { return &rbacv1.ClusterRoleBinding{} },
	"ValidatingWebhookConfiguration": func() any { return &admissionv1.ValidatingWebhookConfiguration{} },
	"NetworkPolicy":                  func() any { return &networkingv1.NetworkPolicy{} },
}

// Custom resources: cert-manager and prometheus-operator, checked field by field elsewhere.
var customKinds = map[string]string{
	"Issuer":         "cert-manager.io/v1",
	"Certificate":    "cert-manager.io/v1",
	"ServiceMonitor": "monitoring.coreos.com/v1",
}

func TestManifestsDecodeStrictly(t *testing.T) {
	sets := append(slices.Clone(valueSets), struct{ name, values string }{"servicemonitor", "metrics:\n  serviceMonitor:\n    enabled: true\n"})
	for _, vs := range sets {
		t.Run(vs.name, func(t *testing.T) {
			seen := map[string]bool{}
			for _, d := range manifests(t, mustRender(t, releaseName, releaseNamespace, vs.values)) {
				key := d.Kind + "/" + d.Name
				if seen[key] {
					t.Errorf("%s rendered twice", key)
				}
				seen[key] = true
				if clusterScoped := d.Kind == "ClusterRole" || d.Kind == "ClusterRoleBinding" || d.Kind == "ValidatingWebhookConfiguration"; clusterScoped != (d.Namespace == "") ||
					(!clusterScoped && d.Namespace != releaseNamespace) {
					t.Errorf("%s: namespace %q", key, d.Namespace)
				}
				if !strings.HasPrefix(d.Name, fullname) {
					t.Errorf("%s: name does not start with the fullname %s", key, fullname)
				}
				if apiVersion, ok := customKinds[d.Kind]; ok {
					if d.APIVersion != apiVersion {
						t.Errorf("%s: apiVersion %s, want %s", key, d.APIVersion, apiVersion)
					}
					continue
				}
				newObj, ok := typedKinds[d.Kind]
				if !ok {
					t.Errorf("%s: unexpected kind", key)
					continue
				}
				if err := yaml.UnmarshalStrict(d.Raw, newObj()); err != nil {
					t.Errorf("%s: %v", key, err)
				}
			}
		})
	}
}

// TestRBACLeastPrivilege compares the chart's rules with what the code needs (internal/rbac,
// derived from the owner kinds the webhook watches): a grant beyond it is an over-grant, one
// short of it breaks the webhook. Both fail.
func TestRBACLeastPrivilege(t *testing.T) {
	docs := manifests(t, mustRender(t, releaseName, releaseNamespace, valuesDefault))

	role := object[rbacv1.Role](t, docs, "Role", fullname)
	checkRules(t, "Role", role.Rules, rbac.NamespaceRules())
	cr := object[rbacv1.ClusterRole](t, docs, "ClusterRole", fullname)
	checkRules(t, "ClusterRole", cr.Rules, rbac.ClusterRules(false))
	// Backfill lists the namespaces the webhook's namespaceSelector expressions select.
	selecting := object[rbacv1.ClusterRole](t, manifests(t, mustRender(t, releaseName, releaseNamespace,
		"webhook: {namespaceSelectorExpressions: [{key: team, operator: Exists}]}")), "ClusterRole", fullname)
	checkRules(t, "ClusterRole with namespaceSelectorExpressions", selecting.Rules, rbac.ClusterRules(true))
	if cr.AggregationRule != nil {
		t.Error("ClusterRole aggregates other roles")
	}

	sa := []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: releaseNamespace}}
	rb := object[rbacv1.RoleBinding](t, docs, "RoleBinding", fullname)
	if !reflect.DeepEqual(rb.Subjects, sa) || rb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: fullname}) {
		t.Errorf("RoleBinding: %+v -> %+v", rb.Subjects, rb.RoleRef)
	}
	crb := object[rbacv1.ClusterRoleBinding](t, docs, "ClusterRoleBinding", fullname)
	if !reflect.DeepEqual(crb.Subjects, sa) || crb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: fullname}) {
		t.Errorf("ClusterRoleBinding: %+v -> %+v", crb.Subjects, crb.RoleRef)
	}
	dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
	if got := dep.Spec.Template.Spec.ServiceAccountName; got != fullname {
		t.Errorf("Deployment runs as ServiceAccount %q, want %q", got, fullname)
	}

	// The helm-test Pod may only read the policy ConfigMap.
	testRole := object[rbacv1.Role](t, docs, "Role", fullname+"-test")
	wantTest := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{policyConfigMap}, Verbs: []string{"get"}}}
	if !reflect.DeepEqual(testRole.Rules, wantTest) {
		t.Errorf("test Role rules: %+v", testRole.Rules)
	}

	// No other RBAC object, no wildcard anywhere.
	for _, d := range docs {
		if strings.HasSuffix(d.Kind, "Role") && d.Name != fullname && d.Name != fullname+"-test" {
			t.Errorf("unexpected %s %s", d.Kind, d.Name)
		}
		if strings.HasSuffix(d.Kind, "Role") && strings.Contains(string(d.Raw), `"*"`) {
			t.Errorf("%s %s has a wildcard", d.Kind, d.Name)
		}
	}

}

func checkRules(t *testing.T, what string, granted, needed []rbacv1.PolicyRule) {
	t.Helper()
	excess, missing := rbac.Compare(granted, needed)
	if len(excess) > 0 {
		t.Errorf("%s grants what the code never uses: %v", what, excess)
	}
	if len(missing) > 0 {
		t.Errorf("%s lacks what the code needs: %v", what, missing)
	}
}

func webhookConfig(t *testing.T, values string) (*admissionv1.ValidatingWebhookConfiguration, admissionv1.ValidatingWebhook) {
	t.Helper()
	vwc := object[admissionv1.ValidatingWebhookConfiguration](t, manifests(t, mustRender(t, releaseName, releaseNamespace, values)), "ValidatingWebhookConfiguration", fullname)
	if len(vwc.Webhooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(vwc.Webhooks))
	}
	return vwc, vwc.Webhooks[0]
}

func TestWebhookConfiguration(t *testing.T) {
	vwc, wh := webhookConfig(t, valuesDefault)

	if wh.FailurePolicy == nil || *wh.FailurePolicy != admissionv1.Ignore {
		t.Errorf("failurePolicy %v, want Ignore", wh.FailurePolicy)
	}
	if wh.SideEffects == nil || *wh.SideEffects != admissionv1.SideEffectClassNoneOnDryRun {
		t.Errorf("sideEffects %v, want NoneOnDryRun", wh.SideEffects)
	}
	if wh.TimeoutSeconds == nil || *wh.TimeoutSeconds != 3 {
		t.Errorf("timeoutSeconds %v, want 3", wh.TimeoutSeconds)
	}
	if wh.MatchPolicy == nil || *wh.MatchPolicy != admissionv1.Equivalent {
		t.Errorf("matchPolicy %v, want Equivalent", wh.MatchPolicy)
	}
	if !slices.Equal(wh.AdmissionReviewVersions, []string{"v1"}) {
		t.Errorf("admissionReviewVersions %v", wh.AdmissionReviewVersions)
	}
	ns := admissionv1.NamespacedScope
	rule := func(ops []admissionv1.OperationType, resource string) admissionv1.RuleWithOperations {
		return admissionv1.RuleWithOperations{Operations: ops, Rule: admissionv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{resource}, Scope: &ns}}
	}
	wantRules := []admissionv1.RuleWithOperations{
		rule([]admissionv1.OperationType{admissionv1.Create, admissionv1.Update}, "pods"),
		rule([]admissionv1.OperationType{admissionv1.Update}, "pods/ephemeralcontainers"),
	}
	if !reflect.DeepEqual(wh.Rules, wantRules) {
		t.Errorf("rules:\n got %+v\nwant %+v", wh.Rules, wantRules)
	}
	wantNS := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{releaseNamespace, "kube-system"}}}}
	if !reflect.DeepEqual(wh.NamespaceSelector, wantNS) {
		t.Errorf("namespaceSelector %+v, want %+v", wh.NamespaceSelector, wantNS)
	}
	if wh.ObjectSelector != nil {
		t.Errorf("objectSelector %+v, want none", wh.ObjectSelector)
	}
	svc := wh.ClientConfig.Service
	if svc == nil || svc.Name != webhookService || svc.Namespace != releaseNamespace || svc.Path == nil || *svc.Path != "/validate-pods" || svc.Port == nil || *svc.Port != 443 {
		t.Errorf("clientConfig.service %+v", svc)
	}
	if wh.ClientConfig.URL != nil || len(wh.ClientConfig.CABundle) != 0 {
		t.Errorf("clientConfig has url %v or a caBundle with cert-manager", wh.ClientConfig.URL)
	}
	if got, want := vwc.Annotations["cert-manager.io/inject-ca-from"], releaseNamespace+"/"+servingSecret; got != want {
		t.Errorf("inject-ca-from %q, want %q", got, want)
	}

	t.Run("values", func(t *testing.T) {
		_, wh := webhookConfig(t, `
learning:
  excludedNamespaces: [kube-system, monitoring, security]
webhook:
  timeoutSeconds: 5
  failurePolicy: Ignore
  objectSelector:
    matchExpressions:
      - {key: pod-security-advisor.io/ignore, operator: DoesNotExist}
  namespaceSelectorExpressions:
    - {key: team, operator: Exists}
`)
		if *wh.TimeoutSeconds != 5 || *wh.FailurePolicy != admissionv1.Ignore {
			t.Errorf("timeoutSeconds %d failurePolicy %s", *wh.TimeoutSeconds, *wh.FailurePolicy)
		}
		want := []metav1.LabelSelectorRequirement{
			{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{releaseNamespace, "kube-system", "monitoring"}},
			{Key: "team", Operator: metav1.LabelSelectorOpExists},
		}
		if !reflect.DeepEqual(wh.NamespaceSelector.MatchExpressions, want) {
			t.Errorf("namespaceSelector %+v", wh.NamespaceSelector.MatchExpressions)
		}
		if wh.ObjectSelector == nil || len(wh.ObjectSelector.MatchExpressions) != 1 {
			t.Errorf("objectSelector %+v", wh.ObjectSelector)
		}
	})

	t.Run("url", func(t *testing.T) {
		_, wh := webhookConfig(t, valuesURL)
		if wh.ClientConfig.URL == nil || *wh.ClientConfig.URL != "https://127.0.0.1:9443/validate-pods" || wh.ClientConfig.Service != nil {
			t.Errorf("clientConfig %+v", wh.ClientConfig)
		}
	})
}

func arg(args []string, flag string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestDeployment checks what the webhook process relies on: its flags, the downward API,
// probes, the certificate mount, graceful shutdown, and availability.
func TestDeployment(t *testing.T) {
	docs := manifests(t, mustRender(t, releaseName, releaseNamespace, valuesDefault))
	dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
	spec := dep.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *dep.Spec.Replicas)
	}
	if c.Args[0] != "serve" {
		t.Errorf("args %v: want the serve subcommand first", c.Args)
	}
	wantArgs := map[string]string{
		"namespace": "$(POD_NAMESPACE)", "name": fullname, "policy-configmap": policyConfigMap, "replica": "$(POD_NAME)",
		"exclude-namespaces": releaseNamespace + ",kube-system", "port": "9443", "cert-dir": "/tmp/k8s-webhook-server/serving-certs",
		"health-probe-bind-address": ":8081", "metrics-bind-address": ":8080", "tls-min-version": "1.2", "enable-http2": "false",
		"flush-interval": "10s", "max-workloads": "50000", "backfill": "true", "scope": "namespace", "enforce": "false",
		"zap-encoder": "json", "zap-log-level": "info",
	}
	for _, flag := range slices.Sorted(maps.Keys(wantArgs)) {
		if got, ok := arg(c.Args, flag); !ok || got != wantArgs[flag] {
			t.Errorf("--%s=%q (set: %v), want %q", flag, got, ok, wantArgs[flag])
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["POD_NAME"] != "metadata.name" || env["POD_NAMESPACE"] != "metadata.namespace" {
		t.Errorf("downward API env %v", env)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if !maps.Equal(ports, map[string]int32{"webhook": 9443, "metrics": 8080, "health": 8081}) {
		t.Errorf("ports %v", ports)
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port != intstr.FromString("health") {
			t.Errorf("probe for %s: %+v", path, probe)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}
	if spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
		t.Error("the webhook needs its ServiceAccount token")
	}
	flush, err := time.ParseDuration(wantArgs["flush-interval"])
	if err != nil {
		t.Fatal(err)
	}
	// The manager's graceful shutdown (25s) includes the final flush (at most 20s).
	if grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second; grace < flush+25*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v < flush interval %v + 25s shutdown", grace, flush)
	}
	if len(spec.TopologySpreadConstraints) == 0 || spec.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("topologySpreadConstraints %+v", spec.TopologySpreadConstraints)
	}

	// The serving certificate: the Secret cert-manager fills, mounted read-only at --cert-dir.
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != wantArgs["cert-dir"] || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("volumeMounts %+v", c.VolumeMounts)
	}
	if len(spec.Volumes) != 1 || spec.Volumes[0].Secret == nil || spec.Volumes[0].Secret.SecretName != servingSecret ||
		*spec.Volumes[0].Secret.DefaultMode != 0o440 {
		t.Errorf("volumes %+v", spec.Volumes)
	}

	// Services: 443 -> the webhook port; the metrics port.
	svc := object[corev1.Service](t, docs, "Service", webhookService)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort != intstr.FromString("webhook") ||
		!maps.Equal(svc.Spec.Selector, dep.Spec.Selector.MatchLabels) {
		t.Errorf("webhook Service %+v", svc.Spec)
	}
	metrics := object[corev1.Service](t, docs, "Service", fullname+"-metrics")
	if len(metrics.Spec.Ports) != 1 || metrics.Spec.Ports[0].TargetPort != intstr.FromString("metrics") {
		t.Errorf("metrics Service %+v", metrics.Spec)
	}
	if has(docs, "ServiceMonitor", fullname) {
		t.Error("ServiceMonitor rendered by default")
	}

	pdb := object[policyv1.PodDisruptionBudget](t, docs, "PodDisruptionBudget", fullname)
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) || !reflect.DeepEqual(pdb.Spec.Selector, dep.Spec.Selector) {
		t.Errorf("PodDisruptionBudget %+v", pdb.Spec)
	}

	t.Run("out of cluster", func(t *testing.T) {
		docs := manifests(t, mustRender(t, releaseName, releaseNamespace, valuesURL))
		if dep := object[appsv1.Deployment](t, docs, "Deployment", fullname); *dep.Spec.Replicas != 0 {
			t.Errorf("replicas %d, want 0", *dep.Spec.Replicas)
		}
		if has(docs, "PodDisruptionBudget", fullname) {
			t.Error("a PodDisruptionBudget over fewer than 2 replicas blocks drains")
		}
	})

	t.Run("values", func(t *testing.T) {
		docs := manifests(t, mustRender(t, releaseName, releaseNamespace, `
image: {repository: example.com/psa, tag: v9, pullPolicy: Always}
logging: {format: console, level: 3, development: true}
tls: {minVersion: "1.3", enableHTTP2: true}
learning: {flushInterval: 30s, maxWorkloads: 10, backfill: false, scope: cluster, enforce: true}
metrics: {port: 0}
extraArgs: [--refresh-interval=1h]
nodeSelector: {kubernetes.io/os: linux}
priorityClassName: system-cluster-critical
`))
		dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
		c := dep.Spec.Template.Spec.Containers[0]
		if c.Image != "example.com/psa:v9" || c.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("image %s %s", c.Image, c.ImagePullPolicy)
		}
		for flag, want := range map[string]string{"zap-encoder": "console", "zap-log-level": "3", "zap-devel": "true", "tls-min-version": "1.3",
			"enable-http2": "true", "flush-interval": "30s", "max-workloads": "10", "backfill": "false", "scope": "cluster", "enforce": "true",
			"metrics-bind-address": "0"} {
			if got, _ := arg(c.Args, flag); got != want {
				t.Errorf("--%s=%q, want %q", flag, got, want)
			}
		}
		if c.Args[len(c.Args)-1] != "--refresh-interval=1h" {
			t.Errorf("extraArgs not last: %v", c.Args)
		}
		if dep.Spec.Template.Spec.PriorityClassName != "system-cluster-critical" || dep.Spec.Template.Spec.NodeSelector["kubernetes.io/os"] != "linux" {
			t.Errorf("scheduling values not applied")
		}
		if has(docs, "Service", fullname+"-metrics") {
			t.Error("metrics Service rendered with metrics.port 0")
		}
	})
}

// TestNotes: NOTES.txt prints the exact command for every key the webhook publishes.
func TestNotes(t *testing.T) {
	notes := mustRender(t, releaseName, releaseNamespace, valuesDefault)["templates/NOTES.txt"]
	for _, key := range policyKeys {
		cmd := fmt.Sprintf("kubectl get configmap %s -n %s -o jsonpath='{.data.%s}'", policyConfigMap, releaseNamespace, strings.ReplaceAll(key, ".", `\.`))
		if !strings.Contains(notes, cmd) {
			t.Errorf("NOTES.txt lacks %s", cmd)
		}
	}
	if !strings.Contains(notes, "helm test "+releaseName+" -n "+releaseNamespace) {
		t.Error("NOTES.txt lacks the helm test command")
	}
	generated := mustRender(t, releaseName, releaseNamespace, valuesGenerated)["templates/NOTES.txt"]
	if !strings.Contains(generated, "regenerated on every `helm upgrade`") {
		t.Error("NOTES.txt does not warn that generated certificates change on upgrade")
	}
	url := mustRender(t, releaseName, releaseNamespace, valuesURL)["templates/NOTES.txt"]
	if !strings.Contains(url, "https://127.0.0.1:9443/validate-pods") || !strings.Contains(url, "--cert-dir=") {
		t.Error("NOTES.txt does not say how to run the webhook out of cluster")
	}
}

// TestNetworkPolicy: off by default; on, only the listed peers reach the webhook port (and the
// metrics port, its own list), and an empty list, which would admit everyone, is refused.
func TestNetworkPolicy(t *testing.T) {
	if has(manifests(t, mustRender(t, releaseName, releaseNamespace, valuesDefault)), "NetworkPolicy", fullname) {
		t.Error("a NetworkPolicy by default")
	}
	np := object[networkingv1.NetworkPolicy](t, manifests(t, mustRender(t, releaseName, releaseNamespace, `
networkPolicy:
  enabled: true
  from: [{ipBlock: {cidr: 10.0.0.10/32}}]
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
`)), "NetworkPolicy", fullname)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || len(np.Spec.Ingress) != 2 {
		t.Fatalf("policy types %v, %d ingress rules; want Ingress, 2", np.Spec.PolicyTypes, len(np.Spec.Ingress))
	}
	webhook, metrics := np.Spec.Ingress[0], np.Spec.Ingress[1]
	if webhook.Ports[0].Port.IntValue() != 9443 || len(webhook.From) != 1 || webhook.From[0].IPBlock == nil || webhook.From[0].IPBlock.CIDR != "10.0.0.10/32" {
		t.Errorf("webhook rule %+v", webhook)
	}
	if metrics.Ports[0].Port.IntValue() != 8080 || len(metrics.From) != 1 || metrics.From[0].NamespaceSelector == nil {
		t.Errorf("metrics rule %+v", metrics)
	}
	if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] == "" {
		t.Errorf("podSelector %+v selects more than the webhook", np.Spec.PodSelector)
	}
	if _, err := renderChart(releaseName, releaseNamespace, parseValues(t, "networkPolicy: {enabled: true}")); err == nil || !strings.Contains(err.Error(), "networkPolicy.from") {
		t.Errorf("enabled without peers: %v, want an error naming networkPolicy.from", err)
	}
}
