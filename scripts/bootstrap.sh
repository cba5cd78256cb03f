#!/usr/bin/env bash
# Installs what a fresh clone needs: pnpm (pinned; corepack's download fails its signature check on
# these machines) and the workspace's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 24 first on PATH (installed from npm when the machine's node is older)
. scripts/node-runtime.sh
echo "node $(node --version)"
want=10.34.9
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$want" ]; then
  npm install -g "pnpm@$want" >/dev/null
fi
export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile
