#!/usr/bin/env bash
# The project's test command (README "Set-up", step 2; .ci/run calls it too).
# Installs the system tools the integration tests drive — openssl, curl (HTTP/1.1, h2c),
# promtool (a real Prometheus parser for /metrics), python3's grpcio and jsonschema — then
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v promtool >/dev/null || need+=(prometheus)
if [ "${#need[@]}" -gt 0 ]; then
  echo "scripts/test.sh: installing ${need[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# grpcio: a real gRPC implementation other than our own (tonic) for the mesh's gRPC tests.
if ! python3 -c 'import grpc' 2>/dev/null; then
  echo "scripts/test.sh: installing grpcio (PyPI)" >&2
  python3 -m pip install --quiet grpcio 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages grpcio
fi

# jsonschema: validates `meshctl tap --har` files against the HAR 1.2 schema
# (tests/har-schema/validate.py).
if ! python3 -c 'import jsonschema, referencing' 2>/dev/null; then
  echo "scripts/test.sh: installing jsonschema (PyPI)" >&2
  python3 -m pip install --quiet jsonschema 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages jsonschema
fi

# The Kubernetes manifests `meshctl install` renders, schema-validated offline (installs
# PyPI kubernetes-validate if missing; skips, saying why, when it cannot).
cargo build --locked --quiet --bin meshctl
scripts/validate-manifests.sh "${MESHCTL_TEST_BIN:-target/debug/meshctl}"

# Tests spawn real proxies and servers; two test threads keep a 2-core machine responsive.
exec cargo test --locked -- --test-threads="${MESHCTL_TEST_THREADS:-2}" "$@"
