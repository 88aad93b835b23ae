#!/usr/bin/env bash
# Soak test (opt-in, not in CI): a local mesh under steady load with chaos, then an
# idle-connection flood; records failed requests and each proxy's RSS and fd count over time.
#
#   bench/soak.sh [--minutes N] [--bin PATH] [--rps-workers N] [--idle N] [--out FILE]
#                 [--no-retries] [--leaf-lifetime DURATION]
#
#   --minutes N      length of the load-and-chaos phase (default 30)
#   --bin PATH       meshctl binary (default target/release/meshctl; build it first with
#                    `cargo build --release`)
#   --rps-workers N  parallel curl loops driving load (default 2)
#   --idle N         idle connections opened against one proxy listener (default 20000,
#                    capped by `ulimit -n`)
#   --out FILE       result file (default bench/soak-<date>.txt)
#   --no-retries     calls to api and quotes without a retry policy, to see the failures
#                    retries hide (a killed api app or proxy: a few 502s each; see bench/SOAK.md)
#   --leaf-lifetime D  the proxies' workload certificates (default 2m: renewed every ~84 s,
#                    so leaves rotate many times during the run)
#
# The mesh (`meshctl up` in a scratch dir, loopback only): web → api (3 replicas, HTTP)
# → quotes (2 replicas, gRPC), the demo apps; api with `retries: { on: [gateway-error,
# connect-failure] }` and quotes also on `unavailable` with its calls marked retryable, as
# services with replicas should have. Load: curl loops GET web's
# `/` (each request crosses two proxy pairs). Every 30 s one chaos step, in turn: kill an api replica's app,
# kill an api replica's proxy, kill the control plane, rotate the issuer
# (`meshctl certs rotate issuer`), inject a delay fault on api for 20 s, kill a quotes
# replica's app, rotate the trust anchor (`meshctl certs rotate anchor`, all six steps). `meshctl up` restarts what was killed. Every 10 s a sample: requests
# ok/failed so far, and RSS (KiB) and open fds of every proxy.
# Idle phase: N connections opened to web's outbound listener for api (declared http, so
# the header read timeout and max_connections apply) and held; the proxy's RSS and fds
# before, with them open, and after the header read timeout has closed them.
# Everything started here is stopped on exit (by pid / `meshctl down`).
set -euo pipefail

minutes=30
bin="target/release/meshctl"
workers=2
idle=20000
out=""
api_policy="    policy: { retries: { attempts: 3, on: [gateway-error, connect-failure] } }"
# GetQuote is a read: safe to repeat, so its (POST) calls are marked retryable.
quotes_policy="    policy: { retries: { attempts: 3, on: [unavailable, gateway-error, connect-failure] }, routes: [{ retryable: true }] }"
leaf_lifetime="2m"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --rps-workers) workers="$2"; shift 2 ;;
    --idle) idle="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-retries) api_policy=""; quotes_policy=""; shift ;;
    --leaf-lifetime) leaf_lifetime="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "no meshctl binary at $bin (cargo build --release)" >&2; exit 2; }
[ -n "$out" ] || out="$repo/bench/soak-$(date -u +%Y%m%dT%H%M%SZ).txt"
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

work="$(readlink -f "$(mktemp -d)")"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  (cd "$work" && "$bin" down >/dev/null 2>&1)
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$out"; }

web_port="$(free_port)"
api_entry="$(free_port)"
cat >"$work/mesh.yaml" <<EOF
services:
  web:
    port: $web_port
    protocol: http
    command: ["$bin", "demo-app", "web", "--listen", "127.0.0.1:$web_port"]
    upstreams:
      - { service: api, port: $api_entry }
  api:
    protocol: http
    replicas: 3
    # The demo api fails 2% of requests by default: off, so failures are the mesh's.
    env: { DEMO_ERROR_RATE: 0 }
    command: ["$bin", "demo-app", "api", "--listen", "127.0.0.1:{port}"]
    upstreams: [quotes]
$api_policy
  quotes:
    protocol: grpc
    replicas: 2
    command: ["$bin", "demo-app", "quotes", "--listen", "127.0.0.1:{port}"]
$quotes_policy
EOF

: >"$out"
log "soak: ${minutes} min load+chaos, $workers curl workers, $idle idle connections; binary $bin"
log "api's retry policy: ${api_policy:-    none (--no-retries)}"
log "quotes' retry policy: ${quotes_policy:-    none (--no-retries)}"
log "leaf lifetime: $leaf_lifetime"
log "machine: $(nproc) cores, ulimit -n $(ulimit -n) (hard $(ulimit -Hn))"
(cd "$work" && "$bin" up --detach --leaf-lifetime "$leaf_lifetime" >/dev/null)
log "mesh up in $work (web :$web_port, web's outbound listener for api :$api_entry)"

# pids of this mesh's processes matching a pattern (`up` runs every child in the mesh
# directory, so the working directory tells ours from any other mesh's).
ours() {
  local p
  for p in $(pgrep -f -- "$1" || true); do
    [ "$(readlink -f "/proc/$p/cwd" 2>/dev/null)" = "$work" ] && echo "$p"
  done
  return 0
}
# "instance pid" for every proxy of this mesh (the instance from its token file name).
proxies() {
  local p cmd
  for p in $(pgrep -f -- "proxy --control-plane" || true); do
    cmd="$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" || continue
    case "$cmd" in *"$work"*) ;; *) continue ;; esac
    echo "$(echo "$cmd" | sed -E 's#.*/tokens/([^ ]+)\.token.*#\1#') $p"
  done | sort
}
sample() {
  local line="" name p rss fds
  while read -r name p; do
    rss="$(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo -)"
    fds="$(ls "/proc/$p/fd" 2>/dev/null | wc -l)"
    line+=" $name=${rss}KiB/${fds}fd"
  done < <(proxies)
  echo "$line"
}
counts() {
  local ok=0 fail=0 f
  for f in "$work"/load.*; do
    [ -e "$f" ] || continue
    ok=$((ok + $(grep -c '^200$' "$f" || true)))
    fail=$((fail + $(grep -vc '^200$' "$f" || true)))
  done
  echo "ok=$ok failed=$fail"
}

# Load: curl loops until the deadline; one status line per request (000: no response).
deadline=$(( $(date +%s) + minutes * 60 ))
for w in $(seq 1 "$workers"); do
  (
    while [ "$(date +%s)" -lt "$deadline" ]; do
      curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "http://127.0.0.1:$web_port/" \
        >>"$work/load.$w" || echo "000" >>"$work/load.$w"
    done
  ) &
  pids+=("$!")
done

chaos_step=0
chaos() {
  local victim
  case $((chaos_step % 7)) in
    0) victim="$(ours "demo-app api" | head -1)"
       [ -n "$victim" ] && kill "$victim" && log "chaos: killed an api replica's app (pid $victim)" ;;
    1) victim="$(proxies | awk '/^api/ {print $2; exit}')"
       [ -n "$victim" ] && kill "$victim" && log "chaos: killed an api replica's proxy (pid $victim)" ;;
    2) victim="$(for p in $(pgrep -f -- " controller" || true); do
         tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--state-dir $work/.meshctl controller" && echo "$p"
       done | head -1)"
       [ -n "$victim" ] && kill "$victim" && log "chaos: killed the control plane (pid $victim)" ;;
    3) if (cd "$work" && timeout 120 "$bin" certs rotate issuer >"$work/rotate.log" 2>&1); then
         log "chaos: rotated the issuer"
       else
         log "chaos: issuer rotation FAILED: $(tail -2 "$work/rotate.log" | tr '\n' ' ')"
       fi ;;
    4) (cd "$work" && "$bin" fault inject api --delay 200ms@20% --for 20s >/dev/null 2>&1) \
         && log "chaos: delay fault on api (200ms@20% for 20s)" \
         || log "chaos: fault inject FAILED" ;;
    5) victim="$(ours "demo-app quotes" | head -1)"
       [ -n "$victim" ] && kill "$victim" && log "chaos: killed a quotes replica's app (pid $victim)" ;;
    6) if (cd "$work" && timeout 240 "$bin" certs rotate anchor >"$work/rotate.log" 2>&1); then
         log "chaos: rotated the trust anchor"
       else
         log "chaos: anchor rotation FAILED: $(tail -2 "$work/rotate.log" | tr '\n' ' ')"
       fi ;;
  esac
  chaos_step=$((chaos_step + 1))
}

log "phase 1: load and chaos until $(date -u -d "@$deadline" +%H:%M:%S)"
log "sample $(counts)$(sample)"
tick=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 10
  tick=$((tick + 1))
  if [ $((tick % 3)) -eq 0 ]; then chaos || true; fi
  log "sample $(counts)$(sample)"
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
log "phase 1 result: $(counts) ($(cat "$work"/load.* | sort | uniq -c | tr '\n' ' '))"

# Phase 2: idle connections against web's outbound listener for api.
sleep 5
web_proxy="$(proxies | awk '/^web/ {print $2; exit}')"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
want=$idle
room=$(( $(ulimit -n) - 100 ))
[ "$want" -gt "$room" ] && want=$room
log "phase 2: $want idle connections to :$api_entry (web's proxy pid $web_proxy): before rss=$(rss "$web_proxy")KiB fds=$(fds "$web_proxy")"
python3 - "$api_entry" "$want" "$web_proxy" "$out" <<'PY'
import socket, sys, time
port, want, pid, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def rss():
    with open(f"/proc/{pid}/status") as f:
        return next(l.split()[1] for l in f if l.startswith("VmRSS"))
def fds():
    import os
    return len(os.listdir(f"/proc/{pid}/fd"))
def log(msg):
    line = time.strftime("%H:%M:%S", time.gmtime()) + " " + msg
    print(line)
    with open(out, "a") as f:
        f.write(line + "\n")
socks, failed = [], 0
start = time.time()
for i in range(want):
    s = socket.socket()
    s.setblocking(True)
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
log(f"idle: opened {len(socks)} ({failed} connect errors) in {time.time()-start:.1f}s; "
    f"proxy rss={rss()}KiB fds={fds()}")
def open_count():
    alive = 0
    for s in socks:
        try:
            if s.recv(1) == b"":
                continue
            alive += 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive
time.sleep(2)
log(f"idle: +2s: {open_count()} still open; proxy rss={rss()}KiB fds={fds()}")
time.sleep(13)
log(f"idle: +15s (past the 10 s header read timeout): {open_count()} still open; "
    f"proxy rss={rss()}KiB fds={fds()}")
for s in socks:
    s.close()
time.sleep(3)
log(f"idle: closed all; proxy rss={rss()}KiB fds={fds()}")
PY
metrics_port="$(tr '\0' ' ' <"/proc/$web_proxy/cmdline" | sed -E 's#.*--admin 127.0.0.1:([0-9]+).*#\1#')"
if [ -n "$metrics_port" ]; then
  log "web proxy limit counters: $(curl -s "http://127.0.0.1:$metrics_port/metrics" \
    | grep '^meshctl_connections_limited_total{direction="outbound"' | tr '\n' ' ')"
fi
log "after phase 2:$(sample)"
log "done; result in $out"
