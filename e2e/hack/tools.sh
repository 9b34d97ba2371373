#!/usr/bin/env bash
# Builds the e2e control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager, kubectl, helm, cert-manager runner, gator) from Go modules.
# No release binaries or images can be downloaded where this runs, so each tool
# is a small Go module under e2e/tools/<module> that pins the upstream version.
#
# Binaries go to a cache outside the repository, named
#   <tool>-<version>-<hash>
# where <hash> covers the tool module's go.mod, go.sum, our own .go files and
# the Go version, so bumping a version or a dependency builds a new binary and
# a rerun with everything cached only creates symlinks in e2e/bin.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${E2E_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-security-advisor/bin}
BIN=${E2E_BIN:-$E2E_DIR/bin}
mkdir -p "$CACHE" "$BIN"

GOVERSION=$(go env GOVERSION)

# version of module $2 required by the tool module in directory $1
modversion() {
	awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# short content hash of a tool module (its go.mod, go.sum, own sources) and Go
modhash() {
	(cd "$1" && { echo "$GOVERSION"; cat go.mod go.sum; find . -name '*.go' -type f | LC_ALL=C sort | xargs -r cat; } | sha256sum | cut -c1-12)
}

# build <tool> <module dir> <package> <version> [ldflags...]
build() {
	local tool=$1 dir=$E2E_DIR/tools/$2 pkg=$3 version=$4
	shift 4
	local out=$CACHE/$tool-$version-$(modhash "$dir")
	if [[ -x $out ]]; then
		echo "cached  $tool -> $out"
	else
		echo "building $tool $version (this can take many minutes on a cold cache)"
		local start=$SECONDS
		(cd "$dir" && go build -trimpath -ldflags "-s -w $*" -o "$out.tmp.$$" "$pkg")
		mv -f "$out.tmp.$$" "$out"
		echo "built   $tool in $((SECONDS - start))s -> $out"
	fi
	ln -sfn "$out" "$BIN/$tool"
}

kube=$(modversion "$E2E_DIR/tools/kube" k8s.io/kubernetes)
IFS=. read -r kmajor kminor _ <<<"${kube#v}"
# Upstream release builds stamp the version; without it the apiserver reports
# v0.0.0-master, which breaks version checks (helm kubeVersion, discovery).
kubeflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kubeflags+=" -X $p.gitVersion=$kube -X $p.gitMajor=$kmajor -X $p.gitMinor=$kminor -X $p.gitTreeState=clean"
done
for cmd in kube-apiserver kube-controller-manager kubectl; do
	build "$cmd" kube "k8s.io/kubernetes/cmd/$cmd" "$kube" "$kubeflags"
done

build etcd etcd ./cmd/etcd "$(modversion "$E2E_DIR/tools/etcd" go.etcd.io/etcd/server/v3)"

helm=$(modversion "$E2E_DIR/tools/helm" helm.sh/helm/v3)
# As helm's own Makefile does: stamp its version and the Kubernetes minor its
# client libraries target (used for .Capabilities.KubeVersion offline).
helmk8s=$(modversion "$E2E_DIR/tools/helm" k8s.io/client-go)
helmk8sminor=$(cut -d. -f2 <<<"$helmk8s")
build helm helm helm.sh/helm/v3/cmd/helm "$helm" \
	"-X helm.sh/helm/v3/internal/version.version=$helm" \
	"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$helmk8sminor" \
	"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$helmk8sminor"

cm=$(modversion "$E2E_DIR/tools/certmanager" github.com/cert-manager/cert-manager)
build cert-manager certmanager ./cmd/certmanager "$cm"
# cluster.sh applies the CRDs of exactly the cert-manager version we run,
# straight from the module cache.
cmdir=$(cd "$E2E_DIR/tools/certmanager" && go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)
ln -sfn "$cmdir/deploy/crds" "$BIN/cert-manager-crds"

# gator, Gatekeeper's offline evaluator, tests the rendered constraints against the
# gatekeeper-library templates without a Gatekeeper deployment.
build gator gator github.com/open-policy-agent/gatekeeper/v3/cmd/gator \
	"$(modversion "$E2E_DIR/tools/gator" github.com/open-policy-agent/gatekeeper/v3)"

echo "e2e tools ready in $BIN"
