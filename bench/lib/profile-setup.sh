# Sourced by profile-callgrind.sh, profile-perf.sh and suite-cost.sh: the same router and nginx
# under the same load, so their per-request figures compare. Writes into DIR a throw-away PKI (lib/pki.sh),
# the wrk script (a POST of 35 bytes of JSON), scoregate's config and nginx's config (one
# worker, TLS on 127.0.0.1:19200, keep-alive upstream pool, no request buffering: as scoregate).
# The model is `scoregate model-server` on 127.0.0.1:19100; scoregate listens on 19201 (admin
# 19202).
#   profile_setup DIR
profile_setup() {
  local out=$1
  . "$(dirname "${BASH_SOURCE[0]}")/pki.sh"; bench_pki "$out/pki" "profile CA"
  cat > "$out/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"data": [[1,2,3,4,5,6,7,8,9,10]]}'
wrk.headers["Content-Type"] = "application/json"
LUA
  cat > "$out/scoregate.yaml" <<YAML
extension: {allowInsecureConnections: false, sslCname: localhost}
protected: {sslCertPemFile: $out/pki/fullchain.pem, sslKeyPemFile: $out/pki/leaf.key}
router: {access_log: false, trusted_ca_file: $out/pki/ca.pem}
endpoints:
  - name: demo
    auth_mode: none
    deployments:
      - name: blue
        targets: ["127.0.0.1:19100"]
        request_settings: {max_concurrent_requests_per_instance: 1000, max_queue_length: 1000}
YAML
  mkdir -p "$out/nginx"
  cat > "$out/nginx/nginx.conf" <<NGX
daemon off; master_process off; worker_processes 1; pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; client_body_temp_path $out/nginx/body; proxy_temp_path $out/nginx/proxy;
  upstream model { server 127.0.0.1:19100; keepalive 256; }
  server {
    listen 127.0.0.1:19200 ssl;
    ssl_certificate $out/pki/fullchain.pem; ssl_certificate_key $out/pki/leaf.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location ~ ^/api/v1/service/([^/]+)/(.*)\$ {
      proxy_pass http://model/\$2; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_request_buffering off;
    }
  }
}
NGX
}

# Waits until the proxy on 127.0.0.1:PORT answers over TLS (up to 60 s: valgrind starts slowly).
#   wait_https PORT
wait_https() {
  for _ in $(seq 1 120); do
    curl -sk -o /dev/null "https://127.0.0.1:$1/" 2>/dev/null && return 0; sleep 0.5
  done
  return 0  # the load that follows reports a proxy that never came up
}
