"""The spine: HTTPS in, scoring requests routed to a real model server (issue 2)."""
import http.client
import json
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import KEY, SECONDARY, closed_port, curl, plain_http, settings_for, tls_context

SCORE = json.dumps({"data": [[1, 2, 3], [4, 5, 6]]}).encode()


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_score_through_proxy_with_curl(pki, model, start_router, tls, kind):
    r = start_router(settings_for(pki, [model.address], kind=kind))
    for prefix in ("/api/v1/endpoint/fraud", "/api/v1/service/fraud"):
        status, body, hdrs, rc = curl(r, prefix + "/score", tls=tls, pki=pki, data=SCORE,
                                      headers=["Content-Type: application/json"])
        assert rc == 0 and status == 200, (status, body)
        assert body == b'{"result": [6.0, 15.0]}'  # the model's exact bytes
        assert hdrs["azureml-model-deployment"] == "blue"


def test_tls_versions_and_alpn_with_openssl_s_client(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    for flag, proto in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{r.port}", flag,
                            "-servername", "localhost", "-verify_hostname", "localhost",
                            "-CAfile", str(pki / "ca.pem"), "-alpn", "http/1.1", "-verify_return_error"],
                           input=b"", capture_output=True, timeout=15)
        out = p.stdout.decode()
        assert f"Protocol  : {proto}" in out or f"New, {proto}" in out, out
        assert "Verify return code: 0 (ok)" in out
        assert "ALPN protocol: http/1.1" in out


def test_python_http_client_keep_alive_reuses_one_connection(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    conn = http.client.HTTPSConnection("localhost", r.port, context=tls_context(pki), timeout=10)
    conn.connect()
    first_sock = conn.sock
    for i in range(5):
        conn.request("POST", "/api/v1/endpoint/fraud/score", body=SCORE,
                     headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == b'{"result": [6.0, 15.0]}'
        assert conn.sock is first_sock  # no reconnect: keep-alive held
    conn.close()


def test_auth(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    status, body, hdrs, _ = curl(r, "/api/v1/endpoint/fraud/score", key=None, pki=pki, data=SCORE)
    assert status == 401 and json.loads(body)["error"]["code"] == "Unauthorized"
    assert hdrs.get("www-authenticate") == "Bearer"
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/score", key="wrong-key-0123456789", pki=pki, data=SCORE)
    assert status == 401
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/score", key=SECONDARY, pki=pki, data=SCORE)
    assert status == 200
    # the key is not forwarded to the model
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/headers", pki=pki)
    names = [k.lower() for k, _ in json.loads(body)["headers"]]
    assert "authorization" not in names


def test_unknown_endpoint_and_path_404(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    status, body, _, _ = curl(r, "/api/v1/endpoint/nope/score", pki=pki, data=SCORE)
    assert status == 404 and json.loads(body)["error"]["code"] == "EndpointNotFound"
    status, body, _, _ = curl(r, "/somewhere/else", pki=pki)
    assert status == 404
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/score", pki=pki, data=SCORE,
                              headers=["azureml-model-deployment: green"])
    assert status == 404 and json.loads(body)["error"]["code"] == "DeploymentNotFound"


def test_502_when_target_port_closed(pki, start_router):
    r = start_router(settings_for(pki, [f"127.0.0.1:{closed_port()}"]))
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/score", pki=pki, data=SCORE)
    assert status == 502, body
    assert json.loads(body)["error"]["code"] == "UpstreamConnectFailed"


def test_504_when_model_sleeps_past_request_timeout(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], request_settings={"request_timeout_ms": 300}))
    t0 = time.monotonic()
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/sleep?ms=3000", pki=pki)
    took = time.monotonic() - t0
    assert status == 504 and json.loads(body)["error"]["code"] == "UpstreamTimeout"
    assert 0.25 < took < 2.5, took


def test_413_and_431(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], router={"max_body_bytes": 1000, "max_header_bytes": 2048}))
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/echo", pki=pki, data=b"x" * 5000)
    assert status == 413, body
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/echo", pki=pki, headers=["X-Big: " + "a" * 4000])
    assert status == 431, body
    # chunked body over the limit: found while streaming, still 413
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/echo", pki=pki, data=b"y" * 5000,
                              headers=["Transfer-Encoding: chunked"])
    assert status == 413, body


def test_8mb_body_round_trip_byte_exact(pki, model, start_router):
    import os
    r = start_router(settings_for(pki, [model.address]))
    payload = os.urandom(8 * 1024 * 1024)
    status, body, _, rc = curl(r, "/api/v1/endpoint/fraud/echo", pki=pki, data=payload,
                               headers=["Content-Type: application/octet-stream"], timeout=60)
    assert rc == 0 and status == 200
    assert len(body) == len(payload) and body == payload


def test_sse_events_arrive_one_by_one(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    conn = http.client.HTTPSConnection("localhost", r.port, context=tls_context(pki), timeout=10)
    conn.request("GET", "/api/v1/endpoint/fraud/sse?n=5&gap_ms=300", headers={"Authorization": f"Bearer {KEY}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    arrivals = []
    buf = b""
    while len(arrivals) < 5:
        chunk = resp.read1(65536)
        assert chunk, "stream ended early"
        buf += chunk
        while b"\n\n" in buf:
            _, buf = buf.split(b"\n\n", 1)
            arrivals.append(time.monotonic())
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(g > 0.2 for g in gaps), gaps  # each event came when the model sent it


def test_probe_listener_serves_probes_and_metrics_only(model, start_router, pki):
    """router.probe_listen is what the kubelet reaches on the pod IP: health and metrics, never
    the configuration (/status) or a reload."""
    s = settings_for(pki, [model.address])
    s["router"]["probe_listen"] = "127.0.0.1:0"
    r = start_router(s)
    m = re.search(r"probes on 127\.0\.0\.1:(\d+)", r.stderr())
    assert m, r.stderr()
    probes = int(m.group(1))
    assert probes not in (r.port, r.admin_port)

    def get(path, method="GET"):
        return plain_http(probes, path, method)

    assert get("/healthz")[0] == 200
    assert get("/readyz")[0] == 200
    status, body = get("/metrics")
    assert status == 200 and "scoregate_requests_total" in body
    for path, method in (("/status", "GET"), ("/", "GET"), ("/-/reload", "POST")):
        status, body = get(path, method)
        assert status == 404 and "router.admin" in body, (path, status, body)
    assert r.admin("/status")[0] == 200  # all of it still on the admin listener
    status = json.loads(r.admin("/status")[1])
    assert status["reloads"]["ok"] == 0  # the refused POST did not reload


def test_plain_http_mode(model, start_router, pki):
    r = start_router(settings_for(pki, [model.address], insecure=True))
    conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=10)
    conn.request("POST", "/api/v1/service/fraud/score", body=SCORE, headers={"Authorization": f"Bearer {KEY}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b'{"result": [6.0, 15.0]}'
    assert "INSECURE_CONNECTIONS" in r.stderr()


def test_sigterm_lets_in_flight_request_finish(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    result = {}

    def slow():
        result["r"] = curl(r, "/api/v1/endpoint/fraud/sleep?ms=1500", pki=pki)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    r.signal(signal.SIGTERM)
    t.join(10)
    assert r.wait(15) == 0
    status, body, _, _ = result["r"]
    assert status == 200 and json.loads(body)["slept_ms"] == 1500


def test_request_ids_and_forwarded_headers(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    rid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    status, body, hdrs, _ = curl(r, "/api/v1/endpoint/fraud/headers?x=1", pki=pki,
                                 headers=[f"x-request-id: {rid}", "x-ms-client-request-id: abc$%^def" + "z" * 60,
                                          "X-Forwarded-For: 10.1.1.1"])
    assert status == 200
    seen = {k.lower(): v for k, v in json.loads(body)["headers"]}
    assert json.loads(body)["path"] == "/headers?x=1"
    assert seen["x-request-id"] == rid and hdrs["x-request-id"] == rid
    assert seen["x-ms-client-request-id"] == ("abcdef" + "z" * 60)[:40]
    assert hdrs["x-ms-client-request-id"] == seen["x-ms-client-request-id"]
    assert seen["x-forwarded-for"] == "10.1.1.1, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-host"].startswith("localhost")
    # an invalid id is replaced by a fresh UUID
    status, body, hdrs, _ = curl(r, "/api/v1/endpoint/fraud/headers", pki=pki, headers=["x-request-id: not-a-uuid"])
    assert hdrs["x-request-id"] != "not-a-uuid" and len(hdrs["x-request-id"]) == 36


def test_model_answers_pass_through_unchanged(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    status, body, hdrs, _ = curl(r, "/api/v1/endpoint/fraud/status?code=418", pki=pki)
    assert status == 418 and body == b'{"model_status": 418}' and hdrs["x-model"] == "yes"
    status, body, hdrs, _ = curl(r, "/api/v1/endpoint/fraud/status?code=500", pki=pki)
    assert status == 500 and body == b'{"model_status": 500}'


def test_traffic_split_and_header_override(pki, start_router):
    from conftest import ModelServer
    a, b = ModelServer(), ModelServer()
    try:
        ep = {"name": "fraud", "keys": {"primary": KEY},
              "traffic": {"blue": 80, "green": 20},
              "deployments": [{"name": "blue", "targets": [a.address]},
                              {"name": "green", "targets": [b.address]}]}
        r = start_router(settings_for(pki, [], endpoints=[ep]))
        seen = {"blue": 0, "green": 0}
        conn = http.client.HTTPSConnection("localhost", r.port, context=tls_context(pki), timeout=10)
        for _ in range(200):
            conn.request("GET", "/api/v1/endpoint/fraud/health", headers={"Authorization": f"Bearer {KEY}"})
            resp = conn.getresponse()
            resp.read()
            seen[resp.getheader("azureml-model-deployment")] += 1
        assert 120 <= seen["blue"] <= 190 and seen["green"] >= 10, seen
        for _ in range(5):
            conn.request("GET", "/api/v1/endpoint/fraud/health",
                         headers={"Authorization": f"Bearer {KEY}", "azureml-model-deployment": "green"})
            resp = conn.getresponse()
            resp.read()
            assert resp.getheader("azureml-model-deployment") == "green"
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_connection_close_response_then_close_notify(pki, model, start_router, tls):
    """A response the connection closes after leaves with TLS close_notify right behind it
    (README "Benchmarks": one write for both): the client reads the whole response, then a
    clean TLS close, never an EOF without close_notify. Proxied answers and the router's own
    error answers alike."""
    r = start_router(settings_for(pki, [model.address]))
    ctx = tls_context(pki, ssl.TLSVersion.TLSv1_2 if tls == "1.2" else ssl.TLSVersion.TLSv1_3)
    for path, status, body in (("/api/v1/endpoint/fraud/score", 200, b'{"result": [6.0, 15.0]}'),
                               ("/api/v1/endpoint/nope/score", 404, None)):
        raw = socket.create_connection(("127.0.0.1", r.port), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(SCORE)}\r\n"
                  "Connection: close\r\n\r\n".encode() + SCORE)
        got = b""
        while True:
            chunk = s.recv(65536)  # SSLEOFError if the TCP close came without close_notify
            if not chunk:
                break
            got += chunk
        s.close()
        head, _, rest = got.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()), got
        assert b"connection: close" in head.lower()
        if body is not None:
            assert rest == body
