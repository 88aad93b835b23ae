#!/usr/bin/env bash
# Coverage-guided fuzzing with AFL++ (afl.rs) over the harnesses in fuzz/ (docs/fuzzing.md):
# optional, local, not part of CI. Needs `cargo install cargo-afl` once (it builds AFL++).
#
#   scripts/fuzz-afl.sh                    # every harness, 60 s each
#   scripts/fuzz-afl.sh meshfile 600       # one harness for 10 minutes
#
# Findings land in fuzz/out/<harness>/default/crashes/ (not committed); the script exits 1
# if any harness has one. Turn each into a regression test and a fix, and a small input that
# covers something new into a seed under fuzz/seeds/<harness>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! cargo afl --version >/dev/null 2>&1; then
  echo "fuzz-afl: cargo-afl is missing: cargo install cargo-afl" >&2
  exit 1
fi
harnesses=("${1:-}")
if [ -z "${harnesses[0]}" ]; then
  mapfile -t harnesses < <(ls src/bin | sed 's/\.rs$//')
fi
seconds=${2:-60}

cargo afl build --release --locked
# No core dumps handler or CPU frequency governor to configure on a shared machine.
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1

status=0
for h in "${harnesses[@]}"; do
  mkdir -p "out/$h"
  # -V: stop after this many seconds; resume an earlier run's queue when there is one.
  input=seeds/$h
  [ -d "out/$h/default/queue" ] && input=-
  cargo afl fuzz -V "$seconds" -i "$input" -o "out/$h" "target/release/$h" >"out/$h/afl.log" 2>&1 || true
  stats=out/$h/default/fuzzer_stats
  crashes=$(find "out/$h/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
  execs=$(sed -n 's/^execs_done *: *//p' "$stats" 2>/dev/null || echo '?')
  paths=$(sed -n 's/^corpus_count *: *//p' "$stats" 2>/dev/null || echo '?')
  printf 'fuzz-afl: %-18s %s execs, %s paths, %s crashes\n' "$h" "$execs" "$paths" "$crashes"
  if [ ! -f "$stats" ]; then
    echo "fuzz-afl: $h did not start; see fuzz/out/$h/afl.log" >&2
    status=1
  elif [ "$crashes" -gt 0 ]; then
    status=1
  fi
done
exit "$status"
