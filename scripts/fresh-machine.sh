#!/usr/bin/env bash
# Proves the test command on a fresh Debian 12: makes a minimal Debian 12 root file system with
# debootstrap (cached), gives it this machine's Node.js the way a Node package installs it (binary,
# npm, headers) and nothing else, clones this repository's HEAD into it, and runs
# ./scripts/test.sh there as root in a chroot with its own PID and mount namespaces (every process
# and mount ends with it).
#
#   sudo ./scripts/fresh-machine.sh                   set-up and every test
#   sudo ./scripts/fresh-machine.sh --setup-only      arguments go to scripts/test.sh
#   FRESH_ROOT=/var/tmp/deb12 sudo ./scripts/fresh-machine.sh
#
# The pristine file system is cached in $FRESH_ROOT.base (default /var/tmp/agent-swarm-fresh-deb12);
# each run starts from a copy of it in $FRESH_ROOT, removed at the end unless FRESH_KEEP=1.
# Needs root, debootstrap (apt-get install debootstrap) and the network apt and npm use. The
# network settings this machine needs (DNS, extra CA certificates, proxy variables) are passed in.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

fail() { printf 'scripts/fresh-machine.sh: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mounts): run it with sudo."
command -v debootstrap >/dev/null || fail "debootstrap is not installed: apt-get install -y debootstrap"
command -v node >/dev/null || fail "node is not on PATH: the fresh system gets this machine's Node.js."

root="${FRESH_ROOT:-/var/tmp/agent-swarm-fresh-deb12}"
base="$root.base"
if [ ! -f "$base/.complete" ]; then
  echo "== debootstrap: minimal Debian 12 into $base (once)"
  rm -rf "$base"
  debootstrap --variant=minbase bookworm "$base" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
  touch "$base/.complete"
fi
rm -rf "$root"
cp -a "$base" "$root"
cleanup() { if [ "${FRESH_KEEP:-}" != 1 ]; then rm -rf "$root"; fi; }
trap cleanup EXIT

echo "== Node.js $(node --version) into /usr/local (binary, npm, headers)"
node_prefix="$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)"
install -D -m 755 "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
if [ -d "$node_prefix/include/node" ]; then cp -a "$node_prefix/include/node" "$root/usr/local/include/node"; fi

echo "== network settings of this machine (DNS, extra CA certificates), /etc/hosts as Debian's installer writes it"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap leaves no /etc/hosts (the installer or a container runtime writes one); without it
# "localhost" does not resolve, which no real machine has to live with.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
if [ -d /usr/local/share/ca-certificates ]; then cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"; fi

echo "== fresh clone of $(git rev-parse --short HEAD) into /root/agent-swarm"
git clone --quiet --no-local --no-hardlinks "$repo" "$root/root/agent-swarm"
git -C "$root/root/agent-swarm" checkout --quiet --detach "$(git rev-parse HEAD)"

env_in=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb)
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY NODE_EXTRA_CA_CERTS; do
  if [ -n "${!name:-}" ]; then env_in+=("$name=${!name}"); fi
done
echo "== ./scripts/test.sh $* (in the fresh system)"
started=$(date +%s)
status=0
unshare --mount --pid --fork --mount-proc="$root/proc" bash -c '
  set -e
  root="$1"; shift
  mount --rbind /dev "$root/dev"
  mount -t sysfs sysfs "$root/sys"
  mount -t tmpfs -o size=1g tmpfs "$root/dev/shm"
  exec chroot "$root" /usr/bin/env -i "$@"
' fresh "$root" "${env_in[@]}" bash -c 'cd /root/agent-swarm && ./scripts/test.sh "$@"' test.sh "$@" || status=$?
echo "== fresh machine: scripts/test.sh $* exited with $status after $(( $(date +%s) - started )) s"
exit "$status"
