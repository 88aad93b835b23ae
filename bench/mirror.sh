#!/usr/bin/env bash
# What traffic mirroring costs the caller: a real `meshctl up` mesh — a caller proxy (no app)
# calling api v1 and v2 (one nginx, 1 KiB bodies) — loaded through the caller's outbound
# listener with mirroring off and with `canary mirror api --to v2 --percent 100`, rounds
# interleaved. Prints req/s and CPU microseconds per request of the caller's proxy (which
# makes the copies and compares the answers) and of the whole mesh (v2's proxy and nginx then
# also serve every copy), and the on/off ratios.
#
#   bench/mirror.sh                       # MESHCTL_BIN or target/release/meshctl
#   ROUNDS=3 REQUESTS=40000 bench/mirror.sh
#
# Needs nginx, h2load (nghttp2-client), python3. Every load run is bounded by REQUESTS
# (default 20000) and a 60 s timeout. Loopback only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
rounds="${ROUNDS:-2}" requests="${REQUESTS:-20000}"
bin="${MESHCTL_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/meshctl}"
[ -x "$bin" ] || { echo "mirror.sh: no meshctl binary at $bin (cargo build --release, or MESHCTL_BIN=...)" >&2; exit 1; }
bin="$(realpath "$bin")"
for tool in nginx h2load python3; do
  command -v "$tool" >/dev/null || { echo "mirror.sh: $tool is not installed" >&2; exit 1; }
done

work="$(mktemp -d)"
nginx_pid=""
cleanup() {
  (cd "$work" && env -u MESHCTL_STATE_DIR "$bin" down >/dev/null 2>&1) || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
v1_port="$(free_port)" v2_port="$(free_port)" load_port="$(free_port)"
mkdir -p "$work/www" "$work/tmp"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
master_process off;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$v1_port; listen 127.0.0.1:$v2_port; root $work/www; location / { } }
}
NGINX
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" &
nginx_pid=$!
cat > "$work/mesh.yaml" <<MESH
services:
  load:
    port: $load_port
    upstreams: [api]
  api:
    protocol: http
    versions:
      v1: { port: $v1_port }
      v2: { port: $v2_port }
MESH
(cd "$work" && env -u MESHCTL_STATE_DIR RUST_LOG=warn "$bin" up --detach >"$work/up.out" 2>&1) ||
  { echo "mirror.sh: meshctl up failed:" >&2; cat "$work/up.out" >&2; exit 1; }
plan="$work/.meshctl/run/plan.json"
target="$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(next(x for x in p["proxies"] if x["name"]=="load")["upstreams"][0]["listen"])' "$plan")"
caller_pid="$(pgrep -f -- "--spiffe-id spiffe://[^ ]*/sa/load" | head -1)"
mesh_pids="$(pgrep -f -- "$work/.meshctl" | tr '\n' ' ') $nginx_pid"
url="http://$target/index.html"
got="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url")"
[ "$got" = "200 1024" ] || { echo "mirror.sh: $url answers '$got'" >&2; exit 1; }

jiffies() { local p t=0; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat"))); done; echo "$t"; }
hz="$(getconf CLK_TCK)"
mirror() {
  if [ "$1" = on ]; then
    (cd "$work" && "$bin" canary mirror api --to v2 --percent 100 --for 0 --wait >/dev/null)
  else
    (cd "$work" && "$bin" canary mirror api --off --wait >/dev/null)
  fi
}
run() {
  local c0 m0 c1 m1 out reqs
  c0="$(jiffies "$caller_pid")" m0="$(jiffies $mesh_pids)"
  out="$(timeout 60 h2load -c16 -m16 -t1 -n "$requests" "$url" 2>&1 || true)"
  c1="$(jiffies "$caller_pid")" m1="$(jiffies $mesh_pids)"
  reqs="$(awk '/^requests:/ {print $8}' <<<"$out")"
  [ "${reqs:-0}" -gt 0 ] || { echo "mirror.sh: the load completed nothing: $out" >&2; exit 1; }
  awk -v rps="$(awk '/^finished in/ {gsub(",", "", $4); print $4}' <<<"$out")" -v n="$reqs" \
      -v c="$((c1 - c0))" -v m="$((m1 - m0))" -v hz="$hz" \
      'BEGIN { printf "%.0f %.1f %.1f\n", rps, c / hz * 1e6 / n, m / hz * 1e6 / n }'
}
h2load -c4 -m8 -t1 -n 2000 "$url" >/dev/null 2>&1 || true
echo "# bench/mirror.sh $(date -u +%FT%TZ) — $("$bin" --version 2>/dev/null | head -1), $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'); $(nproc) CPUs; $requests requests a run (h2c, 16 connections x 16 streams)"
printf '%-5s %-8s %8s %18s %16s\n' round mirror "req/s" "caller_us/req" "mesh_us/req"
declare -A sum_rps sum_caller sum_mesh
for round in $(seq 1 "$rounds"); do
  for mode in off on; do
    mirror "$mode"
    read -r rps caller mesh <<<"$(run)"
    printf '%-5s %-8s %8s %18s %16s\n' "$round" "$mode" "$rps" "$caller" "$mesh"
    sum_rps[$mode]="$(awk -v a="${sum_rps[$mode]:-0}" -v b="$rps" 'BEGIN {print a + b}')"
    sum_caller[$mode]="$(awk -v a="${sum_caller[$mode]:-0}" -v b="$caller" 'BEGIN {print a + b}')"
    sum_mesh[$mode]="$(awk -v a="${sum_mesh[$mode]:-0}" -v b="$mesh" 'BEGIN {print a + b}')"
  done
done
copies="$(curl -s "http://$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(next(x for x in p["proxies"] if x["name"]=="load")["admin"])' "$plan")/metrics" | grep '^meshctl_mirror_requests_total' || true)"
awk -v r0="${sum_rps[off]}" -v r1="${sum_rps[on]}" -v c0="${sum_caller[off]}" -v c1="${sum_caller[on]}" \
    -v m0="${sum_mesh[off]}" -v m1="${sum_mesh[on]}" \
    'BEGIN { printf "on/off: req/s %.2fx, caller CPU per request %.2fx, mesh CPU per request %.2fx\n", r1 / r0, c1 / c0, m1 / m0 }'
echo "# the caller's mirror counts at the end:"
echo "${copies:-  (none)}" | sed 's/^/#   /'
