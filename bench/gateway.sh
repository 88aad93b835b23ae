#!/usr/bin/env bash
# The gateway against HAProxy, in one run: each terminating TLS in front of the same nginx
# app (1 KiB body), next to nginx called directly over plain HTTP as the reference.
#
#   bench/gateway.sh                     # 2 rounds; 8 s per throughput test, 10 s per latency test
#   ROUNDS=3 SECS=10 LAT_SECS=15 bench/gateway.sh
#   MESHCTL_BIN=target/release/meshctl bench/gateway.sh
#
# Topologies (all on loopback, each started here on free ports, in a scratch dir removed on exit):
#   direct   load generator → nginx, plain HTTP/1.1 and h2c
#   haproxy  load generator → HAProxy (TLS, ALPN h2 and http/1.1, nbthread 1) → nginx
#   gateway  load generator → meshctl gateway (TLS) → mTLS → app's sidecar → nginx: a
#            `meshctl up` mesh with one service `app` (nginx's port, no command) and a
#            `gateway:` route `open` (no key, no limit)
#   gw+key   the same gateway, route `keyed`: an API key in `x-api-key` and a rate limit
#            (1 000 000 rps, burst 1 000 000: never refuses) — the key check and bucket cost
# Tests per topology and round: max throughput with `h2load -c16 -m16` (h2) and `wrk -t1 -c32`
# (HTTP/1.1), then latency at a fixed rate with oha (`-q RPS`, coordinated-omission
# corrected): p50 and p99 over HTTP/1.1 (8 connections) and h2 (1 connection, 8 streams).
# Every topology is checked first (200, 1 024 bytes), and every test counts non-2xx answers.
# Rounds interleave the topologies, the order reversed every other round.
#
# Pinning: nginx, HAProxy and every process of the mesh (up, control plane, gateway, sidecar) on
# SUT_CPU (default 0), the load generators on LOAD_CPU (default 1). `meshctl up` starts each
# proxy without `--workers`, i.e. with one worker (a single-threaded runtime): one worker
# per proxy, as HAProxy's `nbthread 1` and nginx's one worker process.
# Columns: cpu_us/req is the CPU time (user + system) of all processes under test per
# request, from /proc (robust to a busy host: it counts work, not waiting), also split by
# process at the end of the row; sut% is the share of SUT_CPU they got, other% how much of it
# everything else used meanwhile (the noise indicator: when sut% is well below 90 in a max
# test, the req/s column measures the host), steal% the hypervisor's share. Results and their
# reading: bench/GATEWAY.md.
# Needs nginx, haproxy, wrk, h2load, oha, openssl, taskset, curl, python3; installs the apt
# ones if missing (SKIP_INSTALL=1 to refuse instead).
# NICE=-10 (root) runs everything measured, load generators included, at a higher priority than
# the rest of a shared machine. With autogrouping on (/proc/sys/kernel/sched_autogroup_enabled,
# as on this VM) a process's nice value only ranks it inside its session, and every session
# gets an equal share of a CPU whatever its nice: so the script then runs in a session of its
# own (setsid; `meshctl up --detach` and everything else it starts stay in it) and gives that
# session's autogroup the nice value.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
rounds="${ROUNDS:-2}" secs="${SECS:-8}" lat_secs="${LAT_SECS:-10}" rps="${RPS:-1000}"
sut_cpu="${SUT_CPU:-0}" load_cpu="${LOAD_CPU:-1}" nice="${NICE:-0}"
sut_run=(taskset -c "$sut_cpu" nice -n "$nice") load_run=(taskset -c "$load_cpu" nice -n "$nice")
bin="${MESHCTL_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/meshctl}"
[ -x "$bin" ] || { echo "gateway.sh: no meshctl binary at $bin (cargo build --release, or MESHCTL_BIN=...)" >&2; exit 1; }
bin="$(realpath "$bin")"
if [ "$nice" != 0 ]; then
  if [ "$(ps -o sid= -p $$ | tr -d ' ')" != "$$" ]; then exec setsid --wait "$0" "$@"; fi
  if [ -w "/proc/$$/autogroup" ]; then echo "$nice" > "/proc/$$/autogroup"; fi
fi

need=()
for tool in nginx haproxy wrk h2load; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "${SKIP_INSTALL:-0}" = 1 ]; then echo "gateway.sh: not installed: ${need[*]}" >&2; exit 1; fi
  echo "installing (missing: ${need[*]})" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light haproxy wrk nghttp2-client >&2
fi
for tool in oha openssl taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "gateway.sh: $tool is not installed (oha: cargo install oha --locked)" >&2; exit 1; }
done

work="$(mktemp -d)"
pids=()
mesh_up=0
cleanup() {
  if [ "$mesh_up" = 1 ]; then
    (cd "$work" && env -u MESHCTL_STATE_DIR "$bin" down >/dev/null 2>&1) || true
  fi
  # Whatever of ours is left: the pids started here, and any process of this scratch dir's mesh.
  # (`up --detach`'s own process names no path: it is found by its working directory.)
  local p mine=("${pids[@]}")
  mine+=($(pgrep -f -- "$work/" || true))
  for p in /proc/[0-9]*; do [ "$(readlink "$p/cwd" 2>/dev/null)" = "$work" ] && mine+=("${p#/proc/}") || true; done
  for p in "${mine[@]}"; do [ "$p" != "$$" ] && [ "$p" != "$BASHPID" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
app_port="$(free_port)" app_h2_port="$(free_port)" haproxy_port="$(free_port)" gw_port="$(free_port)"

# The app: one nginx worker, the same 1 KiB body at /open.html and /keyed.html (the gateway's
# two routes match on the path), h2c on a second port for the direct h2 reference.
mkdir -p "$work/www" "$work/tmp"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/open.html"
cp "$work/www/open.html" "$work/www/keyed.html"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
master_process off;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$app_port; listen 127.0.0.1:$app_h2_port http2; root $work/www; location / { } }
}
NGINX
"${sut_run[@]}" nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" &
pids+=($!)

# One self-signed ECDSA P-256 certificate for both TLS terminators.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" > "$work/haproxy.pem"

cat > "$work/haproxy.cfg" <<HAPROXY
global
  nbthread 1
  # The cipher the gateway (rustls) picks with these clients, so both do the same AES work.
  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend tls
  bind 127.0.0.1:$haproxy_port ssl crt $work/haproxy.pem alpn h2,http/1.1
  default_backend app
backend app
  server nginx 127.0.0.1:$app_port
HAPROXY
haproxy -c -q -f "$work/haproxy.cfg"
"${sut_run[@]}" haproxy -db -f "$work/haproxy.cfg" &
pids+=($!)

# The mesh: `app` is nginx (no command: the script started it), the gateway in front.
api_key="$(cd "$work" && "$bin" gateway keys add bench --keys-file keys.json 2>"$work/keys.err")"
write_mesh() {
  cat > "$work/mesh.yaml" <<MESH
services:
  app:
    protocol: http
    port: $app_port
gateway:
  listen: 127.0.0.1:$gw_port
  tls: { cert: cert.pem, key: key.pem }
  keys_file: keys.json
  routes:
    - name: keyed
      path: { exact: /keyed.html }
      service: app
      api_key: { header: x-api-key }
      rate_limit: { rps: 1000000, burst: 1000000 }
    - name: open
      service: app
MESH
}
# The gateway's port was free when picked, but on a busy machine something may take it before
# the gateway listens (`meshctl up` neither checks nor reserves it): then try another.
mesh_up=1
for attempt in 1 2 3; do
  write_mesh
  if (cd "$work" && env -u MESHCTL_STATE_DIR RUST_LOG=warn "${sut_run[@]}" "$bin" up --detach >"$work/up.out" 2>&1); then break; fi
  if [ "$attempt" = 3 ] || ! grep -q "gateway listener): Address already in use" "$work/up.out"; then
    echo "gateway.sh: meshctl up failed:" >&2; cat "$work/up.out" >&2; exit 1
  fi
  echo "gateway.sh: the gateway's port $gw_port was taken meanwhile; another one" >&2
  (cd "$work" && env -u MESHCTL_STATE_DIR "$bin" down >/dev/null 2>&1) || true
  gw_port="$(free_port)"
done
mesh_pids="$(pgrep -f -- "$work/.meshctl" | tr '\n' ' ')"
for p in "${pids[@]}" $mesh_pids; do taskset -a -p -c "$sut_cpu" "$p" >/dev/null 2>&1 || true; done

declare -A url hdr sut
url[direct]="http://127.0.0.1:$app_port/open.html"
url[haproxy]="https://127.0.0.1:$haproxy_port/open.html"
url[gateway]="https://127.0.0.1:$gw_port/open.html"
url[gw+key]="https://127.0.0.1:$gw_port/keyed.html"
hdr[direct]="" hdr[haproxy]="" hdr[gateway]="" hdr[gw+key]="x-api-key: $api_key"
sut[direct]="${pids[0]}"
sut[haproxy]="${pids[0]} ${pids[1]}"
sut[gateway]="${pids[0]} $mesh_pids"
sut[gw+key]="${pids[0]} $mesh_pids"
# What each of those pids is, for the per-process split of cpu_us/req.
role() {
  case "$(tr '\0' ' ' < "/proc/$1/cmdline")" in
    *" controller"*) echo control-plane ;; *" up"*) echo up ;; *" --gateway "*) echo gateway ;; *" proxy "*) echo sidecar ;; *) echo other ;;
  esac
}
mesh_roles="$(for p in $mesh_pids; do printf '%s ' "$(role "$p")"; done)"
declare -A roles=([direct]="nginx" [haproxy]="nginx haproxy" [gateway]="nginx $mesh_roles" [gw+key]="nginx $mesh_roles")
topologies=(direct haproxy gateway gw+key)

# Each topology answers 200 with the 1 KiB body, over h2 and HTTP/1.1 (a key that is wrong
# must not be what is measured: the unkeyed request to the keyed route must be refused).
check() {
  local t="$1" v="$2" deadline=$((SECONDS + 20)) got
  local args=(-sk -o /dev/null -w '%{http_code} %{size_download} %{http_version}' "$v")
  [ -n "${hdr[$t]}" ] && args+=(-H "${hdr[$t]}")
  until got="$(curl "${args[@]}" "${url[$t]}")" && [ "${got% *}" = "200 1024" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "gateway.sh: $t ($v) answers '$got', not '200 1024'" >&2; exit 1; fi
    sleep 0.2
  done
}
for t in "${topologies[@]}"; do
  check "$t" --http1.1
  if [ "$t" = direct ]; then
    h2c="$(curl -s -o /dev/null -w '%{http_code} %{http_version}' --http2-prior-knowledge "http://127.0.0.1:$app_h2_port/open.html")"
    [ "$h2c" = "200 2" ] || { echo "gateway.sh: nginx h2c answers '$h2c'" >&2; exit 1; }
  else
    check "$t" --http2
  fi
done
refused="$(curl -sk -o /dev/null -w '%{http_code}' "${url[gw+key]}")"
[ "$refused" = 401 ] || { echo "gateway.sh: the keyed route without a key answered $refused, not 401" >&2; exit 1; }

# CPU (jiffies, user + system) used so far by each of the given pids, and by SUT_CPU as a whole.
proc_jiffies() {
  local p
  for p in "$@"; do
    if [ -r "/proc/$p/stat" ]; then awk '{sub(/^.*\) /, ""); printf "%d ", $12 + $13}' "/proc/$p/stat"; else printf '0 '; fi
  done
}
# "BUSY STEAL" jiffies of SUT_CPU: user + nice + system + irq + softirq, and time the host gave
# to other VMs.
cpu_busy() { awk -v c="cpu$sut_cpu" '$1 == c {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat; }

h2url() { if [ "$1" = direct ]; then echo "http://127.0.0.1:$app_h2_port/open.html"; else echo "${url[$1]}"; fi; }
# Each prints "REQS_PER_SEC COMPLETED NON_2XX" on stdout, the tool's full output in $work/last.
run_h2() {
  local args=(-c16 -m16 -t1 -D "$secs" --warm-up-time=1)
  [ -n "${hdr[$1]}" ] && args+=(-H "${hdr[$1]}")
  "${load_run[@]}" h2load "${args[@]}" "$(h2url "$1")" >"$work/last" 2>&1 || true
  # "requests: T total, S started, D done, OK succeeded, F failed, E errored, …" and
  # "status codes: A 2xx, B 3xx, C 4xx, D 5xx".
  awk '/^finished in/ {gsub(",", "", $4); r = $4}
       /^requests:/ {d = $8; e = $10 + $12}
       /^status codes:/ {n = $5 + $7 + $9}
       END {printf "%d %d %d\n", r, d, n + e}' "$work/last"
}
run_h1() {
  local args=(-t1 -c32 -d "${secs}s")
  [ -n "${hdr[$1]}" ] && args+=(-H "${hdr[$1]}")
  "${load_run[@]}" wrk "${args[@]}" "${url[$1]}" >"$work/last" 2>&1 || true
  awk '/^Requests\/sec/ {r = $2} / requests in / {d = $1} /Non-2xx/ {n = $NF}
       /Socket errors/ {gsub(",", ""); e = $4 + $6 + $8 + $10}
       END {printf "%d %d %d\n", r, d, n + e}' "$work/last"
}
# Latency at RPS: "p50_ms p99_ms COMPLETED NON_2XX".
run_lat() {
  local proto="$1" t="$2" args=(-q "$rps" -z "${lat_secs}s" -w --latency-correction --no-tui --output-format json --insecure)
  if [ "$proto" = h2 ]; then args+=(--http2 -c 1 -p 8); else args+=(-c 8); fi
  [ -n "${hdr[$t]}" ] && args+=(-H "${hdr[$t]}")
  local target; if [ "$proto" = h2 ]; then target="$(h2url "$t")"; else target="${url[$t]}"; fi
  "${load_run[@]}" oha "${args[@]}" "$target" >"$work/last" 2>&1 || true
  python3 - "$work/last" "$proto $t round $round" "$work/errors" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    print("0 0 0 0"); sys.exit()
codes = r.get("statusCodeDistribution", {})
ok = sum(v for k, v in codes.items() if k.startswith("2"))
errors = r.get("errorDistribution", {})
# With -q and h2 streams, oha counts the streams still waiting for their turn at the end as
# "aborted due to deadline" even with -w: never sent, so not a failure.
errors.pop("aborted due to deadline", None)
bad = sum(v for k, v in codes.items() if not k.startswith("2")) + sum(errors.values())
if bad:
    print(f"{sys.argv[2]}: {codes} {errors}", file=open(sys.argv[3], "a"))
p = r["latencyPercentiles"]
print(f"{(p['p50'] or 0) * 1000:.3f} {(p['p99'] or 0) * 1000:.3f} {ok} {bad}")
PY
}

# One test: its numbers plus the CPU per request of the processes under test and the share of
# SUT_CPU used by anything else.
measure() {
  local test="$1" t="$2" j0 b0 j1 b1 s0 s1 out done_reqs hz
  # shellcheck disable=SC2086
  j0="$(proc_jiffies ${sut[$t]})" b0="$(cpu_busy)" s0="$(date +%s%N)"
  case "$test" in
    h2) out="$(run_h2 "$t")" ;;
    h1) out="$(run_h1 "$t")" ;;
    lat-h1) out="$(run_lat h1 "$t")" ;;
    lat-h2) out="$(run_lat h2 "$t")" ;;
  esac
  # shellcheck disable=SC2086
  j1="$(proc_jiffies ${sut[$t]})" b1="$(cpu_busy)" s1="$(date +%s%N)"
  # shellcheck disable=SC2086
  set -- $out
  if [ "${test#lat}" = "$test" ]; then done_reqs="$2"; else done_reqs="$3"; fi
  [ "$done_reqs" -gt 0 ] || { echo "gateway.sh: $test on $t completed nothing:" >&2; cat "$work/last" >&2; exit 1; }
  hz="$(getconf CLK_TCK)"
  awk -v round="$round" -v test="$test" -v t="$t" -v a="$1" -v b="$2" -v c="${3:-}" -v d="${4:-}" \
      -v j0="$j0" -v j1="$j1" -v roles="${roles[$t]}" -v b0="$b0" -v b1="$b1" -v ns="$((s1 - s0))" -v hz="$hz" -v n="$done_reqs" 'BEGIN {
    split(b0, x, " "); split(b1, y, " ")
    k = split(j0, p0, " "); split(j1, p1, " "); split(roles, r, " ")
    j = 0; by = ""
    for (i = 1; i <= k; i++) {
      j += p1[i] - p0[i]
      us = (p1[i] - p0[i]) / hz * 1e6 / n
      if (us >= 0.5) by = by sprintf(" %s=%.1f", r[i], us)
    }
    secs = ns / 1e9
    cpu = j / hz * 1e6 / n
    sut = j / hz / secs * 100
    other = (y[1] - x[1] - j) / hz / secs * 100; if (other < 0) other = 0
    steal = (y[2] - x[2]) / hz / secs * 100
    if (test ~ /^lat/) printf "%-5s %-7s %-8s %7s %8.3f %8.3f %6d %10.1f %5.0f %6.0f %6.0f %s\n", round, test, t, "-", a, b, d, cpu, sut, other, steal, by
    else printf "%-5s %-7s %-8s %7d %8s %8s %6d %10.1f %5.0f %6.0f %6.0f %s\n", round, test, t, a, "-", "-", c, cpu, sut, other, steal, by
  }'
}

echo "# bench/gateway.sh $(date -u +%FT%TZ) — $("$bin" --version 2>/dev/null | head -1), $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# $(nproc) CPUs, SUT on CPU $sut_cpu, load on CPU $load_cpu; ${secs}s throughput tests, ${lat_secs}s latency tests at $rps rps"
threads() { ps -o nlwp= -p "$1" | tr -d ' '; }
echo "# threads: nginx $(threads "${pids[0]}"), haproxy $(threads "${pids[1]}"), $(for p in $mesh_pids; do printf '%s %s, ' "$(role "$p")" "$(threads "$p")"; done)nice $nice, $(cat "/proc/$$/autogroup" 2>/dev/null || echo 'no autogroup')"
printf '%-5s %-7s %-8s %7s %8s %8s %6s %10s %5s %6s %6s %s\n' round test topology "req/s" "p50_ms" "p99_ms" "non2xx" "cpu_us/req" "sut%" "other%" "steal%" "cpu_us/req by process"
# Warm-up: TLS sessions, pools, page cache.
for t in "${topologies[@]}"; do
  warm=(-c4 -m8 -t1 -n 2000)
  [ -n "${hdr[$t]}" ] && warm+=(-H "${hdr[$t]}")
  "${load_run[@]}" h2load "${warm[@]}" "$(h2url "$t")" >/dev/null 2>&1 || true
done
for round in $(seq "$rounds"); do
  echo "# round $round: $(uptime | sed 's/^ *//')"
  order=("${topologies[@]}")
  if [ $((round % 2)) = 0 ]; then order=(gw+key gateway haproxy direct); fi
  for test in h2 h1 lat-h1 lat-h2; do
    for t in "${order[@]}"; do measure "$test" "$t"; done
  done
done
echo "# end: $(uptime | sed 's/^ *//')"
[ -s "$work/errors" ] && sed 's/^/# non-2xx or errors, oha: /' "$work/errors"
# The cipher each TLS terminator chose (h2load's view).
for t in haproxy gateway; do
  printf '# %s: %s\n' "$t" "$("${load_run[@]}" h2load -n1 "${url[$t]}" 2>/dev/null | grep -E '^(Cipher|Server Temp Key|TLS Protocol)' | tr '\n' ' ')"
done
