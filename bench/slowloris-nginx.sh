#!/usr/bin/env bash
# The load stage's slowloris run against scoregate and against nginx with its Debian default
# settings (README "Overload and attacks"): the same model stand-in
# (tests/integration/model_server.py), the same certificate, the same attack (slowhttptest -H,
# 1,000 connections at 500/s, a header line every 4 s) and the same legitimate client
# (tests/load/loadlib.py: two keep-alive connections and one new TLS connection per request),
# measured for 8 s once the attack holds its connections, after 2 s without attack.
#   bench/slowloris-nginx.sh                 # both
#   bench/slowloris-nginx.sh CONNS=2000      # a bigger attack
# nginx's settings are Debian's /etc/nginx/nginx.conf defaults that matter here
# (worker_processes auto, worker_connections 768, client_header_timeout 60 s) plus a TLS server
# that proxies to the model; scoregate runs with its defaults (header_timeout_ms 10 s).
# Needs nginx (scripts/deps.sh bench), slowhttptest and python3 (scripts/deps.sh test) and a
# build (build/scoregate, or SCOREGATE_BIN).
set -euo pipefail
for kv in "$@"; do export "${kv?}"; done
root="$(cd "$(dirname "$0")/.." && pwd)"
export SCOREGATE_BIN=${SCOREGATE_BIN:-$root/build/scoregate} CONNS=${CONNS:-1000}
exec /usr/bin/python3 - "$root" <<'EOF'
import json, os, subprocess, sys, tempfile, time
from pathlib import Path
root = Path(sys.argv[1])
sys.path.insert(0, str(root / "tests/integration"))
import conftest as ic
sys.modules["integration_conftest"] = ic
sys.path.append(str(root / "tests/load"))
import loadlib

conns = int(os.environ["CONNS"])
run = Path(tempfile.mkdtemp(prefix="scoregate-slowloris."))
pki = ic.make_pki(run / "pki")
model = ic.ModelServer()
loadlib.raise_nofile()

def nginx():
    port = ic.closed_port()
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run / f"tmp-{d}").mkdir(exist_ok=True)
    conf = run / "nginx.conf"
    conf.write_text(f"""
worker_processes auto;
pid {run}/nginx.pid;
error_log {run}/nginx.error.log warn;
events {{ worker_connections 768; }}
http {{
    access_log off;
    client_body_temp_path {run}/tmp-body; proxy_temp_path {run}/tmp-proxy;
    fastcgi_temp_path {run}/tmp-fastcgi; uwsgi_temp_path {run}/tmp-uwsgi; scgi_temp_path {run}/tmp-scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {pki}/ecdsa.fullchain.pem;
        ssl_certificate_key {pki}/ecdsa.key;
        location /api/v1/endpoint/fraud/ {{ proxy_pass http://{model.address}/; }}
    }}
}}""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-e", f"{run}/nginx.error.log", "-g", "daemon off;"])
    time.sleep(1)  # nginx has no readiness line: its master has bound the port by then
    assert proc.poll() is None, (run / "nginx.error.log").read_text()
    return proc, port, lambda: (proc.terminate(), proc.wait())

def scoregate():
    r = ic.Router(run, ic.settings_for(pki, [model.address], router={"access_log": False},
                                        request_settings={"max_concurrent_requests_per_instance": 64}))
    return r.proc, r.port, r.stop

def rss_tree(pid):
    total = 0
    for p in [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]:
        total += loadlib.rss_kib(p)
    return total

rows = {}
for name, start in (("scoregate", scoregate), ("nginx", nginx)):
    proc, port, stop = start()
    try:
        ctx = ic.tls_context(pki)
        base = loadlib.LegitClient(port, ctx)
        time.sleep(2)
        base = base.stop().summary()
        attack = loadlib.slowhttptest("-H", f"https://localhost:{port}/api/v1/endpoint/fraud/score",
                                      conns, rate=500, seconds=22, interval=4)
        held = loadlib.wait_connections(port, conns * 0.95, timeout=12)
        legit = loadlib.LegitClient(port, ctx, warm=False)
        time.sleep(8)
        s = legit.stop().summary()
        s["attack_connections_held"] = loadlib.wait_connections(port, conns, timeout=0.5)
        s["rss_kib"] = rss_tree(proc.pid)
        attack.kill(); attack.communicate()
        s["errors"] = legit.errors[:3]
        s["before"] = {k: round(base[k], 1) for k in ("rps", "p50_ms", "p99_ms", "success")}
        rows[name] = s
    finally:
        stop()
model.stop()
print(f"slowloris, {conns} connections (slowhttptest -H -c {conns} -r 500 -i 4), legitimate client for 8 s:")
for name, s in rows.items():
    print(f"{name:10s} success {s['success']:.1%} ({s['ok']}/{s['requests']}), {s['rps']:.0f} req/s, "
          f"p50 {s['p50_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms, max {s['max_ms']:.0f} ms; attack held "
          f"{s['attack_connections_held']} connections; RSS {s['rss_kib'] / 1024:.1f} MiB; "
          f"before the attack {s['before']}; first errors {s['errors']}")
EOF
