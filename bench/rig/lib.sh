# Sourced by bench/run.sh: process groups, CPU pinning, CPU and memory accounting, the quiet
# wait and the load generators. Expects run.sh's settings ($work, $here, $nice, $hz, ...).

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "bench/run.sh: $*"; exit 1; }

# Runs "$@" pinned to the CPU list $1 ("" = anywhere) at the rig's priority ($nice).
pinned() {
  local cpus="$1"; shift
  local pre=()
  [ "$nice" != 0 ] && pre=(nice -n "$nice")
  [ -n "$cpus" ] && pre+=(taskset -c "$cpus")
  "${pre[@]}" "$@"
}

# Starts a bash command in a process group of its own (pinned to $2), logging to
# $work/logs/NAME.log; prints the group's id.
start_group() { # start_group NAME CPUS COMMAND
  local pre=()
  [ "$nice" != 0 ] && pre=(nice -n "$nice")
  [ -n "$2" ] && pre+=(taskset -c "$2")
  setsid "${pre[@]}" bash -c "$3" >"$work/logs/$1.log" 2>&1 </dev/null &
  echo "$!"
}

# SIGTERM to a group this script started, SIGKILL after 5 s.
stop_group() {
  [ -n "$1" ] || return 0
  kill -TERM -- "-$1" 2>/dev/null || return 0
  local _
  for _ in $(seq 50); do
    kill -0 -- "-$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$1" 2>/dev/null || true
}

# The processes of group $1 that do the work: not the shells, taskset or nice around them.
group_pids() {
  local p comm
  for p in $(pgrep -g "$1" 2>/dev/null); do
    comm="$(cat "/proc/$p/comm" 2>/dev/null)" || continue
    case "$comm" in bash | sh | taskset | nice | sleep) ;; *) echo "$p" ;; esac
  done
}

wait_listen() { # wait_listen PORT SECS
  local deadline=$((SECONDS + $2))
  until ss -Hltn "sport = :$1" | grep -q .; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# 0 when GET / on PORT answers 200 with the test body, over HTTP/1.1 (h1) or h2c (h2).
answers() { # answers PORT h1|h2
  local flag=--http1.1 got
  [ "$2" = h2 ] && flag=--http2-prior-knowledge
  got="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 3 "$flag" "http://127.0.0.1:$1/" || true)"
  [ "$got" = "200 $body_bytes" ]
}

# utime+stime in clock ticks, summed over the given pids (0 for a pid that is gone).
ticks() {
  local total=0 p s
  for p in "$@"; do
    s="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    read -r -a f <<<"${s##*) }"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# Busy ticks of the whole machine, steal included (/proc/stat's first line).
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# Waits (at most $quiet_max_wait s) until the machine's other work drops under $quiet_busy
# cores over a second; the rig's own processes are idle at this point.
wait_quiet() {
  local deadline=$((SECONDS + quiet_max_wait)) a b busy
  while :; do
    a="$(machine_ticks)"; sleep 1; b="$(machine_ticks)"
    busy="$(awk -v a="$a" -v b="$b" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')"
    awk -v x="$busy" -v t="$quiet_busy" 'BEGIN {exit !(x < t)}' && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "  the machine is still busy ($busy cores) after ${quiet_max_wait}s: measuring anyway"
      return 0
    fi
  done
}

# kB of the field $1 (VmRSS, VmHWM, RssAnon, RssFile) in /proc/PID/status, per pid, as MiB
# joined with "+", then the sum: "8.9+9.1 18.0".
mem() {
  local field="$1" p kb parts="" sum=0
  shift
  for p in "$@"; do
    kb="$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null)"
    kb="${kb:-0}"
    sum=$((sum + kb))
    parts+="${parts:++}$(awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}')"
  done
  echo "${parts:--} $(awk -v k="$sum" 'BEGIN {printf "%.1f", k / 1024}')"
}

# The load generator of a test, as a command line for h1 port $2 and h2c port $3.
# Every run is bounded by $duration (or $warmup) seconds.
load_cmd() { # load_cmd TEST H1PORT H2PORT SECS
  local t="$1" h1="http://127.0.0.1:$2" h2="http://127.0.0.1:$3" s="$4" per
  case "$t" in
    h1-rate)
      if [ -n "$oha" ]; then
        echo "$oha -q $rate --latency-correction -w -c $rate_conns -z ${s}s --no-tui --output-format json $h1/"
      else # closed loop: h2load --h1 --rps would do the rate, but rejects HAProxy's empty reason phrase
        echo "wrk -t1 -c$rate_conns -d${s}s --timeout 5s -s $work/wrk-report.lua $h1/"
      fi ;;
    h1-max) echo "wrk -t$lg_threads -c64 -d${s}s --timeout 5s -s $work/wrk-report.lua $h1/" ;;
    h2-rate)
      per=$(((rate + 3) / 4))
      echo "h2load -t1 -c4 -m8 --rps=$per -D$s --log-file=\$LOG $h2/" ;;
    h2-max) echo "h2load -t$lg_threads -c4 -m32 -D$s --log-file=\$LOG $h2/" ;;
    g-c64 | g-c512 | g-c4096)
      echo "wrk -t1 -c${t#g-c} -d${s}s --timeout 5s -s $work/wrk-report.lua $h1/1k" ;;
    g-b64k | g-b1m) echo "wrk -t1 -c64 -d${s}s --timeout 5s -s $work/wrk-report.lua $h1/${t#g-b}" ;;
    *) return 1 ;;
  esac
}

# What the test asks for, for the table: a rate, or the closed loop's connections x streams.
load_target() {
  case "$1" in
    h1-rate) if [ -n "$oha" ]; then echo "$rate/16c"; else echo closed/16c; fi ;;
    h1-max | g-b64k | g-b1m) echo max/64c ;;
    h2-rate) echo "$(( (rate + 3) / 4 * 4 ))/4x8" ;;
    h2-max) echo max/4x32 ;;
    g-c*) echo "max/${1#g-c}c" ;;
  esac
}
