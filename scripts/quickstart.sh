#!/usr/bin/env bash
# One command from a fresh clone to a swarm run: installs dependencies (once), builds, and lets the
# swarm modernize a sample repository with an executor that needs no API key.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v git >/dev/null || ! command -v node >/dev/null; then
  echo "The quick start needs git and Node.js 20 or newer on PATH." >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== Installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
echo "== Building"
npm run --silent build
exec node scripts/demo.js "$@"
