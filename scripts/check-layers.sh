#!/usr/bin/env bash
# The import rule between meshctl's layers (see the README's "Layout"), checked by grep:
#   - control/ (the control plane) and proxy/ (the data plane) never import each other, and
#     the control plane's core never imports its Kubernetes backend (kube/ builds on it);
#   - policy/ (the mesh's vocabulary) and api/ (wire contracts) import neither of them, nor
#     any other domain or command module: only identity, duration, each other and crates;
#   - observe/ reads the proxies' JSON through api/, never proxy internals.
# Exit 1 naming every offending line.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
# forbid DIR MODULE...: no file under src/DIR may name crate::MODULE (also inside `crate::{…}`).
forbid() {
  local dir=$1
  shift
  local module
  for module in "$@"; do
    local hits
    hits=$(grep -rnE "crate::(\{[^}]*[ ,{])?${module}\b" "src/${dir}" --include='*.rs' || true)
    if [ -n "$hits" ]; then
      echo "layering: src/${dir}/ must not import crate::${module}:" >&2
      echo "$hits" | sed 's/^/  /' >&2
      status=1
    fi
  done
}

forbid control proxy kube
forbid proxy control
forbid policy control proxy observe canary cmd cli supervise demo output kube state
forbid api control proxy observe canary cmd cli supervise demo output kube state
forbid observe proxy
forbid kube proxy
exit "$status"
