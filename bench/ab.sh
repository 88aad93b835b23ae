#!/usr/bin/env bash
# Throughput of two meshctl builds, interleaved in one session: on this VM the host's speed
# drifts by more than a data-path change moves it between runs minutes apart (see
# bench/RESULTS.md), so compare builds here, each run next to the other's.
#
#   bench/ab.sh OLD_BIN NEW_BIN                  # 5 rounds x 4 s per test and build
#   ROUNDS=9 SECS=5 bench/ab.sh OLD_BIN NEW_BIN
#
# Both pairs (bench/pair.sh, one worker per proxy, each with its own nginx with a 1 KiB
# body) run at once; one is loaded at a time. As in the rig, nginx and the proxies are pinned
# to CPU 0 and the load generator to CPU 1 (SUT_CPU, LOAD_CPU). Tests: HTTP/1.1 with
# `wrk -c64` and h2c with `h2load -c4 -m32`, the rig's max shapes. Within a round the order
# alternates, so neither build always runs first. Prints req/s per round and the median
# ratio new/old per test. Needs nginx, wrk and h2load.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ "$#" -eq 2 ] || { echo "usage: bench/ab.sh OLD_BIN NEW_BIN" >&2; exit 2; }
old_bin="$(realpath "$1")" new_bin="$(realpath "$2")"
rounds="${ROUNDS:-5}" secs="${SECS:-4}" sut_cpu="${SUT_CPU:-0}" load_cpu="${LOAD_CPU:-1}"
for tool in nginx wrk h2load taskset; do
  command -v "$tool" >/dev/null || { echo "ab.sh: $tool is not installed" >&2; exit 1; }
done

# shellcheck source=bench/local-pair.sh
. "$here/local-pair.sh"
start_local_pair "$old_bin" 10
old=("$out_port" "$out_h2_port") old_work="$work"
start_local_pair "$new_bin" 10
new=("$out_port" "$out_h2_port") new_work="$work"
for p in "${pids[@]}" $(pgrep -f -- "$old_work|$new_work"); do
  taskset -a -p -c "$sut_cpu" "$p" >/dev/null 2>&1 || true
done

h1() { taskset -c "$load_cpu" wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$1/" | awk '/^Requests\/sec/ {printf "%d", $2}'; }
h2() {
  taskset -c "$load_cpu" h2load -c4 -m32 -t1 -D "$secs" "http://127.0.0.1:$1/" 2>/dev/null |
    awk '/^finished in/ {gsub(",", "", $4); printf "%d", $4}'
}
# Warm-up: connections, pools, page cache.
h1 "${old[0]}" >/dev/null; h1 "${new[0]}" >/dev/null

declare -A got
printf '%-5s %-6s %9s %9s %7s\n' round test old new new/old
for round in $(seq "$rounds"); do
  for test in h1 h2; do
    port=$([ "$test" = h1 ] && echo 0 || echo 1)
    if [ $((round % 2)) = 1 ]; then
      o="$($test "${old[$port]}")" n="$($test "${new[$port]}")"
    else
      n="$($test "${new[$port]}")" o="$($test "${old[$port]}")"
    fi
    got[$test]+="$(awk -v o="$o" -v n="$n" 'BEGIN {printf "%.3f ", n / o}')"
    printf '%-5s %-6s %9s %9s %7.2f\n' "$round" "$test" "$o" "$n" "$(awk -v o="$o" -v n="$n" 'BEGIN {print n / o}')"
  done
done
for test in h1 h2; do
  # shellcheck disable=SC2086
  printf 'median new/old %s: %s\n' "$test" "$(printf '%s\n' ${got[$test]} | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
done
