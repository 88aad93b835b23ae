#!/usr/bin/env bash
# Builds the release binary with profile-guided optimisation: an instrumented `dist` build
# serves the benchmark pair's traffic (bench/local-pair.sh: nginx behind a meshctl pair,
# HTTP/1.1 and h2c load), LLVM merges the counts, and a second `dist` build uses them. LLVM
# then inlines and lays out code for the paths the proxies take, and lld (with
# -z keep-text-section-prefix) keeps the functions the training never ran in their own
# `.text.unlikely` section and packs the ones it ran side by side (an ordering file drawn
# from the profile), so the code a proxy does run sits in fewer pages (less resident text,
# fewer i-cache and iTLB misses). bench/RESULTS.md has the measured effect.
#
#   scripts/pgo.sh            # prints the binary's path:
#                             # target/pgo/use/x86_64-unknown-linux-gnu/dist/meshctl
#   SECS=20 scripts/pgo.sh    # longer training runs (default 5 s per shape, 6 shapes)
#
# Needs: rustup's llvm-tools component (installed if missing; its llvm-profdata matches
# rustc's LLVM), nginx, wrk and h2load (apt-get install -y nginx-light wrk nghttp2-client).
# Takes two full `dist` builds (about 10 minutes on 2 cores). `--target` keeps the profiling
# flags off build scripts and proc macros, which run inside the build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${SECS:-5}"
out="${CARGO_TARGET_DIR:-$root/target}/pgo"
profiles="$out/profiles"

for tool in nginx wrk h2load; do
  command -v "$tool" >/dev/null || { echo "pgo.sh: $tool is not installed" >&2; exit 1; }
done
rustup component add llvm-tools >/dev/null
host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
[ -x "$profdata" ] || { echo "pgo.sh: $profdata is missing after installing llvm-tools" >&2; exit 1; }

echo "pgo.sh: building the instrumented binary" >&2
rm -rf "$profiles"
mkdir -p "$profiles"
RUSTFLAGS="-Cprofile-generate=$profiles" CARGO_TARGET_DIR="$out/gen" \
  cargo build --locked --profile dist --target "$host" --manifest-path "$root/Cargo.toml"

echo "pgo.sh: training on the benchmark pair (${secs}s per shape)" >&2
(
  # shellcheck source=bench/local-pair.sh
  . "$root/bench/local-pair.sh"
  start_local_pair "$out/gen/$host/dist/meshctl" 30
  # Beside the benchmark's shapes: one request at a time, request bodies, 256 KiB responses,
  # so body streaming and connection turnover are trained too, not only small GETs.
  head -c 262144 /dev/zero > "$work/www/large"
  head -c 16384 /dev/zero > "$work/body"
  base="http://127.0.0.1:$out_port" h2c="http://127.0.0.1:$out_h2_port"
  wrk -t1 -c64 -d"${secs}s" "$base/" >/dev/null
  wrk -t1 -c4 -d"${secs}s" "$base/large" >/dev/null
  h2load --h1 -c16 -m1 -D"$secs" -d "$work/body" "$base/" >/dev/null
  h2load -c4 -m32 -D"$secs" "$h2c/" >/dev/null
  h2load -c16 -m1 -D"$secs" "$h2c/" >/dev/null
  h2load -c4 -m8 -D"$secs" -d "$work/body" "$h2c/large" >/dev/null
  # The proxies write their counts when they exit: stop them (SIGTERM drains) before the
  # subshell's exit trap removes the pair.
  cleanup
) >&2
shopt -s nullglob
raw=("$profiles"/*.profraw)
[ "${#raw[@]}" -gt 0 ] || { echo "pgo.sh: the training run wrote no profiles into $profiles" >&2; exit 1; }
"$profdata" merge -o "$out/merged.profdata" "${raw[@]}"
# Cargo does not track the profile's contents, only RUSTFLAGS: a profile named by its hash
# makes a new training rebuild everything instead of reusing a build made with the old one.
sum="$(sha256sum "$out/merged.profdata" | cut -c1-16)"
rm -f "$out"/merged-*.profdata
mv "$out/merged.profdata" "$out/merged-$sum.profdata"

# The functions the training ran, busiest first, for lld to lay out side by side (a function
# is its own section: rustc's -ffunction-sections). Names are the symbols' ("file;symbol" for
# local ones); a function LLVM later inlines everywhere has no symbol left and is skipped.
"$profdata" show --all-functions --counts "$out/merged-$sum.profdata" | awk '
  /^  [^ ].*:$/ { name = substr($0, 3, length($0) - 3); sub(/^.*;/, "", name) }
  /^    Block counts:/ {
    line = $0; gsub(/[^0-9,]/, "", line); n = split(line, c, ","); total = 0
    for (i = 1; i <= n; i++) total += c[i]
    if (total > 0) print total, name
  }' | sort -rn | awk '!seen[$2]++ { print $2 }' >"$out/order-$sum.txt"
find "$out" -maxdepth 1 -name 'order-*.txt' ! -name "order-$sum.txt" -delete

echo "pgo.sh: building with the profile" >&2
# -profile-summary-cold-count=0: only code the training never ran counts as cold (moved to
# .text.unlikely and optimised for size); start-up code that ran once stays with the rest.
# --symbol-ordering-file: the functions that ran are packed at the start of .text, .text.hot
# and .text.unlikely instead of spread among the ones that did not, so the kernel maps (64 KiB
# around each page a process touches) less of the binary. -z pack-relative-relocs: PIE
# relocations as a bitmap (DT_RELR, glibc 2.36+) instead of 24 bytes each, 312 KiB that the
# dynamic loader reads at every start. bench/RESULTS.md (session 7) has the measured effect.
flags="-Cprofile-use=$out/merged-$sum.profdata -Cllvm-args=-profile-summary-cold-count=0"
flags+=" -Clink-arg=-Wl,-z,keep-text-section-prefix -Clink-arg=-Wl,-z,pack-relative-relocs"
flags+=" -Clink-arg=-Wl,--symbol-ordering-file=$out/order-$sum.txt -Clink-arg=-Wl,--no-warn-symbol-ordering"
RUSTFLAGS="$flags" CARGO_TARGET_DIR="$out/use" \
  cargo build --locked --profile dist --target "$host" --manifest-path "$root/Cargo.toml"
echo "$out/use/$host/dist/meshctl"
