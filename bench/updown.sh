#!/usr/bin/env bash
# Start-up and teardown times of a local mesh (loopback only, bounded: every step has a
# timeout and everything started is stopped on exit).
#
#   bench/updown.sh [--bin PATH] [--services N] [--rounds N] [--idle SECS]
#
#   --bin PATH     meshctl binary (default target/debug/meshctl)
#   --services N   size of the generated mesh (default 100): N services, each calling the
#                  next, none with a `command` (proxies only)
#   --rounds N     repetitions of each measurement (default 3)
#   --idle SECS    how long each mesh runs between start and stop (default 2)
#
# For the demo (`up --demo`) and the generated mesh, each round prints the wall time of
# `up --detach` (and the "mesh ready in" it reports), of `down`, and of a foreground `up`
# stopped by SIGINT (what Ctrl-C sends it) until it exits. Times are milliseconds.
set -euo pipefail

bin="target/debug/meshctl"
services=100
rounds=3
idle=2
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --services) services="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --idle) idle="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "no meshctl binary at $bin (cargo build)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 2; }

work="$(readlink -f "$(mktemp -d)")"
fg_pid=""
cleanup() {
  set +e
  [ -n "$fg_pid" ] && kill "$fg_pid" 2>/dev/null && wait "$fg_pid" 2>/dev/null
  for d in "$work"/*/; do (cd "$d" && timeout 70 "$bin" down >/dev/null 2>&1); done
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# N free loopback ports, one per line (held together while choosing, so all distinct).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

# The generated mesh: svc-0 → svc-1 → … → svc-(N-1), no commands.
mkdir -p "$work/generated"
{
  echo "services:"
  i=0
  for port in $(free_ports "$services"); do
    echo "  svc-$i:"
    echo "    port: $port"
    [ $((i + 1)) -lt "$services" ] && echo "    upstreams: [svc-$((i + 1))]"
    i=$((i + 1))
  done
} >"$work/generated/mesh.yaml"
mkdir -p "$work/demo"

# up_args for a mesh directory: the demo is `up --demo`, the generated one reads mesh.yaml.
up_args() { if [ "$1" = demo ]; then echo "up --demo"; else echo "up"; fi; }

# One round on mesh $1: up --detach, down, then a foreground up stopped by SIGINT.
round() {
  local name="$1" dir="$work/$1" t0 up_ms ready down_ms fg_ready fg_stop
  t0=$(now_ms)
  # shellcheck disable=SC2046
  (cd "$dir" && timeout 90 "$bin" $(up_args "$name") --detach >/dev/null 2>"$work/up.err") \
    || { echo "$name: up --detach failed: $(tail -1 "$work/up.err")" >&2; return 1; }
  up_ms=$(( $(now_ms) - t0 ))
  ready="$(sed -nE 's/^mesh ready in ([0-9]+) ms.*/\1/p' "$work/up.err")"
  sleep "$idle"
  t0=$(now_ms)
  (cd "$dir" && timeout 90 "$bin" down >/dev/null) || { echo "$name: down failed" >&2; return 1; }
  down_ms=$(( $(now_ms) - t0 ))
  printf '%-10s up --detach %6d ms (reports ready in %5s ms)   down %6d ms' \
    "$name" "$up_ms" "$ready" "$down_ms"

  # Foreground: ready when run/ready.json appears; then SIGINT, as Ctrl-C would send.
  rm -f "$dir/.meshctl/run/ready.json"
  t0=$(now_ms)
  # shellcheck disable=SC2046
  (cd "$dir" && exec "$bin" $(up_args "$name") >/dev/null 2>"$work/fg.err") &
  fg_pid=$!
  while [ ! -e "$dir/.meshctl/run/ready.json" ]; do
    kill -0 "$fg_pid" 2>/dev/null || { echo "$name: foreground up exited: $(tail -1 "$work/fg.err")" >&2; fg_pid=""; return 1; }
    [ $(( $(now_ms) - t0 )) -gt 90000 ] && { echo "$name: foreground up not ready in 90 s" >&2; return 1; }
    sleep 0.02
  done
  fg_ready=$(( $(now_ms) - t0 ))
  sleep "$idle"
  t0=$(now_ms)
  kill -INT "$fg_pid"
  wait "$fg_pid" || { echo "$name: foreground up exited non-zero after SIGINT" >&2; fg_pid=""; return 1; }
  fg_pid=""
  fg_stop=$(( $(now_ms) - t0 ))
  printf '   foreground: ready %6d ms, Ctrl-C %6d ms\n' "$fg_ready" "$fg_stop"
}

echo "meshctl up/down times: $bin; $(nproc) cores; generated mesh of $services services"
for r in $(seq 1 "$rounds"); do
  for name in demo generated; do
    round "$name"
  done
done
