"""HTTP/2 on the client side (README "HTTP/2 and gRPC"): ALPN h2 on the TLS listener, prior-
knowledge h2c on the insecure one, every stream one request through the same phases, with real
clients (curl, nghttp, h2load, the Python h2 library)."""
import json
import re
import socket
import ssl
import subprocess
import time

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import KEY, curl, settings_for, wait_until

SCORE = "/api/v1/endpoint/fraud"


def version_of(router, pki, *args, path=SCORE + "/score", data=b'{"data": [[1, 2]]}'):
    """(status, http_version, body) of one request with real curl."""
    cmd = ["curl", "-sS", "--max-time", "20", "--cacert", str(pki / "ca.pem"), "-o", "-",
           "-w", "\n%{http_code} %{http_version}", "-H", f"Authorization: Bearer {KEY}",
           "--data-binary", "@-", *args, router.url(path)]
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    body, _, tail = p.stdout.rpartition(b"\n")
    status, version = tail.decode().split()
    return int(status), version, body


def test_curl_negotiates_h2_over_verified_tls(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    status, version, body = version_of(r, pki, "--http2")
    assert (status, version) == (200, "2")
    assert json.loads(body) == {"result": [3]}
    # a client that offers only http/1.1 still gets it
    status, version, _ = version_of(r, pki, "--http1.1")
    assert (status, version) == (200, "1.1")
    wait_until(lambda: len(r.access_log()) >= 2)  # stdout is read by a thread
    assert [e["protocol"] for e in r.access_log()[-2:]] == ["h2", "h1"]


def test_router_http2_false_serves_http11_to_h2_clients(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], router={"http2": False}))
    status, version, _ = version_of(r, pki, "--http2")
    assert (status, version) == (200, "1.1")


def test_h2c_prior_knowledge_on_the_insecure_listener(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True))
    cmd = ["curl", "-sS", "--max-time", "20", "--http2-prior-knowledge", "-o", "-", "-w",
           "\n%{http_code} %{http_version}", "-H", f"Authorization: Bearer {KEY}",
           "--data-binary", '{"data": [[1, 2, 3]]}', f"http://127.0.0.1:{r.port}{SCORE}/score"]
    p = subprocess.run(cmd, capture_output=True, timeout=30)
    body, _, tail = p.stdout.rpartition(b"\n")
    assert tail.decode() == "200 2", p.stderr.decode()
    assert json.loads(body) == {"result": [6]}
    # HTTP/1.1 keeps working on the same listener
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                        "-H", f"Authorization: Bearer {KEY}", "--data-binary", '{"data": [[1]]}',
                        f"http://127.0.0.1:{r.port}{SCORE}/score"], capture_output=True, timeout=30)
    assert p.stdout.decode() == "200 1.1"


def test_nghttp_runs_many_concurrent_streams_on_one_connection(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address],
                                  request_settings={"max_concurrent_requests_per_instance": 64}))
    urls = [r.url(f"{SCORE}/work?ms=200&i={i}") for i in range(40)]
    t0 = time.monotonic()
    p = subprocess.run(["nghttp", "-n", "-s", "--no-verify-peer", "-H", f"authorization: Bearer {KEY}",
                        *urls], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stdout + p.stderr
    wait_until(lambda: len([e for e in r.access_log() if "/work" in e["path"]]) == 40)
    log = [e for e in r.access_log() if "/work" in e["path"]]
    assert len(log) == 40 and all(e["status"] == 200 and e["protocol"] == "h2" for e in log)
    # 40 requests of 200 ms each, served concurrently over one connection
    assert elapsed < 4, elapsed
    assert model.get("/stats")["max_concurrent"] >= 10


def test_h2load_smoke_load_has_no_failures(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address],
                                  request_settings={"max_concurrent_requests_per_instance": 64,
                                                    "max_queue_length": 1000}))
    body = r.tmp / "body.json"
    body.write_text('{"data": [[1, 2, 3]]}')
    p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "16", "-d", str(body),
                        "-H", f"authorization: Bearer {KEY}", "-H", "content-type: application/json",
                        r.url(f"{SCORE}/score")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed",
                     p.stdout), p.stdout
    assert re.search(r"status codes: 2000 2xx", p.stdout), p.stdout


def test_large_upload_and_router_errors_over_h2(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    blob = bytes(range(256)) * 4096  # 1 MiB
    status, version, body = version_of(r, pki, "--http2", path=SCORE + "/echo", data=blob)
    assert (status, version) == (200, "2") and body == blob
    status, body, headers, _ = curl(r, SCORE + "/score", "--http2", key="wrong", pki=pki)
    assert status == 401 and json.loads(body)["error"]["code"] == "Unauthorized"
    assert headers.get("www-authenticate") == "Bearer"
    status, body, _, _ = curl(r, "/api/v1/endpoint/nope/score", "--http2", pki=pki)
    assert status == 404 and json.loads(body)["error"]["code"] == "EndpointNotFound"


class H2Client:
    """A real HTTP/2 client on one TLS connection (the h2 library), for stream-level control."""

    def __init__(self, router, pki):
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", router.port), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.responses = {}

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def request(self, path, method="GET", body=None):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "https"), (":authority", "localhost"),
                   (":path", path), ("authorization", f"Bearer {KEY}")]
        self.conn.send_headers(sid, headers, end_stream=body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=True)
        self.flush()
        return sid

    def pump(self, until, timeout=10):
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "timed out waiting for the router"
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                return False
            for ev in self.conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    self.responses.setdefault(ev.stream_id, {})["headers"] = dict(
                        (k.decode(), v.decode()) for k, v in ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    r = self.responses.setdefault(ev.stream_id, {})
                    r["body"] = r.get("body", b"") + ev.data
                elif isinstance(ev, h2.events.StreamEnded):
                    self.responses.setdefault(ev.stream_id, {})["ended"] = True
                elif isinstance(ev, h2.events.StreamReset):
                    self.responses.setdefault(ev.stream_id, {})["reset"] = ev.error_code
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.responses["goaway"] = (ev.error_code, ev.last_stream_id)
            self.flush()
        return True


def test_stream_reset_cancels_the_model_request_and_logs_499(pki, start_router):
    from test_shedding import SlowModel
    slow = SlowModel()
    r = start_router(settings_for(pki, [slow.address],
                                  request_settings={"max_concurrent_requests_per_instance": 1,
                                                    "max_queue_wait_ms": 10000,
                                                    "request_timeout_ms": 20000}))
    c = H2Client(r, pki)
    a = c.request(SCORE + "/a?ms=5000")
    wait_until(lambda: slow.seen("received", "/a"), timeout=5)
    b = c.request(SCORE + "/b?ms=50")
    time.sleep(0.1)
    t0 = time.monotonic()
    c.conn.reset_stream(a)
    c.flush()
    assert c.pump(lambda: c.responses.get(b, {}).get("ended"))
    assert time.monotonic() - t0 < 1.5  # B got A's slot at once, not after 5 s
    assert c.responses[b]["headers"][":status"] == "200"
    wait_until(lambda: slow.seen("closed", "/a"), timeout=3)
    wait_until(lambda: any(e["status"] == 499 for e in r.access_log()), timeout=3)
    entry = next(e for e in r.access_log() if e["status"] == 499)
    assert entry["error"] == "ClientClosedRequest" and entry["protocol"] == "h2"


def test_metrics_and_status_count_requests_by_protocol(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    for _ in range(3):
        assert version_of(r, pki, "--http2")[:2] == (200, "2")
    assert version_of(r, pki, "--http1.1")[:2] == (200, "1.1")
    status, text = r.admin("/metrics")
    assert 'scoregate_protocol_requests_total{protocol="h2"} 3' in text, text
    assert 'scoregate_protocol_requests_total{protocol="h1"} 1' in text
    status, body = r.admin("/status")
    flight = json.loads(body)["requests_in_flight"]
    assert flight == {"h1": 0, "h2": 0, "grpc": 0}
