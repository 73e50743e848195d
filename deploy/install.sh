#!/bin/sh
# Manual install of the Skiff agent, for hosts the server cannot reach over SSH. The server serves
# this script with its own address filled in; the console shows the one-line command:
#
#   curl -fsSL <server>/api/provisioning/install.sh | sudo sh -s -- --join-token TOKEN [--name NAME]
#
# It downloads the agent bundle and its sha256 from the server, verifies it, and installs it with
# the same host script as an install over SSH (deploy/skiff-host.sh): /opt/skiff, /etc/skiff,
# /var/lib/skiff, a systemd unit (or a supervised process without systemd), then the agent enrols.
# A failed step removes what the install made.
set -eu
SERVER='@SKIFF_SERVER@'
token=""
name=$(hostname 2>/dev/null || echo host)

fail() {
  echo "skiff install: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --join-token) token=${2:-}; shift 2 ;;
    --name) name=${2:-}; shift 2 ;;
    --server) SERVER=${2:-}; shift 2 ;;
    *) fail "unknown option $1 (options: --join-token TOKEN, --name NAME, --server URL)" ;;
  esac
done
case "$token" in "" | *[!A-Za-z0-9_-]*) fail "give the join token from the console with --join-token" ;; esac
case "$name" in "" | -* | *[!A-Za-z0-9._:-]*) fail "--name may hold letters, digits, '.', '_', ':' and '-' only" ;; esac
case "$SERVER" in http://* | https://*) ;; *) fail "--server must be the server's http(s) address" ;; esac
[ "$(id -u)" = 0 ] || fail "run it as root (sudo sh -s -- ...)"

staging=$(mktemp -d /tmp/skiff-provision.XXXXXXXXXX)
trap 'rm -rf "$staging"' EXIT

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "neither curl nor wget is installed"
  fi
}

case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "architecture $(uname -m) is not supported: Skiff runs on x86_64 and aarch64" ;;
esac

echo "==> downloading from $SERVER (agent bundle for linux-$arch)"
fetch "$SERVER/api/provisioning/skiff-host.sh" "$staging/skiff-host.sh" || fail "cannot download the host script from $SERVER"
fetch "$SERVER/api/provisioning/bundle.tar.gz.sha256?arch=$arch" "$staging/bundle.sha256" || fail "cannot download the checksum (the server may have no bundle for $arch: see its answer at $SERVER/api/provisioning/bundle.tar.gz.sha256?arch=$arch)"
fetch "$SERVER/api/provisioning/bundle.tar.gz?arch=$arch" "$staging/bundle.tar.gz" || fail "cannot download the agent bundle"
sha=$(awk '{ print $1; exit }' "$staging/bundle.sha256")
host="sh $staging/skiff-host.sh"

echo "==> checking the host"
facts=$($host preflight)
echo "$facts" | sed 's/^/    /'
echo "$facts" | grep -q '^skiff=no$' || fail "Skiff is already installed here: upgrade or uninstall it from the console"
echo "$facts" | grep -q '^overlay=no$' && fail "the kernel has no overlay file system (modprobe overlay, or a kernel with CONFIG_OVERLAY_FS)"
echo "$facts" | grep -q '^cgroup=none$' && fail "no cgroup file system is mounted at /sys/fs/cgroup"

printf 'SKIFF_SERVER=%s\nSKIFF_JOIN_TOKEN=%s\nSKIFF_HOST_NAME=%s\n' "$SERVER" "$token" "$name" >"$staging/agent.env"
chmod 0600 "$staging/agent.env"

echo "==> installing"
if ! { $host verify "$staging" "$sha" && $host unpack "$staging" "$sha" && $host configure "$staging" && $host start; }; then
  $host rollback >/dev/null 2>&1 || true
  fail "the install failed (see above); nothing was left behind"
fi
echo "==> the agent is running and enrols with $SERVER as $name; it shows in the console's host list in a moment"
