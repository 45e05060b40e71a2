#!/usr/bin/env bash
# Rebuilds ui/dist (committed, embedded into cepd by package ui) from ui/src.
# Needs Node 20+ and npm; `npm ci` installs the locked dependencies.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
