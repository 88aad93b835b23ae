#!/usr/bin/env bash
# The control plane at scale: a local mesh of N caller services (proxies only, no apps) all
# calling one service with two versions, measured at each N (loopback only, bounded: every
# step has a timeout, every loop a count, and everything started is stopped on exit).
#
#   bench/scale.sh [--bin PATH] [--sizes 10,100,1000,3000] [--shifts 20] [--idle SECS]
#                  [--raw FILE]
#
#   --bin PATH     meshctl binary (default target/release/meshctl)
#   --sizes LIST   the N to measure, in order (default 10,100,1000,3000); the ladder stops
#                  at the first N that cannot start, saying why
#   --shifts N     `canary shift --wait` repetitions per N (default 20)
#   --idle SECS    settling time after start-up before the idle RSS is read (default 3)
#   --raw FILE     also append every raw sample (one line each) to FILE
#
# Per N it prints: the wall time of `up --detach` and the time the background mesh itself
# took until every proxy was ready (its `ready_ms`); each proxy's idle RSS (RssAnon and
# RssFile from /proc/PID/status: median and max over all proxies); `canary shift --wait`
# wall time until every caller acknowledged (p50, p99 and max over --shifts shifts,
# alternating weights); the control plane's RSS after the shifts, its peak (VmHWM), and its
# CPU seconds per shift (utime+stime over the shifts, which includes answering the Status
# polls of `--wait`), and per change without `--wait` (the push and the acknowledgements
# alone: --shifts more changes, 300 ms apart); all proxies' CPU seconds per shift together
# (less what they use idle, measured over --idle); the wall time of `status`, `stat` and `check` (they exit 1 here, since
# no app listens behind the proxies: the time is what is measured); `down`; and the load
# average (`uptime`) when the N started. Times are milliseconds, sizes MiB.
set -euo pipefail

bin="target/release/meshctl"
sizes="10,100,1000,3000"
shifts=20
idle=3
raw=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --shifts) shifts="$2"; shift 2 ;;
    --idle) idle="$2"; shift 2 ;;
    --raw) raw="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "no meshctl binary at $bin (cargo build --release)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 2; }
[ "$shifts" -ge 1 ] && [ "$shifts" -le 1000 ] || { echo "--shifts must be 1-1000" >&2; exit 2; }
if [ -n "$raw" ]; then raw="$(readlink -f "$raw")"; fi

work="$(readlink -f "$(mktemp -d)")"
current=""
cleanup() {
  set +e
  if [ -n "$current" ]; then (cd "$current" && timeout 120 "$bin" down >/dev/null 2>&1); fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
load() { sed -E 's/.*load average: //' <(uptime); }
note() { [ -z "$raw" ] || echo "$*" >>"$raw"; }

# mesh.yaml of N callers (caller-0 … caller-N-1) and `target` with versions v1 and v2. Every
# app port is a free loopback port (held together while choosing, so all distinct); nothing
# listens on them: the proxies run without apps.
generate() {
  python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
socks = [socket.socket() for _ in range(n + 2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in socks]
print("services:")
print("  target:")
print("    versions:")
print(f"      v1: {{ port: {ports[0]} }}")
print(f"      v2: {{ port: {ports[1]} }}")
for i in range(n):
    print(f"  caller-{i}:")
    print(f"    port: {ports[i + 2]}")
    print("    upstreams: [target]")
PY
}

# The processes the mesh's `up` started, by role: "<role> <pid>" per line (role controller
# or proxy), read from /proc (children of the pid in run/up.pid).
mesh_pids() {
  python3 - "$1" <<'PY'
import os, sys
up = open(sys.argv[1]).read().strip()
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        stat = open(f"/proc/{pid}/stat").read()
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        continue
    if stat[stat.rindex(")") + 2:].split()[1] != up:
        continue
    args = [a.decode(errors="replace") for a in argv]
    role = "controller" if "controller" in args else "proxy" if "proxy" in args else "other"
    print(role, pid)
PY
}

# "anon_median anon_max file_median file_max threads_total" (MiB, MiB, …) over the pids given.
rss_of() {
  python3 - "$@" <<'PY'
import statistics, sys
anon, file, threads = [], [], 0
for pid in sys.argv[1:]:
    try:
        fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
    except OSError:
        continue
    anon.append(int(fields["RssAnon"].split()[0]) / 1024)
    file.append(int(fields["RssFile"].split()[0]) / 1024)
    threads += int(fields["Threads"])
if not anon:
    print("- - - - 0")
else:
    print(f"{statistics.median(anon):.2f} {max(anon):.2f} {statistics.median(file):.2f} {max(file):.2f} {threads}")
PY
}

# "rss_mib hwm_mib cpu_seconds fds threads" of one process.
proc_of() {
  python3 - "$1" <<'PY'
import os, sys
pid = sys.argv[1]
fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
stat = open(f"/proc/{pid}/stat").read()
rest = stat[stat.rindex(")") + 2:].split()
cpu = (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
fds = len(os.listdir(f"/proc/{pid}/fd"))
rss = int(fields["VmRSS"].split()[0]) / 1024
hwm = int(fields["VmHWM"].split()[0]) / 1024
print(f"{rss:.1f} {hwm:.1f} {cpu:.2f} {fds} {int(fields['Threads'])}")
PY
}

# "p50 p99 max" of the numbers on stdin (p99 by nearest rank: with 20 samples, the largest).
percentiles() {
  python3 -c '
import math, sys
v = sorted(int(x) for x in sys.stdin.read().split())
rank = lambda q: v[max(0, math.ceil(q * len(v)) - 1)]
print(rank(0.5), rank(0.99), v[-1])'
}

# Wall time of one read command in $dir (ms); its exit code after a slash when not 0.
timed() {
  local t0 rc=0
  t0=$(now_ms)
  timeout 60 "$bin" "$@" >/dev/null 2>&1 || rc=$?
  local ms=$(( $(now_ms) - t0 ))
  if [ "$rc" = 0 ]; then echo "$ms"; else echo "$ms/$rc"; fi
}

# Why an N cannot start, if the ephemeral port range is obviously too small for it (each
# caller's proxy takes 5 allocated ports, plus its app port chosen here). Everything else
# (open files, memory, processes) is left to `up` to run into and report.
limits_for() {
  local n="$1" ports range
  range=$(awk '{print $2 - $1 + 1}' /proc/sys/net/ipv4/ip_local_port_range)
  ports=$(( n * 6 + 8 ))
  [ "$ports" -lt "$range" ] || echo "needs ~$ports loopback ports, the ephemeral range has $range"
}

# CPU seconds (utime+stime) of the given pids together.
cpu_of() {
  python3 - "$@" <<'PY'
import os, sys
total = 0
for pid in sys.argv[1:]:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    rest = stat[stat.rindex(")") + 2:].split()
    total += int(rest[11]) + int(rest[12])
print(f"{total / os.sysconf('SC_CLK_TCK'):.2f}")
PY
}

printf '# meshctl control plane at scale: %s; %s cores; %s MiB RAM; ulimit -n %s; %s shifts per N\n' \
  "$bin" "$(nproc)" "$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)" "$(ulimit -n)" "$shifts"
printf '%-5s %-16s %7s %7s | %-23s | %-15s %5s %5s %5s | %-13s %5s %5s | %6s %6s %6s %6s\n' \
  N load1,5,15 detach ready "proxy RSS anon/file" "shift p50/p99/max" cp/s cp-nw px/s "cp RSS/HWM" fds thr status stat check down
for n in ${sizes//,/ }; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 20000 ] \
    || { echo "bad size: $n (1-20000)" >&2; exit 2; }
  why="$(limits_for "$n")"
  if [ -n "$why" ]; then
    echo "N=$n not started: $why"
    break
  fi
  dir="$work/n$n"
  mkdir -p "$dir"
  generate "$n" >"$dir/mesh.yaml"
  ld="$(load)"
  current="$dir"
  t0=$(now_ms)
  if ! (cd "$dir" && timeout 120 "$bin" up --detach -o json >"$dir/up.json" 2>"$dir/up.err"); then
    echo "N=$n: up --detach failed after $(( $(now_ms) - t0 )) ms: $(grep -v '^ ' "$dir/up.err" | tail -1)"
    tail -5 "$dir/.meshctl/logs/up.log" 2>/dev/null | sed 's/^/    up.log: /'
    break
  fi
  detach_ms=$(( $(now_ms) - t0 ))
  # What the background mesh counted itself: from its start until every proxy was ready.
  ready_ms="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ready_ms"])' \
    "$dir/.meshctl/run/ready.json")"
  pids="$(mesh_pids "$dir/.meshctl/run/up.pid")"
  cp_pid="$(awk '$1 == "controller" {print $2}' <<<"$pids")"
  proxy_pids="$(awk '$1 == "proxy" {print $2}' <<<"$pids")"
  nproxies=$(wc -w <<<"$proxy_pids")
  # The proxies' CPU while idle (timers), to subtract from what the shifts cost them.
  # shellcheck disable=SC2086
  idle_cpu0="$(cpu_of $proxy_pids)"
  idle_t0=$(now_ms)
  sleep "$idle"
  # shellcheck disable=SC2086
  idle_cpu1="$(cpu_of $proxy_pids)"
  idle_rate="$(python3 -c "print(($idle_cpu1 - $idle_cpu0) / ($(now_ms) - $idle_t0) * 1000)")"
  # shellcheck disable=SC2086
  read -r anon_med anon_max file_med file_max proxy_threads <<<"$(rss_of $proxy_pids)"
  read -r _ _ cpu0 _ _ <<<"$(proc_of "$cp_pid")"
  # shellcheck disable=SC2086
  pcpu0="$(cpu_of $proxy_pids)"
  shifts_t0=$(now_ms)

  : >"$dir/shifts"
  for i in $(seq 1 "$shifts"); do
    weight=$(( i % 2 == 1 ? 30 : 70 ))
    t0=$(now_ms)
    (cd "$dir" && timeout 60 "$bin" canary shift target --to v2 --weight "$weight" --wait \
      --timeout 30s >/dev/null 2>"$dir/shift.err") \
      || { echo "N=$n: shift $i failed: $(tail -1 "$dir/shift.err")"; break 2; }
    echo $(( $(now_ms) - t0 )) >>"$dir/shifts"
  done
  read -r s50 s99 smax <<<"$(percentiles <"$dir/shifts")"
  read -r cp_rss cp_hwm cpu1 cp_fds cp_threads <<<"$(proc_of "$cp_pid")"
  # shellcheck disable=SC2086
  pcpu1="$(cpu_of $proxy_pids)"
  cpu_per_shift="$(python3 -c "print(f'{($cpu1 - $cpu0) / $shifts:.3f}')")"
  proxies_cpu_per_shift="$(python3 -c "
idle = $idle_rate * ($(now_ms) - $shifts_t0) / 1000
print(f'{max(0.0, $pcpu1 - $pcpu0 - idle) / $shifts:.3f}')")"

  # The same changes without --wait (so without its Status polls), 300 ms apart: what a
  # change alone costs the control plane (its push and the acknowledgements).
  read -r _ _ cpu2 _ _ <<<"$(proc_of "$cp_pid")"
  for i in $(seq 1 "$shifts"); do
    weight=$(( i % 2 == 1 ? 40 : 60 ))
    (cd "$dir" && timeout 60 "$bin" canary shift target --to v2 --weight "$weight" \
      >/dev/null 2>"$dir/shift.err") \
      || { echo "N=$n: shift $i (no --wait) failed: $(tail -1 "$dir/shift.err")"; break 2; }
    sleep 0.3
  done
  read -r _ _ cpu3 _ _ <<<"$(proc_of "$cp_pid")"
  nowait_cpu="$(python3 -c "print(f'{($cpu3 - $cpu2) / $shifts:.3f}')")"

  st=$(cd "$dir" && timed status)
  sa=$(cd "$dir" && timed stat)
  ck=$(cd "$dir" && timed check)
  t0=$(now_ms)
  (cd "$dir" && timeout 120 "$bin" down >/dev/null 2>&1) || echo "N=$n: down failed"
  down_ms=$(( $(now_ms) - t0 ))
  current=""

  printf '%-5s %-16s %7s %7s | %5s/%5s %5s/%5s | %4s/%4s/%5s %5s %5s %5s | %5s/%5s %5s %5s | %6s %6s %6s %6s\n' \
    "$n" "${ld// /}" "$detach_ms" "$ready_ms" "$anon_med" "$anon_max" "$file_med" "$file_max" \
    "$s50" "$s99" "$smax" "$cpu_per_shift" "$nowait_cpu" "$proxies_cpu_per_shift" \
    "$cp_rss" "$cp_hwm" "$cp_fds" "$cp_threads" \
    "$st" "$sa" "$ck" "$down_ms"
  note "N=$n load=$ld proxies=$nproxies proxy_threads=$proxy_threads detach_ms=$detach_ms" \
    "ready_ms=$ready_ms proxies_idle_cpu_per_s=$idle_rate" \
    "proxies_cpu_per_shift=$proxies_cpu_per_shift cp_cpu_per_change_without_wait=$nowait_cpu" \
    "shifts_ms=$(tr '\n' ',' <"$dir/shifts")"
done
echo "(detach: wall ms of up --detach; ready: the background mesh's own ms until every proxy"
echo " was ready; proxy RSS: median/max MiB per proxy, idle; shift: canary shift --wait wall"
echo " ms; cp/s: control-plane CPU s per shift, cp-nw: per change without --wait; px/s: all"
echo " proxies' CPU s per shift; cp: control plane MiB, open fds, threads;"
echo " status/stat/check: wall ms, /1 = exited 1 as no app listens; down: wall ms)"
