#!/usr/bin/env bash
# Builds the e2e toolchain from the Go module proxy into a cache outside the repo:
#   ${FLUX_PLATFORM_TOOLCHAIN_DIR:-$HOME/.cache/flux-platform/toolchain}/<key>/{bin,crds,env}
# <key> is a short hash of versions.env, so a changed pin builds a new folder.
# Idempotent: a binary already in <key>/bin is not rebuilt; throwaway Go modules live in
# <root>/work/<key>. See README.md in this folder.
set -euo pipefail
shopt -s inherit_errexit

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MANIFEST="$HERE/versions.env"
# shellcheck source=versions.env
source "$MANIFEST"

KEY="$(sha256sum "$MANIFEST" | cut -c1-12)"
ROOT="${FLUX_PLATFORM_TOOLCHAIN_DIR:-$HOME/.cache/flux-platform/toolchain}"
OUT="$ROOT/$KEY"
BIN="$OUT/bin"
CRDS="$OUT/crds"
WORK="$ROOT/work/$KEY"
mkdir -p "$BIN" "$CRDS" "$WORK"

# One build at a time (2 cores): a second run waits for the first.
exec 9>"$ROOT/.lock"
if ! flock -n 9; then
  echo "[toolchain] another build holds $ROOT/.lock; waiting for it" >&2
  flock 9
fi

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
NICE=(nice -n 10)

T0=$SECONDS
log() { printf '[toolchain %s +%4ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*"; }

CURRENT_STEP=""
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$CURRENT_STEP" ]; then
    log "FAILED: step '$CURRENT_STEP' (exit $rc). Binaries built so far stay cached in $BIN."
  fi
}
trap on_exit EXIT

if [ "$(go env GOVERSION)" != "$GO_VERSION" ]; then
  log "note: go is $(go env GOVERSION), versions.env expects $GO_VERSION (GOTOOLCHAIN=local)"
fi
rm -f "$BIN"/.*.tmp

STEP_TIMES=()
MISSING_ESSENTIAL=()
SKIPPED=()
PROVENANCE="$OUT/PROVENANCE.txt"
touch "$PROVENANCE"

# step NAME "OUTPUTS" FUNCTION: runs FUNCTION unless every OUTPUT is already in $BIN.
step() {
  local name=$1 outs=$2 fn=$3 o missing=0 s
  for o in $outs; do [ -x "$BIN/$o" ] || missing=1; done
  if [ "$missing" = 0 ]; then
    log "step $name: cached"
    STEP_TIMES+=("$name: cached")
    return 0
  fi
  CURRENT_STEP=$name
  s=$SECONDS
  log "step $name: building"
  "$fn"
  for o in $outs; do [ -x "$BIN/$o" ] || { log "step $name did not produce $o"; exit 1; }; done
  log "step $name: done in $((SECONDS - s))s"
  STEP_TIMES+=("$name: $((SECONDS - s))s")
  CURRENT_STEP=""
}

# unserved NAME essential|optional WHY: a pin that the proxy does not serve.
unserved() {
  if [ "$2" = essential ]; then
    log "step $1: NOT BUILT - $3 (essential; see README.md)"
    MISSING_ESSENTIAL+=("$1")
  else
    log "step $1: SKIPPED - $3 (optional)"
    SKIPPED+=("$1")
  fi
  STEP_TIMES+=("$1: not built (unserved)")
}

provenance() { # BINARY TEXT
  grep -v "^$1 " "$PROVENANCE" >"$PROVENANCE.tmp" || true
  echo "$1 $2" >>"$PROVENANCE.tmp"
  mv -f "$PROVENANCE.tmp" "$PROVENANCE"
}

# mod_dir MODULE VERSION: download (cached) and print the module's read-only directory.
mod_dir() {
  local json
  if ! json=$(cd "$WORK" && GOFLAGS= go mod download -json "$1@$2"); then
    echo "$json" >&2
    return 1
  fi
  jq -r .Dir <<<"$json"
}

# fix_local_replaces [VERSION]: in the current go.mod, drop every replace that points at a
# relative directory (those are left out of module zips); a required module so replaced is
# required at VERSION instead (or keeps its required version when VERSION is empty).
fix_local_replaces() {
  local ver=${1:-} m req args=()
  req=$(go mod edit -json | jq -r '.Require[]?.Path')
  for m in $(go mod edit -json | jq -r '.Replace[]? | select(.New.Path|startswith(".")) | .Old.Path'); do
    args+=("-dropreplace=$m")
    if [ -n "$ver" ] && grep -qxF "$m" <<<"$req"; then args+=("-require=$m@$ver"); fi
  done
  if [ ${#args[@]} -gt 0 ]; then go mod edit "${args[@]}"; fi
}

# src NAME MODULE VERSION [REPLACE_VERSION [OLD=NEW@VER ...]]: a writable copy of the module
# as the main module of a throwaway build in $WORK/NAME (made once; prints its path). Extra
# OLD=NEW@VER arguments become go mod edit -replace (for dependencies the proxy refuses).
src() {
  local name=$1 mod=$2 ver=$3 rver=${4:-} dest="$WORK/$1" dir r
  shift $(($# < 4 ? $# : 4))
  if [ ! -f "$dest/.toolchain-prepared" ]; then
    dir=$(mod_dir "$mod" "$ver")
    rm -rf "$dest"
    cp -r "$dir" "$dest"
    chmod -R u+w "$dest"
    (
      cd "$dest"
      fix_local_replaces "$rver"
      for r in "$@"; do go mod edit -replace="$r"; done
      echo "$mod@$ver $*" >.toolchain-prepared
    )
  fi
  echo "$dest"
}

# gobuild OUT PACKAGE [go build flags...]: build into a temp name, then rename.
gobuild() {
  local out=$1 pkg=$2
  shift 2
  "${NICE[@]}" go build -o "$BIN/.$out.tmp" "$@" "$pkg"
  mv -f "$BIN/.$out.tmp" "$BIN/$out"
}

# ---------------------------------------------------------------------------------------
# Recipes (each runs in a subshell so a cd stays local)

build_pulumi_shims() (
  local d
  d=$(mod_dir github.com/pulumi/pulumi/sdk/v3 "$PULUMI_SDK_VERSION")
  # The real dynamic-provider shim, shipped in sdk/nodejs/dist of the pulumi repo.
  cp "$d/nodejs/dist/pulumi-resource-pulumi-nodejs" "$BIN/.pulumi-resource-pulumi-nodejs.tmp"
  chmod 755 "$BIN/.pulumi-resource-pulumi-nodejs.tmp"
  mv -f "$BIN/.pulumi-resource-pulumi-nodejs.tmp" "$BIN/pulumi-resource-pulumi-nodejs"
  # pulumi-analyzer-policy is no longer in sdk/nodejs/dist at this version (policy packs run
  # through the language host); this is the node form of the script the repo used to ship.
  cat >"$BIN/.pulumi-analyzer-policy.tmp" <<'EOF'
#!/bin/sh
PULUMI_RUN_SCRIPT_PATH=$(node -e "try { console.log(require.resolve('@pulumi/pulumi/cmd/run-policy-pack')) } catch (e) { console.error(e.message) }")
if [ ! -z "$PULUMI_RUN_SCRIPT_PATH" ]; then
    node "$PULUMI_RUN_SCRIPT_PATH" $@
fi
EOF
  chmod 755 "$BIN/.pulumi-analyzer-policy.tmp"
  mv -f "$BIN/.pulumi-analyzer-policy.tmp" "$BIN/pulumi-analyzer-policy"
  provenance pulumi-resource-pulumi-nodejs "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_VERSION nodejs/dist"
  provenance pulumi-analyzer-policy "written by build.sh (node form of sdk/nodejs/dist/pulumi-analyzer-policy)"
)

build_kwok() (
  local d
  d=$(src kwok sigs.k8s.io/kwok "$KWOK_VERSION")
  cd "$d"
  local ld="-s -w -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}"
  gobuild kwok ./cmd/kwok -ldflags "$ld"
  gobuild kwokctl ./cmd/kwokctl -ldflags "$ld"
  provenance kwok "sigs.k8s.io/kwok@$KWOK_VERSION"
  provenance kwokctl "sigs.k8s.io/kwok@$KWOK_VERSION"
)

build_etcd() (
  local d
  d=$(src etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION")
  cd "$d"
  gobuild etcd . -ldflags "-s -w"
  provenance etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
)

build_pulumi() (
  local d
  d=$(src pulumi github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION" "$PULUMI_SDK_VERSION")
  cd "$d"
  gobuild pulumi ./cmd/pulumi -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  provenance pulumi "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION"
)

build_pulumi_language_nodejs() (
  local d
  d=$(src pulumi-language-nodejs "$PULUMI_LANGUAGE_NODEJS_MODULE" "$PULUMI_LANGUAGE_NODEJS_VERSION")
  cd "$d"
  # Old dependencies (e.g. modern-go/reflect2 v1.0.2) pull runtime internals by linkname,
  # which Go >= 1.23 refuses unless -checklinkname=0.
  gobuild pulumi-language-nodejs "./$PULUMI_LANGUAGE_NODEJS_PACKAGE" -ldflags "-s -w -checklinkname=0 \
-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_LANGUAGE_NODEJS_VERSION"
  provenance pulumi-language-nodejs "$PULUMI_LANGUAGE_NODEJS_MODULE@$PULUMI_LANGUAGE_NODEJS_VERSION $PULUMI_LANGUAGE_NODEJS_PACKAGE (substitute)"
)

kube_ldflags() {
  local v=$KUBERNETES_VERSION minor date p ld="-s -w"
  minor=$(cut -d. -f2 <<<"$v")
  date=$(cd "$WORK" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$v" | jq -r .Time 2>/dev/null || true)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    [ -z "$date" ] || [ "$date" = null ] || ld+=" -X $p.buildDate=$date"
  done
  echo "$ld"
}

build_kube() ( # BINARY
  local d
  d=$(src kubernetes k8s.io/kubernetes "$KUBERNETES_VERSION" "$KUBERNETES_STAGING_VERSION")
  cd "$d"
  local ld
  ld=$(kube_ldflags)
  gobuild "$1" "./cmd/$1" -ldflags "$ld"
  provenance "$1" "k8s.io/kubernetes@$KUBERNETES_VERSION (staging $KUBERNETES_STAGING_VERSION)"
)
build_kube_apiserver() { build_kube kube-apiserver; }
build_kube_controller_manager() { build_kube kube-controller-manager; }
build_kube_scheduler() { build_kube kube-scheduler; }
build_kubectl() { build_kube kubectl; }

build_pulumi_kubernetes() (
  local d
  d=$(src pulumi-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4 \
    "$PULUMI_KUBERNETES_PROVIDER_VERSION" "$PULUMI_KUBERNETES_SDK_VERSION")
  cd "$d"
  # schema-embed.json / terraform-mapping-embed.json are generated, not in the module zip.
  (cd cmd/pulumi-resource-kubernetes && VERSION="$PULUMI_KUBERNETES_PLUGIN_VERSION" go run ./generate.go)
  gobuild pulumi-resource-kubernetes ./cmd/pulumi-resource-kubernetes \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_PLUGIN_VERSION"
  provenance pulumi-resource-kubernetes "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_PROVIDER_VERSION (stamped $PULUMI_KUBERNETES_PLUGIN_VERSION)"
)

build_pulumi_github_substitute() (
  # Our bridge glue around terraform-provider-github (see github-provider/README.md).
  PULUMI_GITHUB_PLUGIN_VERSION="$PULUMI_GITHUB_PLUGIN_VERSION" \
    bash "$HERE/$PULUMI_GITHUB_PROVIDER_SUBSTITUTE/build.sh" "$BIN" "$WORK/github-provider"
  provenance pulumi-resource-github "SUBSTITUTE: e2e/infra/toolchain/$PULUMI_GITHUB_PROVIDER_SUBSTITUTE bridge glue + github.com/integrations/terraform-provider-github/v6 (pins in its go.mod), stamped $PULUMI_GITHUB_PLUGIN_VERSION"
)

build_flux() ( # NAME VERSION [OLD=NEW@VER ...]
  local d name=$1 ver=$2
  shift 2
  d=$(src "$name" "github.com/fluxcd/$name" "$ver" "" "$@")
  cd "$d"
  gobuild "$name" . -ldflags "-s -w"
  provenance "$name" "github.com/fluxcd/$name@$ver${*:+ (replace $*)}"
)
# shellcheck disable=SC2086 # the REPLACES lists are space-separated on purpose
build_source_controller() { build_flux source-controller "$SOURCE_CONTROLLER_VERSION" ${SOURCE_CONTROLLER_REPLACES:-}; }
build_kustomize_controller() { build_flux kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"; }
build_notification_controller() { build_flux notification-controller "$NOTIFICATION_CONTROLLER_VERSION"; }

build_sops() (
  local d
  d=$(src sops github.com/getsops/sops/v3 "$SOPS_VERSION")
  cd "$d"
  gobuild sops ./cmd/sops -ldflags "-s -w"
  provenance sops "github.com/getsops/sops/v3@$SOPS_VERSION cmd/sops"
)

build_flux_cli() (
  # The flux CLI, for the developer repo's pull request check (`flux build kustomization`).
  # `go install .../cmd/flux@v` refuses the module's own replace directive, so it is built as
  # the main module. cmd/flux embeds manifests/*.yaml, which the release build generates with
  # kustomize from remote URLs (manifests/scripts/bundle.sh) and the module zip leaves out:
  # a placeholder stands in. Only `flux install` and `flux bootstrap` read them; the e2e runs
  # `flux build`, which does not.
  local d
  d=$(src flux-cli github.com/fluxcd/flux2/v2 "$FLUX_CLI_VERSION")
  cd "$d"
  mkdir -p cmd/flux/manifests
  [ -n "$(ls cmd/flux/manifests)" ] || echo "# placeholder: see e2e/infra/toolchain/build.sh" >cmd/flux/manifests/placeholder.yaml
  gobuild flux ./cmd/flux -ldflags "-s -w -X main.VERSION=${FLUX_CLI_VERSION#v}"
  provenance flux "github.com/fluxcd/flux2/v2@$FLUX_CLI_VERSION cmd/flux (embedded install manifests: a placeholder)"
)

copy_crds() { # NAME VERSION
  local d f
  d=$(mod_dir "github.com/fluxcd/$1" "$2")
  for f in "$d"/config/crd/bases/*.yaml; do
    install -m 644 "$f" "$CRDS/$(basename "$f")"
    echo "$(basename "$f") github.com/fluxcd/$1@$2 config/crd/bases/$(basename "$f")" >>"$CRDS/SOURCES.txt.tmp"
  done
}

# ---------------------------------------------------------------------------------------
log "toolchain key $KEY -> $OUT"
log "manifest $MANIFEST"

step pulumi-shims "pulumi-resource-pulumi-nodejs pulumi-analyzer-policy" build_pulumi_shims
step kwok "kwok kwokctl" build_kwok
step etcd "etcd" build_etcd
step pulumi "pulumi" build_pulumi
step pulumi-language-nodejs "pulumi-language-nodejs" build_pulumi_language_nodejs
step kube-apiserver "kube-apiserver" build_kube_apiserver
step kube-controller-manager "kube-controller-manager" build_kube_controller_manager
step kube-scheduler "kube-scheduler" build_kube_scheduler
step kubectl "kubectl" build_kubectl
step source-controller "source-controller" build_source_controller
step kustomize-controller "kustomize-controller" build_kustomize_controller
step pulumi-resource-kubernetes "pulumi-resource-kubernetes" build_pulumi_kubernetes
if [ "$PULUMI_COMMAND_PROVIDER_VERSION" = UNSERVED ]; then
  unserved pulumi-resource-command optional "github.com/pulumi/pulumi-command/provider is not served by the Go module proxy (only minikube stacks need it; the e2e stack is a kubeconfig stack)"
fi
if [ "$PULUMI_GITHUB_PROVIDER_VERSION" != UNSERVED ]; then
  log "versions.env pins the real pulumi-github provider, but build.sh has no recipe for it"; exit 1
elif [ -f "$HERE/${PULUMI_GITHUB_PROVIDER_SUBSTITUTE:-none}/build.sh" ]; then
  step pulumi-resource-github "pulumi-resource-github" build_pulumi_github_substitute
else
  unserved pulumi-resource-github essential "github.com/pulumi/pulumi-github/provider/v6 is not served by the Go module proxy"
fi
if [ "$RELOADER_VERSION" = UNSERVED ]; then
  unserved reloader optional "github.com/stakater/Reloader is not served by the Go module proxy"
fi
step notification-controller "notification-controller" build_notification_controller
step sops "sops" build_sops
step flux "flux" build_flux_cli

CURRENT_STEP=crds
rm -f "$CRDS/SOURCES.txt.tmp"
copy_crds source-controller "$SOURCE_CONTROLLER_VERSION"
copy_crds kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"
copy_crds notification-controller "$NOTIFICATION_CONTROLLER_VERSION"
mkdir -p "$CRDS/gateway-api"
GW_DIR=$(mod_dir "sigs.k8s.io/gateway-api" "$GATEWAY_API_VERSION")
for f in "$GW_DIR"/config/crd/standard/*.yaml; do
  install -m 644 "$f" "$CRDS/gateway-api/$(basename "$f")"
  echo "gateway-api/$(basename "$f") sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION config/crd/standard/$(basename "$f")" >>"$CRDS/SOURCES.txt.tmp"
done
mv -f "$CRDS/SOURCES.txt.tmp" "$CRDS/SOURCES.txt"
CURRENT_STEP=""

# ---------------------------------------------------------------------------------------
CURRENT_STEP=env
cat >"$OUT/env.tmp" <<EOF
# Generated by e2e/infra/toolchain/build.sh from versions.env (key $KEY). Source it:
#   . "$OUT/env"
export FLUX_PLATFORM_TOOLCHAIN="$OUT"
export FLUX_PLATFORM_TOOLCHAIN_BIN="$BIN"
export FLUX_PLATFORM_TOOLCHAIN_CRDS="$CRDS"
export PATH="$BIN:\$PATH"
# Pulumi offline: plugins come from PATH, nothing is downloaded.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# kwokctl --runtime binary uses these local binaries instead of downloading them.
export KWOK_RUNTIME=binary
export KWOK_KUBE_VERSION="$KUBERNETES_VERSION"
export KWOK_KUBE_APISERVER_BINARY="$BIN/kube-apiserver"
export KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$BIN/kube-controller-manager"
export KWOK_KUBE_SCHEDULER_BINARY="$BIN/kube-scheduler"
export KWOK_KUBECTL_BINARY="$BIN/kubectl"
export KWOK_ETCD_BINARY="$BIN/etcd"
export KWOK_CONTROLLER_BINARY="$BIN/kwok"
# Pins the binaries were built from, and what could not be built here.
export FLUX_PLATFORM_TOOLCHAIN_KUBERNETES_VERSION="$KUBERNETES_VERSION"
export FLUX_PLATFORM_TOOLCHAIN_FLUX_SOURCE_CONTROLLER_VERSION="$SOURCE_CONTROLLER_VERSION"
export FLUX_PLATFORM_TOOLCHAIN_FLUX_KUSTOMIZE_CONTROLLER_VERSION="$KUSTOMIZE_CONTROLLER_VERSION"
export FLUX_PLATFORM_TOOLCHAIN_FLUX_NOTIFICATION_CONTROLLER_VERSION="$NOTIFICATION_CONTROLLER_VERSION"
export FLUX_PLATFORM_TOOLCHAIN_MISSING="${MISSING_ESSENTIAL[*]:-}"
export FLUX_PLATFORM_TOOLCHAIN_SKIPPED="${SKIPPED[*]:-}"
EOF
mv -f "$OUT/env.tmp" "$OUT/env"
CURRENT_STEP=""

# ---------------------------------------------------------------------------------------
version_of() { # BINARY -> one line
  local b=$1 out=""
  case "$b" in
    pulumi) out=$("$BIN/$b" version 2>&1) ;;
    kwok | kwokctl | etcd | kube-apiserver | kube-controller-manager | kube-scheduler)
      out=$(timeout 20 "$BIN/$b" --version 2>&1 | head -1) ;;
    kubectl) out=$(timeout 20 "$BIN/$b" version --client 2>&1 | head -1) ;;
    pulumi-language-nodejs) out="$(grep "^$b " "$PROVENANCE" | sed 's/.*@\(v[0-9.]*\).*/\1/') (no version flag)" ;;
    pulumi-resource-pulumi-nodejs | pulumi-analyzer-policy) out="(shell shim)" ;;
    pulumi-resource-kubernetes) out="$PULUMI_KUBERNETES_PLUGIN_VERSION (stamped; no version flag)" ;;
    pulumi-resource-*) out=$(timeout 20 "$BIN/$b" -version 2>&1 | head -1) ;;
    *) out="" ;;
  esac
  echo "${out:-(no version flag)}"
}

log "steps:"
for s in "${STEP_TIMES[@]}"; do log "  $s"; done
log "binaries in $BIN:"
for f in "$BIN"/*; do
  b=$(basename "$f")
  printf '  %-32s %s\n' "$b" "$(version_of "$b" | tr -s '\n' ' ')"
  printf '  %-32s from %s\n' "" "$(grep "^$b " "$PROVENANCE" | cut -d' ' -f2- || echo '?')"
done
log "CRDs in $CRDS: $(ls "$CRDS" | grep -c '\.yaml$') files (origins in $CRDS/SOURCES.txt)"
log "bin dir: $BIN"
log "env file: $OUT/env   (source it: . $OUT/env)"
if [ ${#SKIPPED[@]} -gt 0 ]; then
  log "skipped (optional, not served by the Go module proxy): ${SKIPPED[*]}"
fi
if [ ${#MISSING_ESSENTIAL[@]} -gt 0 ]; then
  log "INCOMPLETE: essential binaries not built (not served by the Go module proxy): ${MISSING_ESSENTIAL[*]}"
  if [ "${FLUX_PLATFORM_TOOLCHAIN_ALLOW_MISSING:-0}" = 1 ]; then
    log "FLUX_PLATFORM_TOOLCHAIN_ALLOW_MISSING=1: exiting 0 anyway (see e2e/infra/toolchain/README.md)"
    exit 0
  fi
  log "see e2e/infra/toolchain/README.md; exiting 3 (FLUX_PLATFORM_TOOLCHAIN_ALLOW_MISSING=1 exits 0)"
  exit 3
fi
log "toolchain complete"
