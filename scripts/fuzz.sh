#!/usr/bin/env bash
# Runs every fuzz target (docs/fuzzing.md) for a bounded time and prints one line per target;
# exits 1 if any target fails. The targets are proptest properties in the library's unit
# tests (the `fuzz` module beside each parser), run here in the debug build, where integer
# overflow panics, with far more cases than `cargo test` gives them.
#
#   scripts/fuzz.sh                      # CI: FUZZ_SCALE (default 8) times each target's
#                                        # `cargo test` case count (256-1024; fewer if slow)
#   FUZZ_SECONDS=120 scripts/fuzz.sh     # local: each target for ~120 s, new random cases
#                                        # every round, until its time is up
#   scripts/fuzz.sh redact h1_           # only targets whose name contains one of the words
#
# A failure is shrunk to a minimal input, printed, and its seed saved under
# proptest-regressions/ (commit it: every later run replays it first); then fix the code and
# add a named regression test for it.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=${FUZZ_SCALE:-8}
seconds=${FUZZ_SECONDS:-0}

bin=$(cargo test --locked --lib --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "fuzz: could not build the library's test binary (cargo test --lib --no-run)" >&2
  exit 1
fi

# Every test in a `fuzz` module but the fixtures' sanity checks (named `the_…`).
mapfile -t targets < <("$bin" --list 2>/dev/null |
  sed -n 's/^\(.*::fuzz::[A-Za-z0-9_]*\): test$/\1/p' | grep -v '::fuzz::the_')
if [ "$#" -gt 0 ]; then
  wanted=()
  for t in "${targets[@]}"; do
    for word in "$@"; do
      if [[ $t == *"$word"* ]]; then wanted+=("$t"); break; fi
    done
  done
  targets=("${wanted[@]}")
fi
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: no target matches" >&2
  exit 1
fi

failed=0
start_all=$SECONDS
for t in "${targets[@]}"; do
  start=$SECONDS
  rounds=0
  log=$(mktemp)
  status=ok
  while :; do
    rounds=$((rounds + 1))
    if ! MESHCTL_FUZZ_SCALE=$scale "$bin" --exact "$t" --test-threads=1 >"$log" 2>&1; then
      status=FAILED
      break
    fi
    if [ "$seconds" -le 0 ] || [ $((SECONDS - start)) -ge "$seconds" ]; then
      break
    fi
  done
  printf 'fuzz: %-66s %-6s %3d round(s) x%d  %4ds\n' "${t/::fuzz::/ }" "$status" "$rounds" "$scale" $((SECONDS - start))
  if [ "$status" != ok ]; then
    failed=1
    sed 's/^/    /' "$log" | grep -v '^    *[0-9]*: \|^    *at ' | head -n 60 || true
  fi
  rm -f "$log"
done
echo "fuzz: ${#targets[@]} targets in $((SECONDS - start_all))s: $([ "$failed" -eq 0 ] && echo 'no failures' || echo 'FAILURES above')"
exit "$failed"
