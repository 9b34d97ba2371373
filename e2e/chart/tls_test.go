package chart

import (
	"crypto/x509"
	"encoding/pem"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// cmObject is the part of a cert-manager resource the tests read.
type cmObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec map[string]any `json:"spec"`
}

func certManagerObjects(t *testing.T, docs []doc) map[string]cmObject {
	t.Helper()
	out := map[string]cmObject{}
	for _, d := range docs {
		if d.Kind != "Issuer" && d.Kind != "Certificate" {
			continue
		}
		var o cmObject
		if err := yaml.Unmarshal(d.Raw, &o); err != nil {
			t.Fatalf("%s %s: %v", d.Kind, d.Name, err)
		}
		out[d.Kind+"/"+d.Name] = o
	}
	return out
}

func serviceNames(svc, ns string) []string {
	return []string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}
}

// TestCertManager: self-signed Issuer → CA Certificate → CA Issuer → serving Certificate for
// the Service's names (plus the extra SANs), in the Secret the Deployment mounts.
func TestCertManager(t *testing.T) {
	objs := certManagerObjects(t, manifests(t, mustRender(t, releaseName, releaseNamespace, valuesURL)))
	if len(objs) != 4 {
		t.Fatalf("cert-manager objects: %v", slices.Sorted(maps.Keys(objs)))
	}
	if _, ok := objs["Issuer/"+fullname+"-selfsigned"].Spec["selfSigned"]; !ok {
		t.Error("no self-signed Issuer")
	}
	ca := objs["Certificate/"+fullname+"-ca"].Spec
	if ca["isCA"] != true || ca["secretName"] != fullname+"-ca" || issuer(ca) != fullname+"-selfsigned" {
		t.Errorf("CA Certificate %v", ca)
	}
	if got := objs["Issuer/"+fullname+"-ca"].Spec["ca"]; !reflect.DeepEqual(got, map[string]any{"secretName": fullname + "-ca"}) {
		t.Errorf("CA Issuer %v", got)
	}
	serving := objs["Certificate/"+servingSecret].Spec
	if serving["secretName"] != servingSecret || issuer(serving) != fullname+"-ca" || serving["isCA"] != nil {
		t.Errorf("serving Certificate %v", serving)
	}
	if got := stringList(serving["dnsNames"]); !slices.Equal(got, serviceNames(webhookService, releaseNamespace)) {
		t.Errorf("dnsNames %v", got)
	}
	if got := stringList(serving["ipAddresses"]); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("ipAddresses %v", got)
	}
	if got := stringList(serving["usages"]); !slices.Contains(got, "server auth") {
		t.Errorf("usages %v", got)
	}
}

func issuer(spec map[string]any) string {
	ref, _ := spec["issuerRef"].(map[string]any)
	if ref["kind"] != "Issuer" {
		return ""
	}
	name, _ := ref["name"].(string)
	return name
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestGeneratedCertificate: without cert-manager the chart's certificate is served for the
// Service names and extra SANs, and verifies against the webhook's caBundle.
func TestGeneratedCertificate(t *testing.T) {
	docs := manifests(t, mustRender(t, releaseName, releaseNamespace, `
certManager:
  enabled: false
  extraDNSNames: [advisor.example.com]
  extraIPAddresses: [127.0.0.1]
`))
	if len(certManagerObjects(t, docs)) != 0 {
		t.Error("cert-manager objects rendered with certManager.enabled=false")
	}
	secret := object[corev1.Secret](t, docs, "Secret", servingSecret)
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s", secret.Type)
	}
	vwc := object[admissionv1.ValidatingWebhookConfiguration](t, docs, "ValidatingWebhookConfiguration", fullname)
	if _, ok := vwc.Annotations["cert-manager.io/inject-ca-from"]; ok {
		t.Error("inject-ca-from without cert-manager")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(vwc.Webhooks[0].ClientConfig.CABundle) {
		t.Fatalf("caBundle is not PEM: %q", vwc.Webhooks[0].ClientConfig.CABundle)
	}
	if !slices.Equal(secret.Data["ca.crt"], vwc.Webhooks[0].ClientConfig.CABundle) {
		t.Error("Secret ca.crt differs from the caBundle")
	}
	cert := parseCert(t, secret.Data["tls.crt"])
	for _, host := range append(serviceNames(webhookService, releaseNamespace), "advisor.example.com", "127.0.0.1") {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if block, _ := pem.Decode(secret.Data["tls.key"]); block == nil {
		t.Error("tls.key is not PEM")
	}
	dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
	if got := dep.Spec.Template.Spec.Volumes[0].Secret.SecretName; got != servingSecret {
		t.Errorf("Deployment mounts %s", got)
	}
}

// TestExistingSecret: tls.existingSecret is mounted and tls.caBundle goes to the webhook.
func TestExistingSecret(t *testing.T) {
	docs := manifests(t, mustRender(t, releaseName, releaseNamespace, valuesExisting))
	if has(docs, "Secret", servingSecret) || len(certManagerObjects(t, docs)) != 0 {
		t.Errorf("certificate objects rendered with an existing Secret: %s", inventory(docs))
	}
	dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
	if got := dep.Spec.Template.Spec.Volumes[0].Secret.SecretName; got != "advisor-tls" {
		t.Errorf("Deployment mounts %s, want advisor-tls", got)
	}
	vwc := object[admissionv1.ValidatingWebhookConfiguration](t, docs, "ValidatingWebhookConfiguration", fullname)
	if got := string(vwc.Webhooks[0].ClientConfig.CABundle); got != parseValues(t, valuesExisting)["tls"].(map[string]any)["caBundle"] {
		t.Errorf("caBundle %q", got)
	}
	if _, err := renderChart(releaseName, releaseNamespace, parseValues(t, "certManager: {enabled: false}\ntls: {existingSecret: x}\n")); err == nil {
		t.Error("tls.existingSecret without tls.caBundle rendered")
	}
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("not PEM: %q", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestCertsManifests: certs/cert-manager.yaml, for installs without Helm, holds the chart's
// cert-manager resources for release pod-security-advisor in namespace pod-security-advisor.
func TestCertsManifests(t *testing.T) {
	const name = "pod-security-advisor"
	raw, err := os.ReadFile(filepath.Join(certsDir, "cert-manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plain := certManagerObjects(t, manifests(t, map[string]string{"certs/cert-manager.yaml": string(raw)}))
	chart := certManagerObjects(t, manifests(t, mustRender(t, name, name, valuesDefault)))
	if !slices.Equal(slices.Sorted(maps.Keys(plain)), slices.Sorted(maps.Keys(chart))) {
		t.Fatalf("certs/cert-manager.yaml has %v, the chart %v", slices.Sorted(maps.Keys(plain)), slices.Sorted(maps.Keys(chart)))
	}
	for key, want := range chart {
		got := plain[key]
		if got.APIVersion != want.APIVersion || got.Metadata.Namespace != name || !reflect.DeepEqual(got.Spec, want.Spec) {
			t.Errorf("%s differs from the chart's:\n got %+v\nwant %+v", key, got, want)
		}
	}
}

// TestDevCerts runs certs/dev-certs.sh (`make certs`) and checks the serving certificate it
// makes verifies against its CA for localhost, 127.0.0.1 and the Service names.
func TestDevCerts(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	out := t.TempDir()
	script, err := filepath.Abs(filepath.Join(certsDir, "dev-certs.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dev-certs.sh: %v\n%s", err, b)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(read("ca.crt")) {
		t.Fatal("ca.crt is not PEM")
	}
	cert := parseCert(t, read("tls.crt"))
	const svc = "pod-security-advisor-webhook"
	for _, host := range append(serviceNames(svc, "pod-security-advisor"), "localhost", "127.0.0.1") {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
		t.Errorf("IP SANs %v", cert.IPAddresses)
	}
	if info, err := os.Stat(filepath.Join(out, "tls.key")); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Errorf("tls.key readable by others: %v %v", info.Mode(), err)
	}

	// A second run keeps the CA (clients that trust it keep working) and the valid certificate.
	ca, crt := read("ca.crt"), read("tls.crt")
	cmd = exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second run: %v\n%s", err, b)
	}
	if !slices.Equal(read("ca.crt"), ca) || !slices.Equal(read("tls.crt"), crt) {
		t.Error("a second run replaced a valid CA or certificate")
	}
}
