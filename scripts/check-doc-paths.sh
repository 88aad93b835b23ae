#!/usr/bin/env bash
# Every source path the docs name (`src/…`, `tests/…`, `bench/…`, `scripts/…`, `examples/…`,
# `proto/…`) must exist, so the docs follow the code when files move. Exit 1 naming each
# missing path and where it is cited.
set -euo pipefail
cd "$(dirname "$0")/.."

roots='(src|tests|bench|scripts|examples|proto)'
files="\\b$roots/[A-Za-z0-9_./-]*\\.(rs|sh|md|yaml|yml|proto|py|toml|json|snap)\\b"
dirs="\\b$roots/([A-Za-z0-9_-]+/)+"
status=0
while IFS=: read -r file line path; do
  [ -e "$path" ] && continue
  echo "docs: $file:$line names $path, which does not exist" >&2
  status=1
done < <(grep -rnoE "$files|$dirs" README.md docs || true)
exit "$status"
