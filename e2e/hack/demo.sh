#!/usr/bin/env bash
# The demo: the loopback control plane (cluster.sh up), `helm install` of the chart in url mode
# with cert-manager issuing the serving certificate, the webhook run on this host with the
# token of the chart's ServiceAccount (the cluster has no kubelet, so the test plays it), three
# realistic workloads, and the learned policy fetched with `kubectl get configmap`.
# The webhook is stopped at the end; the cluster and the release stay up for you to explore.
#
# Environment (optional): DEMO_PORT (webhook port, default 19443), E2E_BIN, E2E_CLUSTER_DIR.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$E2E_DIR/.." && pwd)
export E2E_BIN=${E2E_BIN:-$E2E_DIR/bin}
PORT=${DEMO_PORT:-19443}
NS=pod-security-advisor
NAME=pod-security-advisor # release name; contains the chart name, so it is also the fullname

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
kubectl() { "$E2E_BIN/kubectl" "$@"; }
# eventually <seconds> <what> <command...>
eventually() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || { echo "timed out waiting for $what" >&2; exit 1; }
		sleep 0.5
	done
}

"$E2E_DIR/hack/tools.sh" >/dev/null
export KUBECONFIG=$("$E2E_DIR/hack/cluster.sh" up | tail -n 1)
DEMO=$(dirname "$KUBECONFIG")/demo # inside the cluster's state: `make cluster-down` removes it
mkdir -p "$DEMO/certs"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "port 127.0.0.1:$PORT is in use; set DEMO_PORT" >&2
	exit 1
fi

say "building pod-security-advisor"
(cd "$ROOT" && go build -o "$DEMO/pod-security-advisor" ./cmd/webhook)

say "helm install $NAME (webhook.url=https://127.0.0.1:$PORT/validate-pods, replicas=0)"
"$E2E_BIN/helm" upgrade --install "$NAME" "$ROOT/charts/pod-security-advisor" -n "$NS" --create-namespace \
	--set replicas=0 \
	--set webhook.url="https://127.0.0.1:$PORT/validate-pods" \
	--set 'certManager.extraIPAddresses={127.0.0.1}' \
	--set learning.flushInterval=2s \
	--set test.enabled=false
kubectl -n "$NS" wait --for=condition=Ready --timeout=90s "certificate/$NAME-serving-cert" >/dev/null
eventually 60 "cainjector" sh -c "[ -n \"\$('$E2E_BIN/kubectl' get validatingwebhookconfiguration $NAME -o jsonpath='{.webhooks[0].clientConfig.caBundle}')\" ]"
echo "serving certificate issued by cert-manager; CA injected into the webhook configuration"

# What the kubelet would do: mount the serving Secret, and a ServiceAccount token.
for f in tls.crt tls.key; do
	kubectl -n "$NS" get secret "$NAME-serving-cert" -o jsonpath="{.data.${f/./\\.}}" | base64 -d >"$DEMO/certs/$f"
done
cat >"$DEMO/webhook.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
    certificate-authority-data: $(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
users:
- name: $NAME
  user: {token: $(kubectl -n "$NS" create token "$NAME" --duration=1h)}
contexts:
- name: e2e
  context: {cluster: e2e, user: $NAME, namespace: $NS}
current-context: e2e
EOF

say "starting the webhook on 127.0.0.1:$PORT (log: $DEMO/webhook.log)"
"$DEMO/pod-security-advisor" serve --namespace "$NS" --name "$NAME" --policy-configmap "$NAME-policy" \
	--exclude-namespaces "$NS,kube-system" --flush-interval 2s \
	--host 127.0.0.1 --port "$PORT" --cert-dir "$DEMO/certs" \
	--metrics-bind-address 127.0.0.1:0 --health-probe-bind-address "127.0.0.1:$((PORT + 1))" \
	--kubeconfig "$DEMO/webhook.kubeconfig" --zap-devel >"$DEMO/webhook.log" 2>&1 &
WEBHOOK=$!
stop_webhook() {
	kill -TERM "$WEBHOOK" 2>/dev/null && wait "$WEBHOOK" 2>/dev/null || true
}
trap 'status=$?; stop_webhook; if ((status)); then echo "webhook log:" >&2; tail -n 30 "$DEMO/webhook.log" >&2; fi' EXIT
eventually 60 "webhook /readyz" curl -sf "http://127.0.0.1:$((PORT + 1))/readyz"

say "creating workloads: a restricted web Deployment, a node-agent DaemonSet, a Job"
kubectl apply -f - <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: storefront, namespace: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: storefront, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: storefront}}
  template:
    metadata: {labels: {app: storefront}}
    spec:
      serviceAccountName: storefront
      securityContext: {runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: registry.example.com/storefront:2.4.1
        ports: [{containerPort: 8080}]
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: node-agent, namespace: monitoring}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent, namespace: monitoring}
spec:
  selector: {matchLabels: {app: node-agent}}
  template:
    metadata: {labels: {app: node-agent}}
    spec:
      serviceAccountName: node-agent
      hostPID: true
      containers:
      - name: agent
        image: registry.example.com/node-agent:1.8.2
        securityContext: {readOnlyRootFilesystem: true}
        volumeMounts: [{name: proc, mountPath: /host/proc, readOnly: true}, {name: logs, mountPath: /host/var/log, readOnly: true}]
      volumes:
      - {name: proc, hostPath: {path: /proc}}
      - {name: logs, hostPath: {path: /var/log}}
---
apiVersion: v1
kind: Namespace
metadata: {name: batch}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: migrator, namespace: batch}
---
apiVersion: batch/v1
kind: Job
metadata: {name: db-migrate, namespace: batch}
spec:
  template:
    spec:
      serviceAccountName: migrator
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.example.com/migrate:3.1
        securityContext: {runAsUser: 0, capabilities: {add: [CHOWN]}}
EOF

say "waiting for the learned policy"
policy() { kubectl -n "$NS" get configmap "$NAME-policy" -o jsonpath="{.data.$1}" 2>/dev/null; }
learned() {
	local r
	r=$(policy 'report\.json') || return 1
	[[ $r == *'"Deployment"'*storefront* && $r == *'"DaemonSet"'*node-agent* && $r == *'"Job"'*db-migrate* ]]
}
eventually 60 "the policy ConfigMap" learned

say "kubectl get configmap $NAME-policy -n $NS -o jsonpath='{.data.pod-security-standards\\.yaml}'"
policy 'pod-security-standards\.yaml'
say "kubectl get configmap $NAME-policy -n $NS -o jsonpath='{.data.validating-admission-policy\\.yaml}'"
policy 'validating-admission-policy\.yaml'

stop_webhook
say "done"
cat <<EOF
The webhook is stopped (its log: $DEMO/webhook.log); the control plane and the release stay up:
  export KUBECONFIG=$KUBECONFIG
  kubectl get configmap $NAME-policy -n $NS -o jsonpath='{.data.README}'
  kubectl get configmap $NAME-policy -n $NS -o jsonpath='{.data.report\.json}'
Stop the control plane with: ${E2E_CLUSTER_DIR:+E2E_CLUSTER_DIR=$E2E_CLUSTER_DIR }make cluster-down
EOF
