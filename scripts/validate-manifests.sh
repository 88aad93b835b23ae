#!/usr/bin/env bash
# Validates the manifests `meshctl install` renders (and workloads `meshctl inject` changed) against the Kubernetes API schemas,
# offline, with PyPI's kubernetes-validate --strict (unknown fields are errors): for the
# oldest Kubernetes meshctl supports (1.33) and the newest the tool ships. The HTTPRoute
# CRD (--crds) is validated as the apiextensions object it is.
# Usage: scripts/validate-manifests.sh [MESHCTL_BINARY]   (scripts/test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

OLDEST=1.33.0
bin="${1:-target/debug/meshctl}"

if ! command -v kubernetes-validate >/dev/null; then
  echo "validate-manifests: installing kubernetes-validate (PyPI)" >&2
  if ! python3 -m pip install --quiet kubernetes-validate 2>/dev/null \
    && ! python3 -m pip install --quiet --break-system-packages kubernetes-validate 2>/dev/null; then
    venv=target/kubernetes-validate-venv
    python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/pip" install --quiet kubernetes-validate \
      && PATH="$PWD/$venv/bin:$PATH" || true
  fi
fi
if ! command -v kubernetes-validate >/dev/null; then
  echo "validate-manifests: SKIPPED: kubernetes-validate could not be installed (no pip/venv or no PyPI access here); the manifests were not schema-validated" >&2
  exit 0
fi

# The newest schema version the installed tool ships is its default (-k).
newest=$(kubernetes-validate --help | tr '\n' ' ' | sed -n 's/.*Defaults to \([0-9][0-9.]*[0-9]\).*/\1/p')
if [ -z "$newest" ]; then
  echo "validate-manifests: cannot tell the newest Kubernetes version kubernetes-validate ships" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" install --discard-anchor-key >"$work/default.yaml"
"$bin" install --discard-anchor-key --ha --crds --namespace mesh-ha >"$work/ha-crds.yaml"
MESHCTL_STATE_DIR="$work/state" "$bin" certs init --trust-domain example.org >/dev/null
"$bin" install --identity-dir "$work/state" >"$work/identity-dir.yaml"
# What `meshctl inject` adds to workloads must be valid too (the input is kept out of the
# *.yaml glob; only the injected output is validated).
cat >"$work/workloads.in" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {meshctl.io/upstreams: "api,quotes"}}
    spec:
      containers: [{name: web, image: example/web:1, ports: [{containerPort: 8080}]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: report, image: example/report:1}]
EOF
"$bin" inject -f "$work/workloads.in" >"$work/injected.yaml"

status=0
for version in "$OLDEST" "$newest"; do
  for f in "$work"/*.yaml; do
    if kubernetes-validate --strict --quiet -k "$version" "$f"; then
      echo "validate-manifests: $(basename "$f") valid for Kubernetes $version (strict)"
    else
      echo "validate-manifests: $(basename "$f") is NOT valid for Kubernetes $version" >&2
      status=1
    fi
  done
done
exit "$status"
