#!/usr/bin/env bash
# Builds meshctl once per candidate `[profile.release]` setting, each from an empty target
# directory (what a fresh clone's `cargo build --release` does), and prints the clean build's
# wall time, its CPU time (user+sys of cargo and everything it ran: steadier than wall time
# on a shared machine) and the binary's size. The binaries stay for `bench/run.sh --meshctl`.
#
#   bench/profiles.sh OUT_DIR [NAME ...]     # default: every candidate below, in that order
#   bench/profiles.sh /tmp/cand fat1-abort
#
# A candidate is a list of `cargo --config` settings on top of Cargo.toml's release profile,
# so no file in the repository changes. OUT_DIR/NAME/ keeps the target dir (deleted and
# rebuilt on every call), OUT_DIR/NAME.bin the binary and OUT_DIR/builds.tsv one line per
# build: name, wall s, cpu s, bytes, settings.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ "$#" -ge 1 ] || { echo "usage: bench/profiles.sh OUT_DIR [NAME ...]" >&2; exit 2; }
out="$(mkdir -p "$1" && cd "$1" && pwd)"
shift

# Crates only the CLI and the Kubernetes commands run: a proxy never executes their code.
cold=(kube kube-client kube-core kube-runtime k8s-openapi gateway-api json-patch clap_builder
  clap_complete clap_mangen comfy-table indicatif ratatui crossterm serde_yaml reqwest)
cold_z=()
for c in "${cold[@]}"; do cold_z+=("profile.release.package.$c.opt-level=\"z\""); done

declare -A settings=(
  [release]=''
  [thin-abort]='profile.release.lto="thin" profile.release.panic="abort"'
  [fat1-abort]='profile.release.lto="fat" profile.release.codegen-units=1 profile.release.panic="abort"'
  [fat1-abort-zcold]="profile.release.lto=\"fat\" profile.release.codegen-units=1 profile.release.panic=\"abort\" ${cold_z[*]}"
)
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(release thin-abort fat1-abort fat1-abort-zcold)

for name in "${names[@]}"; do
  [ -n "${settings[$name]+set}" ] || { echo "bench/profiles.sh: unknown candidate '$name' (known: ${!settings[*]})" >&2; exit 2; }
  args=()
  for s in ${settings[$name]}; do args+=(--config "$s"); done
  rm -rf "${out:?}/$name"
  echo "profiles.sh: building $name (${settings[$name]:-Cargo.toml as is})" >&2
  # user+sys of cargo and every rustc it waited for: steadier than wall time when other
  # work shares the machine.
  (cd "$repo" && CARGO_TARGET_DIR="$out/$name" /usr/bin/time -f '%e %U %S' -o "$out/$name.time" \
    cargo build --release --locked "${args[@]}" >&2)
  read -r wall user sys < <(tail -1 "$out/$name.time")
  cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.0f", u + s}')"
  cp "$out/$name/release/meshctl" "$out/$name.bin"
  size="$(stat -c %s "$out/$name.bin")"
  printf '%s\t%.0f\t%s\t%s\t%s\n' "$name" "$wall" "$cpu" "$size" "${settings[$name]:--}" | tee -a "$out/builds.tsv"
done
