#!/usr/bin/env bash
# The test command: sets up what the tests need on this machine, then runs every test.
#
#   ./scripts/test.sh               set up (only what is missing), then `npm test`
#   ./scripts/test.sh --setup-only  set up, run nothing
#   ./scripts/test.sh --no-setup    `npm test` only
#   ./scripts/test.sh --check       say which Debian packages are missing (exit 1 if any), change nothing
#
# Set-up, each step skipped when already done (a second run spends a few seconds here):
#   1. Debian packages (below) with apt-get: as root, else through sudo; without either, it stops
#      with the list and the command to run.
#   2. `npm ci` when package-lock.json changed since the last install (or nothing is installed).
#   3. code-server, the offline VS Code the integration and e2e tests run in, built once into
#      ~/.cache/agent-swarm/ (a few minutes the first time; scripts/vscode/install-code-server.js).
# Then `npm test`: type check, unit, integration (real VS Code), end-to-end (browser).
# Details and timings: docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests use, by Debian package (docs/testing.md explains each):
#   git                      every worktree, patch and board test; the harness's fixture repositories
#   ca-certificates          npm and git over https
#   chromium                 the browser of the integration and e2e tests (Playwright drives it)
#   ripgrep                  code-server's search (copied into its install)
#   python3 make g++         node-gyp builds code-server's native modules
#   libkrb5-dev              ... of which `kerberos` links libkrb5 and libgssapi_krb5
#   procps                   `ps` (tests look for processes left behind), /proc readers
#   util-linux               setsid, mount (disk-full tests on a small tmpfs), prlimit, taskset (the CPU-affinity test)
#   bubblewrap               `bwrap`, the agent sandbox and its tests
#   redis-server             the shared-board tests (the harness starts its own server on a free
#                            port; the Debian service is neither needed nor started here)
#   iproute2                 `ip`, network-namespace tests
APT_PACKAGES=(git ca-certificates chromium ripgrep python3 make g++ libkrb5-dev procps util-linux bubblewrap redis-server iproute2)
NODE_MAJOR_MIN=20
LOCK_STAMP=node_modules/.ci-lock-sha

say() { printf '== %s\n' "$*"; }
fail() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }
seconds_since() { echo $(( $(date +%s) - $1 )); }

check_node() {
  command -v node >/dev/null || fail "Node.js ${NODE_MAJOR_MIN} or newer is needed and node is not on PATH. Debian 12's own nodejs is 18: install Node ${NODE_MAJOR_MIN} from nodesource.com or with nvm."
  command -v npm >/dev/null || fail "npm is not on PATH (it comes with Node.js from nodesource.com or nvm)."
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge "$NODE_MAJOR_MIN" ] || fail "Node.js ${NODE_MAJOR_MIN} or newer is needed, this is $(node --version). Debian 12's own nodejs is 18: install Node ${NODE_MAJOR_MIN} from nodesource.com or with nvm."
}

missing_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$pkg"
  done
}

# How this script runs a command as root: directly, or through sudo (non-interactive unless there
# is a terminal to ask for a password on). Set by find_root; empty when running as root.
ROOT_PREFIX=()
find_root() {
  if [ "$(id -u)" -eq 0 ]; then ROOT_PREFIX=(); return 0; fi
  if command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then ROOT_PREFIX=(sudo); return 0; fi
  return 1
}
as_root() { "${ROOT_PREFIX[@]}" "$@"; }

check_packages() {
  command -v dpkg-query >/dev/null || fail "dpkg-query not found: not a Debian/Ubuntu machine. Install these (Debian names) yourself: ${APT_PACKAGES[*]}"
  local missing
  mapfile -t missing < <(missing_packages)
  [ "${#missing[@]}" -eq 0 ] || fail "these Debian packages are missing: ${missing[*]}. Install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  say "system packages: all ${#APT_PACKAGES[@]} installed"
}

install_packages() {
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    say "not a Debian/Ubuntu machine: make sure these are installed (Debian names): ${APT_PACKAGES[*]}"
    return
  fi
  local missing
  mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    say "system packages: all ${#APT_PACKAGES[@]} installed"
    return
  fi
  find_root || fail "these Debian packages are missing: ${missing[*]}. Install them as root (sudo apt-get install -y --no-install-recommends ${missing[*]}) and run this again."
  say "installing system packages: ${missing[*]}"
  # Packages must not start services (redis-server would): the tests start what they need
  # themselves. policy-rc.d is Debian's switch for that; it is only added for this install.
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if ! as_root test -e "$policy"; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    added_policy=1
  fi
  local status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || status=$?
  if [ "$status" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
  fi
  if [ -n "$added_policy" ]; then as_root rm -f "$policy"; fi
  [ "$status" -eq 0 ] || fail "apt-get failed (exit $status) installing: ${missing[*]}"
  mapfile -t missing < <(missing_packages)
  [ "${#missing[@]}" -eq 0 ] || fail "still missing after apt-get: ${missing[*]}"
}

install_node_modules() {
  local sha
  sha="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ -L node_modules ]; then
    # A helper's worktree links the main checkout's node_modules: reinstalling through the link
    # would pull it from under everyone else who uses it.
    [ -f node_modules/.package-lock.json ] || fail "node_modules links to $(readlink node_modules), which has no installed packages: run npm ci there."
    say "node_modules links to $(readlink node_modules): not reinstalled through the link"
    return
  fi
  if [ -f "$LOCK_STAMP" ] && [ "$(cat "$LOCK_STAMP")" = "$sha" ] && [ -f node_modules/.package-lock.json ]; then
    say "node modules: installed for this package-lock.json"
    return
  fi
  say "npm ci (package-lock.json changed since the last install)"
  npm ci --no-audit --no-fund
  echo "$sha" > "$LOCK_STAMP"
}

# Runs one set-up step and says how long it took when that was more than a second.
timed() {
  local started elapsed
  started=$(date +%s)
  "$@"
  elapsed=$(seconds_since "$started")
  if [ "$elapsed" -gt 1 ]; then say "  ($1: ${elapsed} s)"; fi
}

install_code_server() {
  say "code-server (offline VS Code for integration and e2e tests)"
  node scripts/vscode/install-code-server.js >/dev/null
}

setup() {
  local started
  started=$(date +%s)
  check_node
  timed install_packages
  timed install_node_modules
  timed install_code_server
  say "set-up done in $(seconds_since "$started") s"
}

mode="${1:-}"
case "$mode" in
  "") setup ;;
  --setup-only) setup; exit 0 ;;
  --check) check_node; check_packages; exit 0 ;;
  --no-setup) ;;
  *) fail "unknown option \"$mode\" (use --setup-only, --no-setup or --check)" ;;
esac

started=$(date +%s)
status=0
npm test || status=$?
say "npm test $([ "$status" -eq 0 ] && echo passed || echo "failed (exit $status)") in $(seconds_since "$started") s"
exit "$status"
