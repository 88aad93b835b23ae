# Sourced by bench/run.sh: the test certificates and the reference proxies' configurations,
# written into the run's scratch directory ($work). Everything listens on 127.0.0.1.
#
#   app      nginx, HTTP/1.1 on $app_port and h2c on $app_h2_port, static files in $work/www
#   hop      one HAProxy between the load and the app ($hop_port h1, $hop_h2_port h2c)
#   pair     outbound proxy ($out_port h1, $out_h2_port h2c) ══ mTLS, ALPN h2 ══► inbound
#            proxy ($in_port) ─► app: HAProxy's pair and Envoy's pair take the same places
#            as meshctl's (bench/pair.sh)
#
# The outbound presents client.mesh.test's certificate and verifies server.mesh.test's; the
# inbound requires a client certificate from the test CA. Both run $threads worker threads.

# An ECDSA P-256 CA and two leaf certificates (PKCS#8 keys, cert+key bundles for HAProxy)
# in $work/certs; valid for a day.
write_certs() {
  local d="$work/certs" who eku
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=bench-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  for who in server client; do
    eku=serverAuth
    [ "$who" = client ] && eku=clientAuth
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=$who.mesh.test" -keyout "$d/$who.key" -out "$d/$who.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s.mesh.test\nextendedKeyUsage=%s\nkeyUsage=digitalSignature\nbasicConstraints=CA:FALSE\n' \
      "$who" "$eku" >"$d/$who.ext"
    openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 1 -sha256 -extfile "$d/$who.ext" -out "$d/$who.crt" 2>/dev/null
    cat "$d/$who.crt" "$d/$who.key" >"$d/$who.pem"
  done
}

# The app's files: / (the body of the latency and throughput tests, $body_bytes) and the
# growth tests' bodies.
write_www() {
  mkdir -p "$work/www" "$work/nginx-tmp"
  head -c "$body_bytes" /dev/zero | tr '\0' x >"$work/www/index.html"
  head -c 1024 /dev/zero | tr '\0' x >"$work/www/1k"
  head -c 65536 /dev/zero | tr '\0' x >"$work/www/64k"
  head -c 1048576 /dev/zero | tr '\0' x >"$work/www/1m"
}

write_nginx() {
  cat >"$work/nginx.conf" <<EOF
worker_processes $threads;
master_process off;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 16384; multi_accept on; }
http {
  access_log off;
  default_type application/octet-stream;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  open_file_cache max=16 inactive=300s;
  etag off;
  server_tokens off;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$app_port backlog=8192;
    listen 127.0.0.1:$app_h2_port http2 backlog=8192;
    root $work/www;
  }
}
EOF
}

# HAProxy settings shared by the hop and both sides of the pair.
haproxy_common() {
  cat <<EOF
global
  nbthread $threads
  maxconn 9000
  tune.bufsize 16384
  ssl-server-verify required
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
EOF
}

write_haproxy() {
  { haproxy_common; cat <<EOF
frontend hop_h1
  bind 127.0.0.1:$hop_port
  default_backend app
frontend hop_h2c
  bind 127.0.0.1:$hop_h2_port proto h2
  default_backend app
backend app
  server app 127.0.0.1:$app_port maxconn 8000
EOF
  } >"$work/haproxy-hop.cfg"

  { haproxy_common; cat <<EOF
frontend out_h1
  bind 127.0.0.1:$out_port
  default_backend peer
frontend out_h2c
  bind 127.0.0.1:$out_h2_port proto h2
  default_backend peer
backend peer
  server in 127.0.0.1:$in_port ssl crt $work/certs/client.pem ca-file $work/certs/ca.crt verify required verifyhost server.mesh.test sni str(server.mesh.test) alpn h2 maxconn 8000
EOF
  } >"$work/haproxy-out.cfg"

  { haproxy_common; cat <<EOF
frontend in_mtls
  bind 127.0.0.1:$in_port ssl crt $work/certs/server.pem ca-file $work/certs/ca.crt verify required alpn h2,http/1.1
  http-request deny unless { ssl_c_s_dn(CN) -m str client.mesh.test }
  default_backend app
backend app
  server app 127.0.0.1:$app_port maxconn 8000
EOF
  } >"$work/haproxy-in.cfg"

  local f
  for f in hop out in; do
    haproxy -c -q -f "$work/haproxy-$f.cfg" || { echo "bench/run.sh: HAProxy refuses $work/haproxy-$f.cfg" >&2; return 1; }
  done
}

# Envoy as its benchmarking FAQ advises: no request ids, no dynamic stats, circuit breakers
# out of the way. One listener per side; the outbound's codec detects h1 and h2c itself.
envoy_router() {
  cat <<'EOF'
          generate_request_id: false
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: next, timeout: 60s } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              dynamic_stats: false
EOF
}

envoy_cluster() { # envoy_cluster PORT H2(0|1)
  cat <<EOF
  clusters:
  - name: next
    type: STATIC
    connect_timeout: 2s
    circuit_breakers:
      thresholds: [{ max_connections: 1000000, max_pending_requests: 1000000, max_requests: 1000000 }]
    load_assignment:
      cluster_name: next
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $1 } } } }] }]
EOF
  [ "$2" = 1 ] || return 0
  cat <<EOF
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: server.mesh.test
        common_tls_context:
          alpn_protocols: ["h2"]
          tls_certificates: [{ certificate_chain: { filename: "$work/certs/client.crt" }, private_key: { filename: "$work/certs/client.key" } }]
          validation_context:
            trusted_ca: { filename: "$work/certs/ca.crt" }
            match_typed_subject_alt_names: [{ san_type: DNS, matcher: { exact: server.mesh.test } }]
EOF
}

envoy_listener() { # envoy_listener NAME PORT
  cat <<EOF
static_resources:
  listeners:
  - name: $1
    address: { socket_address: { address: 127.0.0.1, port_value: $2 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          codec_type: AUTO
EOF
  envoy_router
}

write_envoy() {
  { envoy_listener outbound "$out_port"; envoy_cluster "$in_port" 1; } >"$work/envoy-out.yaml"
  {
    envoy_listener inbound "$in_port"
    # The inbound's TLS: the filter chain's transport socket, client certificate required.
    cat <<EOF
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            alpn_protocols: ["h2", "http/1.1"]
            tls_certificates: [{ certificate_chain: { filename: "$work/certs/server.crt" }, private_key: { filename: "$work/certs/server.key" } }]
            validation_context:
              trusted_ca: { filename: "$work/certs/ca.crt" }
              match_typed_subject_alt_names: [{ san_type: DNS, matcher: { exact: client.mesh.test } }]
EOF
    envoy_cluster "$app_port" 0
  } >"$work/envoy-in.yaml"
}
