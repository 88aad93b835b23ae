#!/usr/bin/env bash
# The meshctl pair of bench/run.sh (and of bench/local-pair.sh): issues the pair's own SPIFFE
# identities into MESH_WORK_DIR with `meshctl certs` (not run.sh's openssl certificates) and
# runs both proxies of MESHCTL_BIN in the foreground, MESH_PROXY_THREADS worker threads each
# (default 1), until run.sh stops its process group.
#
#   client → 127.0.0.1:MESH_OUT_PORT (detect: HTTP/1.1)      ┐ outbound proxy (sa/client)
#   client → 127.0.0.1:MESH_OUT_H2_PORT (detect: h2c)        ┘   ══ mTLS, one h2 conn ══╗
#   inbound proxy (sa/server) on MESH_IN_PORT → app (nginx, HTTP/1.1) on MESH_UPSTREAM_PORT
#
# MESH_TAP=1: both proxies also serve the tap API (loopback ports MESH_TAP_PORT and +1, default
# 14190) and one `meshctl tap --proxy` client watches the inbound proxy for the whole run, so a
# run with and one without give throughput with one active tap client against none, e.g.
#   MESH_TAP=1 bench/run.sh --meshctl meshctl-tap=target/release/meshctl
# MESH_OTLP=http://HOST:PORT: both proxies export a span per request there (tracing on).
set -euo pipefail
: "${MESHCTL_BIN:?}" "${MESH_OUT_PORT:?}" "${MESH_OUT_H2_PORT:?}" "${MESH_IN_PORT:?}" "${MESH_UPSTREAM_PORT:?}" "${MESH_WORK_DIR:?}"
bin="$MESHCTL_BIN"
# A fresh directory per start: run.sh starts the pair once per round and phase in one work dir.
mkdir -p "$MESH_WORK_DIR"
work="$(mktemp -d "$MESH_WORK_DIR/meshctl.XXXXXX")"
threads="${MESH_PROXY_THREADS:-1}"
server_id="spiffe://mesh.local/ns/bench/sa/server"
client_id="spiffe://mesh.local/ns/bench/sa/client"

"$bin" --state-dir "$work/state" certs init >/dev/null
"$bin" --state-dir "$work/state" certs issue "$server_id" --out "$work/server" >/dev/null
"$bin" --state-dir "$work/state" certs issue "$client_id" --out "$work/client" >/dev/null

upstreams=(--upstream "127.0.0.1:$MESH_OUT_PORT=127.0.0.1:$MESH_IN_PORT#$server_id")
if [ "$MESH_OUT_H2_PORT" != "$MESH_OUT_PORT" ]; then
  upstreams+=(--upstream "127.0.0.1:$MESH_OUT_H2_PORT=127.0.0.1:$MESH_IN_PORT#$server_id")
fi

in_tap=() out_tap=()
if [ "${MESH_TAP:-0}" = 1 ]; then
  tap_port="${MESH_TAP_PORT:-14190}"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/tap.token"
  tap_hash="$(tr -d '\n' < "$work/tap.token" | sha256sum | cut -d' ' -f1)"
  in_tap=(--tap "127.0.0.1:$tap_port" --tap-token-sha256 "$tap_hash")
  out_tap=(--tap "127.0.0.1:$((tap_port + 1))" --tap-token-sha256 "$tap_hash")
fi

otlp=()
if [ -n "${MESH_OTLP:-}" ]; then
  otlp=(--otlp-endpoint "$MESH_OTLP")
fi

export RUST_LOG="${RUST_LOG:-info}"
"$bin" proxy --identity-dir "$work/server" --workers "$threads" --admin 127.0.0.1:0 \
  --inbound "127.0.0.1:$MESH_IN_PORT=127.0.0.1:$MESH_UPSTREAM_PORT" "${in_tap[@]}" "${otlp[@]}" &
"$bin" proxy --identity-dir "$work/client" --workers "$threads" --admin 127.0.0.1:0 \
  "${upstreams[@]}" "${out_tap[@]}" "${otlp[@]}" &
if [ "${MESH_TAP:-0}" = 1 ]; then
  # The tap client retries until the proxy listens; its events go nowhere.
  (until "$bin" tap --proxy "127.0.0.1:$tap_port" --token-file "$work/tap.token" -o json >/dev/null 2>&1; do
     sleep 0.2
   done) &
fi
wait
