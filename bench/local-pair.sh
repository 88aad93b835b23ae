# Sourced by bench/syscalls.sh and bench/instructions.sh: an nginx app (1 KiB body) and the
# meshctl pair (bench/pair.sh) on free loopback ports, torn down on exit.
#
#   start_local_pair MESHCTL_BIN WAIT_SECS
#
# sets: work (scratch dir, removed on exit), out_port (HTTP/1.1), out_h2_port (h2c),
# app_port (nginx), inbound and outbound (the proxies' pids). Called again, it starts a
# second pair with its own nginx and scratch dir (bench/ab.sh).

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
works=("$work")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${works[@]}"
}
trap cleanup EXIT

# N distinct free ports, all held at once while chosen (one at a time, the kernel can hand out
# the same port twice), below the ephemeral range that load generators' client sockets use.
free_ports() {
  python3 -c '
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(10000, max(10001, low))))
        socks.append(s)
    except OSError:
        s.close()
print(*[s.getsockname()[1] for s in socks])' "$1"
}

start_local_pair() {
  local bin="$1" wait_secs="$2" in_port
  if [ -e "$work/nginx.conf" ]; then # a second pair: a scratch dir of its own
    work="$(mktemp -d)"
    works+=("$work")
  fi
  read -r app_port in_port out_port out_h2_port < <(free_ports 4)
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
  server { listen 127.0.0.1:$app_port; root $work/www; location / { } }
}
NGINX
  setsid nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" &
  pids+=($!)

  MESHCTL_BIN="$bin" MESH_OUT_PORT="$out_port" MESH_OUT_H2_PORT="$out_h2_port" \
    MESH_IN_PORT="$in_port" MESH_UPSTREAM_PORT="$app_port" MESH_WORK_DIR="$work/pair" \
    RUST_LOG=warn setsid "$bench_dir/pair.sh" &
  pids+=($!)

  local deadline=$((SECONDS + wait_secs))
  until curl -sf -o /dev/null "http://127.0.0.1:$out_port/"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$(basename "$0"): the pair did not come up within ${wait_secs}s" >&2
      exit 1
    fi
    sleep 0.1
  done
  inbound="$(pgrep -n -f -- "--inbound 127.0.0.1:$in_port=")"
  outbound="$(pgrep -n -f -- "--upstream 127.0.0.1:$out_port=")"
}
