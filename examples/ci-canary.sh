#!/usr/bin/env bash
# A CI pipeline's canary stage: roll SERVICE over to VERSION under the mesh's gates and fail
# the job unless it was promoted. The same script runs against a local mesh (`meshctl up`)
# and against a cluster: meshctl picks the target itself — the mesh found from the working
# directory upward, else the kubeconfig's current context (MESHCTL_TARGET=kubernetes makes it
# explicit; the namespace is the context's, or MESHCTL_NAMESPACE here) — so the script has
# no target-specific line.
#
#   usage: ci-canary.sh SERVICE VERSION [more `meshctl canary start` flags...]
#   exit:  canary start's: 0 promoted, 3 rolled back, 4 timed out; 1 failure, 2 usage error
#
# Environment: MESHCTL (the binary, default `meshctl`), CANARY_LOG (where the NDJSON events
# go, default canary-SERVICE.ndjson: keep it as a build artifact), MESHCTL_NAMESPACE.
set -euo pipefail

usage="usage: ci-canary.sh SERVICE VERSION [canary start flags...]"
service=${1:?$usage}
version=${2:?$usage}
shift 2
meshctl=${MESHCTL:-meshctl}
log=${CANARY_LOG:-canary-$service.ndjson}
ns=()
if [ -n "${MESHCTL_NAMESPACE:-}" ]; then
  ns=(-n "$MESHCTL_NAMESPACE")
fi

# 1. Nothing changes unless the mesh is healthy now (exit 1 otherwise, with its table).
"$meshctl" status "${ns[@]}" >&2

# 2. The rollout. Its exit code is the verdict; its events are the record.
code=0
"$meshctl" canary start "$service" --to "$version" -o json "${ns[@]}" "$@" >"$log" || code=$?

# 3. A summary for the job log: the last event and the service's golden metrics now.
echo "canary $service -> $version: exit $code; last event: $(tail -n 1 "$log")" >&2
"$meshctl" stat "$service" "${ns[@]}" >&2 || true
exit "$code"
