#!/usr/bin/env bash
# Installs the app's packages when missing or older than the lockfile, and runs `next build` when
# the build is missing or older than a source file. Used by `make web` and `make web-build`.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "web: npm ci"; npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -f .next/BUILD_ID ] || [ -n "$(find app components lib next.config.ts package-lock.json -newer .next/BUILD_ID -print -quit)" ]; then
  echo "web: next build"; npx next build > .next-build.log 2>&1 || { cat .next-build.log; exit 1; }
fi
