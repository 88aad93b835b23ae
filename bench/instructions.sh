#!/usr/bin/env bash
# User-space instructions per request in each proxy of the meshctl pair, counted by
# valgrind's callgrind: the same binary and load give the same count whatever else the
# machine does, so two builds can be compared on a noisy host, where CPU time per request
# (bench/syscalls.sh) varies by 25% between back-to-back runs. Kernel work (about half of a
# proxy's CPU, see bench/RESULTS.md) is not counted; use bench/syscalls.sh for that.
#
#   bench/instructions.sh [MESHCTL_BIN]        # default: target/release/meshctl
#   REQUESTS=2000 CONNS=16 bench/instructions.sh
#   KEEP=DIR bench/instructions.sh             # also keep the callgrind dumps in DIR
#                                              # (callgrind_annotate DIR/h1-outbound.out)
#
# Each proxy runs under callgrind (about 50x slower); the counters are zeroed after a warm-up
# and dumped after a bounded h2load run (HTTP/1.1 with --h1, then h2c), so start-up is not
# counted. Needs valgrind, nginx and h2load.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(realpath "${1:-$here/../target/release/meshctl}")"
requests="${REQUESTS:-2000}"
conns="${CONNS:-16}"
for tool in valgrind callgrind_control nginx h2load; do
  command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is not installed" >&2; exit 1; }
done

# shellcheck source=bench/local-pair.sh
. "$here/local-pair.sh"
mkdir -p "$work/cg"
# `meshctl proxy` runs under callgrind (its counters are zeroed after the warm-up);
# `meshctl certs` runs natively.
cat > "$work/meshctl" <<WRAP
#!/bin/sh
if [ "\$1" = proxy ]; then
  exec valgrind -q --tool=callgrind --log-file="$work/valgrind.%p.log" --callgrind-out-file="$work/cg/out.%p" "$bin" "\$@"
fi
exec "$bin" "\$@"
WRAP
chmod +x "$work/meshctl"

start_local_pair "$work/meshctl" 60

# Instructions (Ir) callgrind counted in `pid` since the last zeroing.
dump() {
  local pid="$1" before after
  before="$(ls "$work/cg" | wc -l)"
  callgrind_control -d "$pid" >/dev/null 2>&1
  for _ in $(seq 100); do
    after="$(ls "$work/cg" | wc -l)"
    [ "$after" -gt "$before" ] && break
    sleep 0.1
  done
  # The newest dump of this pid; its "summary:" line is the total Ir since the zeroing.
  awk '/^summary:/ {print $2}' "$(ls -t "$work/cg/out.$pid"* | head -1)"
}

printf '%-6s %-9s %9s %14s\n' test proxy requests "instr/req"
measure() {
  local name="$1"; shift
  "$@" -n "$((conns * 20))" >/dev/null 2>&1 || true         # warm-up: connections, pools
  callgrind_control -z "$inbound" >/dev/null 2>&1
  callgrind_control -z "$outbound" >/dev/null 2>&1
  local n
  n="$("$@" -n "$requests" 2>&1 | awk '/^requests:/ {for (i = 1; i <= NF; i++) if ($i == "succeeded,") print $(i - 1)}')"
  for side in outbound inbound; do
    local ir
    ir="$(dump "${!side}")"
    if [ -n "${KEEP:-}" ]; then
      mkdir -p "$KEEP"
      cp "$(ls -t "$work/cg/out.${!side}"* | head -1)" "$KEEP/$name-$side.out"
    fi
    awk -v t="$name" -v p="$side" -v n="$n" -v ir="$ir" \
      'BEGIN { printf "%-6s %-9s %9d %14.0f\n", t, p, n, ir / n }'
  done
}

measure h1 h2load --h1 -c"$conns" -m1 -t1 "http://127.0.0.1:$out_port/"
measure h2 h2load -c"$conns" -m1 -t1 "http://127.0.0.1:$out_h2_port/"
