#!/usr/bin/env bash
# Local CA and serving certificate for running the webhook outside a cluster (development,
# `pod-security-advisor serve --cert-dir certs/dev`). `make certs` runs this.
#
# Writes to $OUT (default certs/dev, gitignored):
#   ca.crt ca.key    a private CA, kept across runs (remove it, or FORCE=1, for a new one)
#   tls.crt tls.key  the serving certificate for localhost, 127.0.0.1, ::1 and the webhook
#                    Service's names; remade when missing, expiring within 7 days, not
#                    signed by ca.crt, or when the names change
# The API server trusts the webhook when its caBundle is ca.crt, for instance:
#   kubectl create secret tls pod-security-advisor-dev -n pod-security-advisor \
#     --cert certs/dev/tls.crt --key certs/dev/tls.key
#   helm install pod-security-advisor charts/pod-security-advisor -n pod-security-advisor \
#     --set certManager.enabled=false --set tls.existingSecret=pod-security-advisor-dev \
#     --set-file tls.caBundle=certs/dev/ca.crt \
#     --set webhook.url=https://127.0.0.1:9443/validate-pods --set replicas=0
#   pod-security-advisor serve --namespace pod-security-advisor --cert-dir certs/dev
#
# Environment (all optional):
#   OUT        output directory (certs/dev)
#   NAME       release fullname; the Service is <NAME>-webhook (pod-security-advisor)
#   NAMESPACE  release namespace (pod-security-advisor)
#   EXTRA_SANS more subjectAltNames, comma separated, e.g. DNS:dev.example.com,IP:10.0.0.5
#   DAYS       serving certificate validity (365); CA_DAYS for the CA (3650)
#   FORCE=1    remake the CA and the serving certificate
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$here/dev}
NAME=${NAME:-pod-security-advisor}
NAMESPACE=${NAMESPACE:-pod-security-advisor}
DAYS=${DAYS:-365}
CA_DAYS=${CA_DAYS:-3650}
FORCE=${FORCE:-0}

command -v openssl >/dev/null || { echo "dev-certs: openssl not found" >&2; exit 1; }
umask 077
mkdir -p "$OUT"
cd "$OUT"

svc=$NAME-webhook
sans="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:$svc,DNS:$svc.$NAMESPACE,DNS:$svc.$NAMESPACE.svc,DNS:$svc.$NAMESPACE.svc.cluster.local"
[[ -n ${EXTRA_SANS:-} ]] && sans="$sans,$EXTRA_SANS"

serial() { echo "0x$(openssl rand -hex 16)"; }

if [[ $FORCE == 1 || ! -s ca.crt || ! -s ca.key ]] || ! openssl x509 -in ca.crt -noout -checkend $((7 * 86400)) >/dev/null; then
	echo "dev-certs: new CA in $OUT/ca.crt" >&2
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout ca.key -out ca.crt -days "$CA_DAYS" -set_serial "$(serial)" \
		-subj "/CN=$NAME-dev-ca" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	rm -f tls.crt
fi

if [[ $FORCE == 1 || ! -s tls.crt || ! -s tls.key || "$(cat sans.txt 2>/dev/null)" != "$sans" ]] ||
	! openssl x509 -in tls.crt -noout -checkend $((7 * 86400)) >/dev/null ||
	! openssl verify -CAfile ca.crt tls.crt >/dev/null 2>&1; then
	echo "dev-certs: new serving certificate in $OUT/tls.crt for $sans" >&2
	ext=$(mktemp)
	trap 'rm -f "$ext" tls.csr' EXIT
	cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$sans
EXT
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout tls.key -out tls.csr -subj "/CN=$svc.$NAMESPACE.svc" 2>/dev/null
	openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -set_serial "$(serial)" \
		-days "$DAYS" -extfile "$ext" -out tls.crt 2>/dev/null
	echo "$sans" >sans.txt
fi

chmod 600 ca.key tls.key
chmod 644 ca.crt tls.crt
echo "$OUT"
