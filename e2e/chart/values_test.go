package chart

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/internal/rbac"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// valuesCustom sets what platform teams override (an OpenShift-like install: UIDs left to the
// platform, an existing ServiceAccount); it is one of the golden value sets, and its pods must
// still pass restricted.
const valuesCustom = `
revisionHistoryLimit: 1
podSecurityContext: {runAsUser: null, runAsGroup: null, fsGroup: null}
containerSecurityContext: {runAsUser: null, runAsGroup: null}
extraEnv:
  - {name: GOMEMLIMIT, value: 900MiB}
extraVolumes:
  - name: corporate-ca
    configMap: {name: corporate-ca}
extraVolumeMounts:
  - {name: corporate-ca, mountPath: /etc/ssl/certs/corporate, readOnly: true}
service:
  annotations: {example.com/team: platform}
webhook:
  annotations: {example.com/team: platform, cert-manager.io/inject-ca-from: other/cert}
serviceAccount:
  create: false
  name: platform-webhooks
podDisruptionBudget:
  maxUnavailable: 50%
`

func TestCustomValues(t *testing.T) {
	docs := manifests(t, mustRender(t, releaseName, releaseNamespace, valuesCustom))
	dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
	spec := dep.Spec.Template.Spec
	c := spec.Containers[0]
	if *dep.Spec.RevisionHistoryLimit != 1 {
		t.Errorf("revisionHistoryLimit %d", *dep.Spec.RevisionHistoryLimit)
	}
	// The platform assigns the IDs; non-root and the rest of restricted stay.
	psc, csc := spec.SecurityContext, c.SecurityContext
	if psc.RunAsUser != nil || psc.RunAsGroup != nil || psc.FSGroup != nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod securityContext %+v", psc)
	}
	if csc.RunAsUser != nil || csc.RunAsGroup != nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Errorf("container securityContext %+v", csc)
	}
	if last := c.Env[len(c.Env)-1]; last.Name != "GOMEMLIMIT" || last.Value != "900MiB" || len(c.Env) != 4 {
		t.Errorf("env %+v: want the chart's three, then GOMEMLIMIT", c.Env)
	}
	if len(spec.Volumes) != 2 || spec.Volumes[1].ConfigMap == nil || spec.Volumes[1].ConfigMap.Name != "corporate-ca" {
		t.Errorf("volumes %+v", spec.Volumes)
	}
	if len(c.VolumeMounts) != 2 || c.VolumeMounts[1].MountPath != "/etc/ssl/certs/corporate" {
		t.Errorf("volumeMounts %+v", c.VolumeMounts)
	}
	for _, name := range []string{webhookService, fullname + "-metrics"} {
		if svc := object[corev1.Service](t, docs, "Service", name); svc.Annotations["example.com/team"] != "platform" {
			t.Errorf("Service %s annotations %v", name, svc.Annotations)
		}
	}
	// The chart's own inject-ca-from wins: another would make cainjector inject a foreign CA.
	vwc := object[admissionv1.ValidatingWebhookConfiguration](t, docs, "ValidatingWebhookConfiguration", fullname)
	if want := map[string]string{"example.com/team": "platform", "cert-manager.io/inject-ca-from": releaseNamespace + "/" + servingSecret}; !maps.Equal(vwc.Annotations, want) {
		t.Errorf("webhook configuration annotations %v, want %v", vwc.Annotations, want)
	}

	// An existing ServiceAccount: not rendered, run as, and bound.
	if spec.ServiceAccountName != "platform-webhooks" {
		t.Errorf("serviceAccountName %q", spec.ServiceAccountName)
	}
	if slices.ContainsFunc(docs, func(d doc) bool { return d.Kind == "ServiceAccount" && d.Name != fullname+"-test" }) {
		t.Errorf("a ServiceAccount rendered with serviceAccount.create=false: %s", inventory(docs))
	}
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "platform-webhooks", Namespace: releaseNamespace}}
	if rb := object[rbacv1.RoleBinding](t, docs, "RoleBinding", fullname); !slices.Equal(rb.Subjects, want) {
		t.Errorf("RoleBinding subjects %+v", rb.Subjects)
	}
	if crb := object[rbacv1.ClusterRoleBinding](t, docs, "ClusterRoleBinding", fullname); !slices.Equal(crb.Subjects, want) {
		t.Errorf("ClusterRoleBinding subjects %+v", crb.Subjects)
	}

	pdb := object[policyv1.PodDisruptionBudget](t, docs, "PodDisruptionBudget", fullname)
	if pdb.Spec.MinAvailable != nil || pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromString("50%") {
		t.Errorf("PodDisruptionBudget %+v", pdb.Spec)
	}

	t.Run("hostNetwork", func(t *testing.T) {
		dep := object[appsv1.Deployment](t, manifests(t, mustRender(t, releaseName, releaseNamespace, "hostNetwork: true\n")), "Deployment", fullname)
		if s := dep.Spec.Template.Spec; !s.HostNetwork || s.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
			t.Errorf("hostNetwork %v dnsPolicy %q", s.HostNetwork, s.DNSPolicy)
		}
		def := object[appsv1.Deployment](t, manifests(t, mustRender(t, releaseName, releaseNamespace, valuesDefault)), "Deployment", fullname)
		if s := def.Spec.Template.Spec; s.HostNetwork || s.DNSPolicy != "" {
			t.Errorf("default: hostNetwork %v dnsPolicy %q", s.HostNetwork, s.DNSPolicy)
		}
	})
	t.Run("ServiceAccount annotations", func(t *testing.T) {
		docs := manifests(t, mustRender(t, releaseName, releaseNamespace, "serviceAccount: {annotations: {example.com/role: webhook}}\n"))
		if sa := object[corev1.ServiceAccount](t, docs, "ServiceAccount", fullname); sa.Annotations["example.com/role"] != "webhook" {
			t.Errorf("annotations %v", sa.Annotations)
		}
	})
	t.Run("create=false needs a name", func(t *testing.T) {
		_, err := renderChart(releaseName, releaseNamespace, parseValues(t, "serviceAccount: {create: false}\n"))
		if err == nil || !strings.Contains(err.Error(), "serviceAccount.name") {
			t.Errorf("error %v, want one naming serviceAccount.name", err)
		}
	})
}

// TestSchemaQuantities: the schema accepts a resource quantity exactly when Kubernetes parses
// it (and it is not negative), so `resources.limits.memory=abc` fails at install, not at the
// API server. One exception, stricter on purpose: a suffix without a number, which
// resource.ParseQuantity reads as 0.
func TestSchemaQuantities(t *testing.T) {
	stricter := map[string]bool{"Gi": true}
	for _, q := range []string{"1Gi", "512Mi", "500m", "0.5", "1.5Gi", ".5", "1.", "1e3", "1E-3", "+1Gi", "2", "1000k",
		"abc", "1GB", "1gi", "1 Gi", "-1Gi", "1e", "Gi", "", "0x10", "1.5.1", "1Gi ", "1ki"} {
		parsed, err := resource.ParseQuantity(q)
		want := err == nil && parsed.Sign() >= 0 && !stricter[q]
		values := fmt.Sprintf("resources: {limits: {memory: %q}}\n", q)
		_, err = renderChart(releaseName, releaseNamespace, parseValues(t, values))
		if got := err == nil; got != want {
			t.Errorf("%q: accepted %v, Kubernetes parses it: %v (%v)", q, got, want, err)
		}
	}
	// A YAML number is a quantity too, and any resource name may be set.
	if _, err := renderChart(releaseName, releaseNamespace, parseValues(t, "resources: {requests: {cpu: 2, memory: 1e9, nvidia.com/gpu: 1}}\n")); err != nil {
		t.Error(err)
	}
}

const valuesUninstall = `
uninstall:
  deleteLearning: true
`

// TestUninstallHook: the opt-in post-delete Job deletes what Helm leaves, with no more access
// than internal/rbac says `uninstall` needs, and waits for the webhook's pods only.
func TestUninstallHook(t *testing.T) {
	if docs := manifests(t, mustRender(t, releaseName, releaseNamespace, valuesDefault)); has(docs, "Job", fullname+"-uninstall") {
		t.Fatal("the uninstall hook is rendered by default: the learning must be kept")
	}
	for _, tc := range []struct {
		name, values string
		secrets      []string
	}{
		{"cert-manager", valuesUninstall, []string{servingSecret, fullname + "-ca"}},
		// The chart's generated Secret is Helm's to delete; an existing one is the user's.
		{"existing secret", valuesUninstall + valuesExisting, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := manifests(t, mustRender(t, releaseName, releaseNamespace, tc.values))
			name := fullname + "-uninstall"
			for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding", "Job"} {
				d := docs[slices.IndexFunc(docs, func(d doc) bool { return d.Kind == kind && d.Name == name })]
				var meta struct {
					Metadata struct{ Annotations map[string]string } `json:"metadata"`
				}
				if err := yaml.Unmarshal(d.Raw, &meta); err != nil || meta.Metadata.Annotations["helm.sh/hook"] != "post-delete" {
					t.Errorf("%s %s: hook annotations %v (%v)", kind, name, meta.Metadata.Annotations, err)
				}
			}
			role := object[rbacv1.Role](t, docs, "Role", name)
			checkRules(t, "uninstall Role", role.Rules, rbac.UninstallRules(tc.secrets))

			job := object[batchv1.Job](t, docs, "Job", name)
			pod := job.Spec.Template
			if pod.Spec.ServiceAccountName != name {
				t.Errorf("Job runs as %q", pod.Spec.ServiceAccountName)
			}
			args := pod.Spec.Containers[0].Args
			for flag, want := range map[string]string{"name": fullname, "policy-configmap": policyConfigMap, "namespace": releaseNamespace, "secrets": strings.Join(tc.secrets, ",")} {
				if got, _ := arg(args, flag); got != want {
					t.Errorf("--%s=%q, want %q", flag, got, want)
				}
			}
			// It waits for the webhook's pods, and neither for itself nor for the helm test Pod.
			value, _ := arg(args, "wait-for-pods")
			sel, err := labels.Parse(value)
			if err != nil {
				t.Fatalf("--wait-for-pods=%q: %v", value, err)
			}
			dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
			testPod := object[corev1.Pod](t, docs, "Pod", fullname+"-test-policy")
			if !sel.Matches(labels.Set(dep.Spec.Template.Labels)) || sel.Matches(labels.Set(pod.Labels)) || sel.Matches(labels.Set(testPod.Labels)) {
				t.Errorf("--wait-for-pods=%s: must match the webhook's pods only", value)
			}
			// The Job's pod passes restricted, as the webhook's does.
			p := &corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
			defaulting.Apply(p)
			if v := pss.Evaluate(&p.ObjectMeta, &p.Spec); v.Level() != psaapi.LevelRestricted {
				t.Errorf("uninstall pod: level %s, blocking %+v", v.Level(), v.Blocking())
			}
		})
	}
}

// TestNotesUninstall: NOTES.txt says what `helm uninstall` keeps, with the commands that delete
// it, selecting by the labels the webhook writes (pkg/store, pkg/policy).
func TestNotesUninstall(t *testing.T) {
	notes := mustRender(t, releaseName, releaseNamespace, valuesDefault)["templates/NOTES.txt"]
	for _, cmd := range []string{
		"kubectl delete configmap -n " + releaseNamespace + " -l " + store.LabelState + "=" + fullname,
		"kubectl delete configmap -n " + releaseNamespace + " -l " + store.LabelCorrupt + "=" + fullname,
		"kubectl delete configmap -n " + releaseNamespace + " -l " + policy.LabelPolicy + "=" + policyConfigMap,
		"kubectl delete secret -n " + releaseNamespace + " " + servingSecret + " " + fullname + "-ca",
		"uninstall.deleteLearning=true",
	} {
		if !strings.Contains(notes, cmd) {
			t.Errorf("NOTES.txt lacks %q", cmd)
		}
	}
	if notes := mustRender(t, releaseName, releaseNamespace, valuesUninstall)["templates/NOTES.txt"]; strings.Contains(notes, "kubectl delete") {
		t.Error("NOTES.txt tells to delete by hand what the uninstall hook deletes")
	}
	if notes := mustRender(t, releaseName, releaseNamespace, valuesExisting)["templates/NOTES.txt"]; strings.Contains(notes, "kubectl delete secret") {
		t.Error("NOTES.txt tells to delete the user's own TLS Secret")
	}
}

// TestNotesURL: in url mode NOTES.txt gives the whole serve command: the URL's port, and the
// namespaces the webhook configuration excludes.
func TestNotesURL(t *testing.T) {
	for url, port := range map[string]string{"https://127.0.0.1:9443/validate-pods": "9443", "https://advisor.example.com/validate-pods": "443"} {
		notes := mustRender(t, releaseName, releaseNamespace, "webhook: {url: \""+url+"\"}\nreplicas: 0\n")["templates/NOTES.txt"]
		for _, want := range []string{"--exclude-namespaces=" + releaseNamespace + ",kube-system ", "--port=" + port + "\n", "--cert-dir=serving-certs"} {
			if !strings.Contains(notes, want) {
				t.Errorf("%s: NOTES.txt lacks %q:\n%s", url, want, notes)
			}
		}
	}
}
