#!/usr/bin/env bash
# Smoke test of a running e2e cluster (cluster.sh up): what the e2e suite
# relies on - workload controllers create (Pending) pods, privileged pods are
# admitted, cert-manager issues certificates and injects CA bundles.
# Leaves nothing behind: everything lives in a throwaway namespace.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${E2E_BIN:-$E2E_DIR/bin}
export KUBECONFIG=$("$E2E_DIR/hack/cluster.sh" kubeconfig)
NS=smoke-$$
k() { "$BIN/kubectl" -n "$NS" "$@"; }
trap '"$BIN/kubectl" delete namespace "$NS" --wait=false >/dev/null 2>&1; "$BIN/kubectl" delete validatingwebhookconfiguration "$NS" >/dev/null 2>&1 || true' EXIT

# eventually <seconds> <command...>
eventually() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || { echo "FAIL: $*" >&2; exit 1; }
		sleep 0.5
	done
}
pods_of() { [[ $(k get pods -l "$1" -o name | wc -l) -ge $2 ]]; }

"$BIN/kubectl" create namespace "$NS" >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: c, image: busybox, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: priv, labels: {app: priv}}
spec:
  hostPID: true
  containers: [{name: c, image: busybox, securityContext: {privileged: true}}]
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: serving}
spec:
  secretName: serving-tls
  dnsNames: [webhook.$NS.svc]
  issuerRef: {name: selfsigned, kind: Issuer}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: $NS
  annotations: {cert-manager.io/inject-ca-from: $NS/serving}
webhooks:
- name: smoke.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig: {url: "https://127.0.0.1:1/never-called"}
  namespaceSelector: {matchLabels: {never: match}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
YAML
eventually 30 pods_of app=web 2 && echo "ok: Deployment created 2 pods"
eventually 30 pods_of app=agent 1 && echo "ok: DaemonSet created a pod on the kubelet-less node"
[[ $(k get pod priv -o jsonpath='{.status.phase}') == Pending ]] && echo "ok: privileged pod admitted (Pending, no kubelet)"
k wait --for=condition=Ready certificate/serving --timeout=60s >/dev/null
k get secret serving-tls >/dev/null && echo "ok: Certificate Ready with its Secret"
has_ca() { [[ -n $("$BIN/kubectl" get validatingwebhookconfiguration "$NS" -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]]; }
eventually 30 has_ca
echo "ok: cainjector filled the webhook caBundle"
