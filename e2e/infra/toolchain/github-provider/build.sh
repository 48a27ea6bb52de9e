#!/usr/bin/env bash
# Builds pulumi-resource-github: our bridge glue (this folder) around
# github.com/integrations/terraform-provider-github/v6, from the Go module proxy only.
#
#   build.sh BIN_DIR WORK_DIR [--force]
#
# WORK_DIR (outside the repo) gets a copy of the glue, its go.sum, the tfgen binary and the
# generated schema; BIN_DIR gets pulumi-resource-github (written to a temp name, then renamed).
# Idempotent: does nothing when BIN_DIR/pulumi-resource-github exists, unless --force.
# PULUMI_GITHUB_PLUGIN_VERSION (default 6.15.0, the npm SDK's) is stamped into the plugin.
set -euo pipefail
shopt -s inherit_errexit

usage() { echo "usage: $0 BIN_DIR WORK_DIR [--force]" >&2; exit 2; }
FORCE=0
ARGS=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    -*) usage ;;
    *) ARGS+=("$a") ;;
  esac
done
[ ${#ARGS[@]} -eq 2 ] || usage

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="${PULUMI_GITHUB_PLUGIN_VERSION:-6.15.0}"
PLUGIN=pulumi-resource-github
mkdir -p "${ARGS[0]}" "${ARGS[1]}"
BIN="$(cd "${ARGS[0]}" && pwd)"
WORK="$(cd "${ARGS[1]}" && pwd)"
case "$WORK/" in "$HERE"/*) echo "WORK_DIR must be outside $HERE" >&2; exit 2 ;; esac

T0=$SECONDS
log() { printf '[github-provider %s +%4ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*"; }

if [ -x "$BIN/$PLUGIN" ] && [ "$FORCE" = 0 ]; then
  log "cached: $BIN/$PLUGIN ($("$BIN/$PLUGIN" -version 2>/dev/null || echo '?')); --force rebuilds"
  exit 0
fi

# One run per work dir at a time.
exec 8>"$WORK/.lock"
flock 8

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
NICE=(nice -n 10)
LDFLAGS="-s -w -X local/pulumi-github-bridge/version.Version=$VERSION"

# 1. A fresh copy of the glue (no generated files in the repo). Only the files listed here,
# so a stray file in this folder cannot end up in the build.
SRC="$WORK/src"
rm -rf "$SRC"
mkdir -p "$SRC"
GLUE=(go.mod provider.go version/version.go cmd/pulumi-tfgen-github/main.go cmd/pulumi-resource-github/main.go)
(cd "$HERE" && cp --parents "${GLUE[@]}" "$SRC"/)
cd "$SRC"

# 2. go.sum. Some of the provider's dependencies (github.com/bored-engineer/
# github-conditional-http-transport and its /bbolt) are not in the public checksum database
# (its lookup answers 404), so `go mod tidy` cannot verify them there. Seed go.sum with the
# provider's own go.sum (from its module zip, itself verified): go then checks those modules
# against the hashes recorded upstream instead of asking the checksum database.
UPSTREAM_MOD=github.com/integrations/terraform-provider-github/v6
UPSTREAM_VER=$(go mod edit -json | jq -r --arg m "$UPSTREAM_MOD" '.Require[] | select(.Path == $m) | .Version')
UPSTREAM_DIR=$(GOFLAGS= go mod download -json "$UPSTREAM_MOD@$UPSTREAM_VER" | jq -r .Dir)
cp "$UPSTREAM_DIR/go.sum" go.sum
chmod u+w go.sum
log "go mod tidy ($UPSTREAM_MOD@$UPSTREAM_VER)"
"${NICE[@]}" go mod tidy

# 3. tfgen: the schema and bridge metadata the plugin embeds. Docs and examples are skipped
# (they need the upstream docs and the Terraform converter plugin, and nothing reads them).
log "building pulumi-tfgen-github"
mkdir -p "$WORK/bin"
"${NICE[@]}" go build -o "$WORK/bin/pulumi-tfgen-github" -ldflags "$LDFLAGS" ./cmd/pulumi-tfgen-github
GEN="$WORK/gen"
rm -rf "$GEN"
log "generating schema"
"$WORK/bin/pulumi-tfgen-github" schema --out "$GEN" --skip-docs --skip-examples >"$WORK/tfgen.log" 2>&1 ||
  { cat "$WORK/tfgen.log" >&2; exit 1; }
# tfgen leaves the version out of schema.json; the embedded copy carries it.
jq -c --arg v "$VERSION" '.version = $v' "$GEN/schema.json" >cmd/$PLUGIN/schema-embed.json
cp "$GEN/bridge-metadata.json" cmd/$PLUGIN/bridge-metadata.json

# 4. The plugin.
log "building $PLUGIN $VERSION"
"${NICE[@]}" go build -o "$BIN/.$PLUGIN.tmp" -ldflags "$LDFLAGS" ./cmd/$PLUGIN
mv -f "$BIN/.$PLUGIN.tmp" "$BIN/$PLUGIN"
log "done: $BIN/$PLUGIN ($("$BIN/$PLUGIN" -version)), schema in $GEN/schema.json"
