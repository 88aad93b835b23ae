#!/usr/bin/env bash
# Per-request cost of the meshctl sidecar pair in figures that a busy machine does not skew
# much: CPU time, read/write system calls and context switches per request, for each proxy,
# read from /proc before and after a bounded load (wrk for HTTP/1.1, h2load for h2c); the
# system calls from perf's syscall tracepoints when perf can read them (root), since
# /proc/PID/io does not count recvfrom(2).
# bench/run.sh gives throughput and latency, which need a quiet machine; this script is for
# comparing two builds of meshctl when the machine is not quiet (see bench/RESULTS.md).
#
#   bench/syscalls.sh [MESHCTL_BIN]                 # default: target/release/meshctl
#   STRACE=1 bench/syscalls.sh                      # also a per-syscall breakdown (slow)
#   PERF=DIR bench/syscalls.sh                      # also `perf record $PERF_OPTS` (-g) of both proxies
#                                                   # per test into DIR (perf report -i …)
#   REQUESTS=20000 CONNS=16 bench/syscalls.sh
#   CONNS=64 H2_CONNS=4 STREAMS=32 REQUESTS=100000 bench/syscalls.sh   # the rig's max shapes
#
# Needs nginx, wrk and h2load (apt-get install -y nginx-light wrk nghttp2-client).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(realpath "${1:-$here/../target/release/meshctl}")"
requests="${REQUESTS:-20000}"
conns="${CONNS:-16}"
for tool in nginx wrk h2load; do
  command -v "$tool" >/dev/null || { echo "syscalls.sh: $tool is not installed" >&2; exit 1; }
done

# shellcheck source=bench/local-pair.sh
. "$here/local-pair.sh"
start_local_pair "$bin" 10

# utime+stime (clock ticks), read and write syscalls, context switches, stime, summed over
# threads.
counters() {
  local pid="$1" ticks=0 r=0 w=0 cs=0 sys=0 t
  for t in /proc/"$pid"/task/*; do
    read -r -a stat < <(sed 's/^.*) //' "$t/stat")
    ticks=$((ticks + stat[11] + stat[12]))
    sys=$((sys + stat[12]))
    cs=$((cs + $(awk '/ctxt_switches/ {s += $2} END {print s}' "$t/status")))
  done
  r="$(awk '/^syscr/ {print $2}' "/proc/$pid/io")"
  w="$(awk '/^syscw/ {print $2}' "/proc/$pid/io")"
  echo "$ticks $r $w $cs $sys"
}

# /proc/PID/io counts read(2)/readv(2) but not recvfrom(2), which is how the proxies read
# sockets: with perf's syscall tracepoints (root), reads and writes are counted from those
# instead, socket calls included.
syscall_events=syscalls:sys_enter_read,syscalls:sys_enter_readv,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg
tracepoints=0
if command -v perf >/dev/null && perf stat -x, -e "$syscall_events" -o /dev/null -- true 2>/dev/null; then
  tracepoints=1
fi
# Reads and writes counted by `perf stat -x,` into FILE: "READS WRITES".
traced() {
  awk -F, '$3 ~ /sys_enter_(read|readv|recvfrom|recvmsg)$/ {r += $1}
    $3 ~ /sys_enter_(write|writev|sendto|sendmsg)$/ {w += $1} END {print r + 0, w + 0}' "$1"
}

hz="$(getconf CLK_TCK)"
printf '%-6s %-9s %9s %12s %10s %10s %10s %10s\n' test proxy requests "cpu_us/req" "kernel_%" "reads/req" "writes/req" "ctxsw/req"
measure() {
  local name="$1"; shift
  local before_in before_out after_in after_out n
  # Warm up (connections, pools), then the measured, bounded run.
  "$@" >/dev/null 2>&1 || true
  read -r -a before_in < <(counters "$inbound")
  read -r -a before_out < <(counters "$outbound")
  if [ "${STRACE:-0}" = 1 ]; then
    strace -c -f -q -o "$work/strace-in-$name" -p "$inbound" & s1=$!
    strace -c -f -q -o "$work/strace-out-$name" -p "$outbound" & s2=$!
    sleep 0.5
  fi
  if [ "$tracepoints" = 1 ]; then
    perf stat -x, -e "$syscall_events" -o "$work/calls-in-$name" -p "$inbound" & c1=$!
    perf stat -x, -e "$syscall_events" -o "$work/calls-out-$name" -p "$outbound" & c2=$!
    sleep 0.2
  fi
  if [ -n "${PERF:-}" ]; then
    mkdir -p "$PERF"
    perf record -q ${PERF_OPTS:--g} -o "$PERF/perf-$name.data" -p "$inbound,$outbound" 2>/dev/null & s3=$!
    sleep 0.2
  fi
  n="$("$@" 2>&1 | awk '
    /requests in/ {print $1}                                  # wrk
    /^requests:/ {for (i = 1; i <= NF; i++) if ($i == "succeeded,") print $(i - 1)}  # h2load
  ')"
  if [ "${STRACE:-0}" = 1 ]; then kill -INT "$s1" "$s2"; wait "$s1" "$s2" 2>/dev/null || true; fi
  if [ -n "${PERF:-}" ]; then kill -INT "$s3"; wait "$s3" 2>/dev/null || true; fi
  if [ "$tracepoints" = 1 ]; then kill -INT "$c1" "$c2"; wait "$c1" "$c2" 2>/dev/null || true; fi
  read -r -a after_in < <(counters "$inbound")
  read -r -a after_out < <(counters "$outbound")
  for side in out in; do
    local -n b="before_$side" a="after_$side"
    local proxy r w; proxy="$([ "$side" = out ] && echo outbound || echo inbound)"
    r=$((a[1] - b[1])) w=$((a[2] - b[2]))
    if [ "$tracepoints" = 1 ]; then read -r r w < <(traced "$work/calls-$side-$name"); fi
    awk -v n="$n" -v hz="$hz" -v t="$name" -v p="$proxy" \
      -v ticks=$((a[0] - b[0])) -v r="$r" -v w="$w" -v cs=$((a[3] - b[3])) -v sys=$((a[4] - b[4])) \
      'BEGIN { printf "%-6s %-9s %9d %12.1f %10.0f %10.2f %10.2f %10.2f\n", t, p, n, ticks * 1e6 / hz / n, ticks ? 100 * sys / ticks : 0, r / n, w / n, cs / n }'
    if [ "${STRACE:-0}" = 1 ]; then
      echo "  top syscalls ($proxy, per request):"
      awk -v n="$n" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "    %-16s %6.2f\n", $NF, $4 / n}' \
        "$work/strace-$side-$name" | sort -k2 -rn | head -6
    fi
  done
}

measure h1 wrk -t1 -c"$conns" -d"${DURATION:-5}s" "http://127.0.0.1:$out_port/"
measure h2 h2load -n"$requests" -c"${H2_CONNS:-$conns}" -m"${STREAMS:-1}" -t1 "http://127.0.0.1:$out_h2_port/"

# Memory right after the load and once the proxies have been idle for SETTLE seconds
# (default 9: pooled app connections close 4-5 s after their last use, freed heap is returned
# to the kernel 6-7 s after traffic stops, src/proxy/memory.rs), split into private memory (RssAnon) and file pages
# (RssFile: the binary and libraries, shared through the page cache by every proxy on a host).
rss() {
  printf '%-9s %-12s %8s %8s %8s %8s\n' proxy when "VmRSS" "RssAnon" "RssFile" "VmHWM"
  for when in "after load" "settled"; do
    [ "$when" = settled ] && sleep "${SETTLE:-9}"
    for side in outbound inbound; do
      awk -v p="$side" -v w="$when" '/^(VmRSS|RssAnon|RssFile|VmHWM):/ {v[$1] = $2 / 1024}
        END {printf "%-9s %-12s %8.1f %8.1f %8.1f %8.1f  MiB\n", p, w, v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["VmHWM:"]}' \
        "/proc/${!side}/status"
    done
  done
}
echo
rss
