#!/bin/sh
# skiff-host.sh: the host side of Skiff's fleet provisioning. The server uploads it over SFTP and
# runs one subcommand per install step (as root, through sudo when asked), always with fixed
# arguments that it has validated: a staging directory it made and a sha256 in hex. Secrets never
# appear on a command line: the join token arrives in STAGING/agent.env (mode 0600).
#
#   skiff-host.sh preflight                 facts about the host as key=value lines
#   skiff-host.sh verify STAGING SHA256     checks STAGING/bundle.tar.gz against SHA256
#   skiff-host.sh unpack STAGING SHA256     unpacks the bundle to /opt/skiff/releases/<sha> and makes it current
#   skiff-host.sh configure STAGING         /etc/skiff/agent.env, /var/lib/skiff, the service
#   skiff-host.sh start | stop | status | log   the agent's service (systemd, else a supervised process)
#   skiff-host.sh upgrade STAGING SHA256    new release, restart the agent (containers keep running)
#   skiff-host.sh rollback                  undoes a failed first install: removes everything Skiff
#   skiff-host.sh uninstall [--keep-data]   stops the agent and removes Skiff (keeps /var/lib/skiff with --keep-data)
#   skiff-host.sh supervise                 (internal) the supervised service where there is no systemd
#
# Exit status: 0 done; 1 failed (the last line of stderr says why); 2 bad arguments.
set -eu
umask 022
# The agent's settings come from $CONF/agent.env alone (as under systemd), never from the caller's
# environment: a SKIFF_* variable of the shell that runs this script is dropped.
for variable in $(env | sed -n 's/^\(SKIFF_[A-Z0-9_]*\)=.*/\1/p'); do unset "$variable"; done

PREFIX=/opt/skiff
STATE=/var/lib/skiff
CONF=/etc/skiff
RUN=/run/skiff
LOGDIR=/var/log/skiff
UNIT=/etc/systemd/system/skiff-agent.service

fail() {
  echo "$*" >&2
  exit 1
}

usage() {
  echo "usage: skiff-host.sh preflight|verify|unpack|configure|start|stop|status|upgrade|rollback|uninstall ..." >&2
  exit 2
}

# Arguments are checked before anything is touched: a staging directory made by the server under
# /tmp, and a sha256 in lowercase hex.
check_staging() {
  case "$1" in
    /tmp/skiff-provision.*) ;;
    *) echo "not a staging directory: $1" >&2; exit 2 ;;
  esac
  case "$1" in *[!A-Za-z0-9./_-]*) echo "not a staging directory: $1" >&2; exit 2 ;; esac
  [ -d "$1" ] || fail "staging directory $1 is missing"
}

check_sha() {
  case "$1" in
    *[!0-9a-f]*) echo "not a sha256: $1" >&2; exit 2 ;;
  esac
  [ "${#1}" -eq 64 ] || { echo "not a sha256: $1" >&2; exit 2; }
}

# A file, or a directory with something in it (an empty disk mounted for Skiff is no installation).
present() {
  if [ -d "$1" ]; then [ -n "$(ls -A "$1" 2>/dev/null)" ]; else [ -e "$1" ]; fi
}

# Removes a directory, or only its contents when it is a mount point (a disk mounted for Skiff).
remove_path() {
  if [ -d "$1" ] && mountpoint -q "$1" 2>/dev/null; then
    find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  else
    rm -rf "$1"
  fi
}

has_systemd() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

# Free kilobytes on the file system that holds $1 (or its nearest existing parent).
free_kb() {
  dir=$1
  while [ ! -e "$dir" ]; do dir=$(dirname "$dir"); done
  df -Pk "$dir" | awk 'NR == 2 { print $4 }'
}

preflight() {
  echo "uid=$(id -u)"
  echo "arch=$(uname -m)"
  echo "kernel=$(uname -r)"
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "cgroup=v2"
  elif [ -d /sys/fs/cgroup/memory ] || grep -q ' cgroup ' /proc/mounts 2>/dev/null; then
    echo "cgroup=v1"
  else
    echo "cgroup=none"
  fi
  if grep -qw overlay /proc/filesystems 2>/dev/null; then
    echo "overlay=yes"
  elif [ -n "$(find "/lib/modules/$(uname -r)" -name 'overlay.ko*' 2>/dev/null | head -n 1)" ]; then
    echo "overlay=module"
  else
    echo "overlay=no"
  fi
  echo "free_opt_kb=$(free_kb "$PREFIX")"
  echo "free_state_kb=$(free_kb "$STATE")"
  if command -v dockerd >/dev/null 2>&1 || [ -S /var/run/docker.sock ]; then echo "docker=yes"; else echo "docker=no"; fi
  skiff=no
  for path in "$PREFIX" "$STATE" "$CONF" "$UNIT"; do present "$path" && skiff=yes; done
  echo "skiff=$skiff"
  if [ -r "$PREFIX/current/VERSION" ]; then echo "skiff_version=$(cat "$PREFIX/current/VERSION")"; fi
  if has_systemd; then echo "systemd=yes"; else echo "systemd=no"; fi
  missing=""
  for tool in tar sha256sum setsid df awk; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done
  echo "missing_tools=${missing# }"
}

verify() {
  check_staging "$1"
  check_sha "$2"
  [ -f "$1/bundle.tar.gz" ] || fail "the bundle was not uploaded to $1/bundle.tar.gz"
  actual=$(sha256sum "$1/bundle.tar.gz" | awk '{ print $1 }')
  [ "$actual" = "$2" ] || fail "the bundle's checksum is $actual, expected $2: the upload was damaged; run the job again"
  echo "sha256 $actual ok"
}

unpack() {
  verify "$1" "$2" >/dev/null
  release="$PREFIX/releases/$2"
  rm -rf "$release.tmp"
  mkdir -p "$release.tmp"
  tar -xzf "$1/bundle.tar.gz" -C "$release.tmp" --no-same-owner
  [ -x "$release.tmp/bin/skiff-agent" ] || fail "the bundle has no bin/skiff-agent"
  rm -rf "$release"
  mv "$release.tmp" "$release"
  ln -sfn "$release" "$PREFIX/current.tmp"
  mv -T "$PREFIX/current.tmp" "$PREFIX/current"
  echo "unpacked to $release ($(cat "$release/VERSION"))"
}

configure() {
  check_staging "$1"
  [ -f "$1/agent.env" ] || fail "the agent's settings were not uploaded to $1/agent.env"
  mkdir -p "$CONF" "$LOGDIR"
  chmod 0700 "$CONF"
  cp "$1/agent.env" "$CONF/agent.env.tmp"
  chmod 0600 "$CONF/agent.env.tmp"
  mv "$CONF/agent.env.tmp" "$CONF/agent.env"
  mkdir -p "$STATE"
  chmod 0711 "$STATE"
  if has_systemd; then
    cp "$PREFIX/current/skiff-agent.service" "$UNIT"
    systemctl daemon-reload
    systemctl enable skiff-agent.service >/dev/null 2>&1
    echo "systemd unit $UNIT installed"
  else
    echo "no systemd: the agent runs as a supervised process (pid in $RUN/supervisor.pid, log in $LOGDIR/agent.log)"
  fi
}

supervisor_pid() {
  [ -f "$RUN/supervisor.pid" ] || return 1
  pid=$(cat "$RUN/supervisor.pid")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start() {
  if has_systemd; then
    systemctl start skiff-agent.service
    echo "started skiff-agent.service"
    return
  fi
  if pid=$(supervisor_pid); then
    echo "the agent is already running (supervisor $pid)"
    return
  fi
  mkdir -p "$RUN" "$LOGDIR"
  setsid "$PREFIX/current/skiff-host.sh" supervise </dev/null >>"$LOGDIR/agent.log" 2>&1 &
  echo $! >"$RUN/supervisor.pid"
  sleep 1
  supervisor_pid >/dev/null || fail "the agent stopped at once; its log ($LOGDIR/agent.log) ends with: $(tail -n 5 "$LOGDIR/agent.log" 2>/dev/null)"
  echo "started the agent (supervisor $(cat "$RUN/supervisor.pid"))"
}

# Stops only the agent: its containers run on under their shims (live restore).
stop() {
  if has_systemd; then
    if systemctl is-active --quiet skiff-agent.service; then systemctl stop skiff-agent.service; fi
    echo "stopped skiff-agent.service"
    return
  fi
  if pid=$(supervisor_pid); then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      [ -f "$RUN/agent.pid" ] && kill -KILL "$(cat "$RUN/agent.pid")" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$RUN/supervisor.pid" "$RUN/agent.pid"
  echo "stopped the agent"
}

status() {
  if has_systemd; then
    systemctl is-active skiff-agent.service || true
  elif pid=$(supervisor_pid); then
    echo "running (supervisor $pid, agent $(cat "$RUN/agent.pid" 2>/dev/null || echo '?'))"
  else
    echo "stopped"
  fi
}

# The settings file is read, never sourced: only SKIFF_* names, values taken literally.
load_settings() {
  while IFS= read -r line; do
    case "$line" in
      SKIFF_[A-Z_]*=*) export "${line%%=*}=${line#*=}" ;;
    esac
  done <"$CONF/agent.env"
}

supervise() {
  [ -f "$CONF/agent.env" ] || fail "$CONF/agent.env is missing"
  load_settings
  stopping=0
  child=""
  trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
  while :; do
    "$PREFIX/current/bin/skiff-agent" --root "$STATE" &
    child=$!
    echo "$child" >"$RUN/agent.pid"
    code=0
    wait "$child" || code=$?
    # A trapped signal interrupts wait; wait again for the agent's own exit.
    while kill -0 "$child" 2>/dev/null; do code=0; wait "$child" || code=$?; done
    rm -f "$RUN/agent.pid"
    [ "$stopping" = 1 ] && exit 0
    case "$code" in 0 | 2 | 3) exit "$code" ;; esac
    echo "skiff-host: the agent exited with status $code; restarting in 2 s"
    sleep 2
  done
}

log() {
  if has_systemd; then
    journalctl -u skiff-agent.service -n 40 --no-pager 2>/dev/null || true
  else
    tail -n 40 "$LOGDIR/agent.log" 2>/dev/null || echo "no agent log at $LOGDIR/agent.log"
  fi
}

upgrade() {
  verify "$1" "$2" >/dev/null
  previous=$(readlink "$PREFIX/current" 2>/dev/null || true)
  [ -n "$previous" ] || fail "Skiff is not installed here ($PREFIX/current is missing): install it instead"
  if [ "$previous" = "$PREFIX/releases/$2" ]; then
    echo "release $2 is already current; restarting the agent"
    stop
    start
    return
  fi
  unpack "$1" "$2"
  stop
  if ! (start); then
    echo "the new agent did not start: going back to $previous" >&2
    ln -sfn "$previous" "$PREFIX/current.tmp"
    mv -T "$PREFIX/current.tmp" "$PREFIX/current"
    start || true
    rm -rf "$PREFIX/releases/$2"
    fail "upgrade failed; the previous release runs again"
  fi
  # Running shims keep their (now unlinked) binary; nothing else uses the old release.
  for release in "$PREFIX"/releases/*; do
    [ "$release" = "$PREFIX/releases/$2" ] || rm -rf "$release"
  done
  if has_systemd; then cp "$PREFIX/current/skiff-agent.service" "$UNIT" && systemctl daemon-reload; fi
  echo "upgraded to $(cat "$PREFIX/current/VERSION")"
}

# Container supervisors (skiff-shim) of this installation: their binary is under $PREFIX and they
# share this mount namespace (another Skiff on the same kernel, in its own namespace, is left alone).
kill_shims() {
  self_ns=$(readlink /proc/self/ns/mnt)
  for proc in /proc/[0-9]*; do
    exe=$(readlink "$proc/exe" 2>/dev/null) || continue
    case "$exe" in "$PREFIX"/*) ;; *) continue ;; esac
    [ "$(readlink "$proc/ns/mnt" 2>/dev/null)" = "$self_ns" ] || continue
    kill -KILL "${proc#/proc/}" 2>/dev/null || true
  done
}

# Mounts under the state directory (container layers, volumes), deepest first.
unmount_state() {
  awk -v state="$STATE" '$5 == state || index($5, state "/") == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while IFS= read -r mount; do umount -l "$mount" 2>/dev/null || true; done
}

remove_all() {
  keep_data=$1
  if [ -x "$PREFIX/current/node/bin/node" ] && [ -S "$RUN/docker.sock" ]; then
    if [ "$keep_data" = yes ]; then how=--stop; else how=; fi
    "$PREFIX/current/node/bin/node" "$PREFIX/current/remove-containers.mjs" "$RUN/docker.sock" $how || true
  fi
  stop >/dev/null
  kill_shims
  # The bridges and firewall rules the engine made (its own nftables table or iptables chains).
  if [ -x "$PREFIX/current/bin/skiff-agent" ]; then
    (
      [ -f "$CONF/agent.env" ] && load_settings
      "$PREFIX/current/bin/skiff-agent" remove-networks --root "$STATE"
    ) || echo "could not remove the agent's bridges and firewall rules (see above)" >&2
  fi
  if has_systemd && [ -f "$UNIT" ]; then
    systemctl disable skiff-agent.service >/dev/null 2>&1 || true
    rm -f "$UNIT"
    systemctl daemon-reload
  fi
  for path in "$PREFIX" "$CONF" "$RUN" "$LOGDIR"; do remove_path "$path"; done
  if [ "$keep_data" = no ]; then
    unmount_state
    remove_path "$STATE"
  fi
}

rollback() {
  remove_all no
  echo "removed everything the install had made"
}

uninstall() {
  keep_data=no
  [ "${1:-}" = "--keep-data" ] && keep_data=yes
  present "$PREFIX" || present "$STATE" || present "$CONF" || echo "Skiff was not installed here"
  remove_all "$keep_data"
  if [ "$keep_data" = yes ]; then echo "removed Skiff; kept its data in $STATE"; else echo "removed Skiff and its data"; fi
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  preflight) [ $# -eq 0 ] || usage; preflight ;;
  verify) [ $# -eq 2 ] || usage; verify "$1" "$2" ;;
  unpack) [ $# -eq 2 ] || usage; unpack "$1" "$2" ;;
  configure) [ $# -eq 1 ] || usage; configure "$1" ;;
  start) [ $# -eq 0 ] || usage; start ;;
  stop) [ $# -eq 0 ] || usage; stop ;;
  status) [ $# -eq 0 ] || usage; status ;;
  log) [ $# -eq 0 ] || usage; log ;;
  upgrade) [ $# -eq 2 ] || usage; upgrade "$1" "$2" ;;
  rollback) [ $# -eq 0 ] || usage; rollback ;;
  uninstall)
    [ $# -le 1 ] || usage
    case "${1:-}" in "" | --keep-data) ;; *) usage ;; esac
    uninstall "${1:-}"
    ;;
  supervise) [ $# -eq 0 ] || usage; supervise ;;
  *) usage ;;
esac
