"""Upstream faults (README "Upstream faults" and "Retries"): a model killed mid-request, a model
that never answers, one that answers garbage, one that closes keep-alive connections behind the
router's back, and an HTTP/2 model that refuses streams. Each runs the real binary against a real
misbehaving model (faulty_model.py, or the HTTP/2 one below) and checks what the client sees,
what the model saw, and what the router did with the target and the connection."""
import http.client
import json
import random
import select
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from conftest import KEY, settings_for, start_peer, wait_until

PATH = "/api/v1/endpoint/fraud/"


def router_for(start_router, pki, targets, workers=2, probe=None, **request_settings):
    rs = {"max_concurrent_requests_per_instance": 8, "request_timeout_ms": 3000,
          "max_queue_wait_ms": 2000}
    rs.update(request_settings)
    s = settings_for(pki, targets, insecure=True, request_settings=rs)
    if probe:
        s["endpoints"][0]["deployments"][0]["readiness_probe"] = probe
    return start_router(s, workers=workers)


def request(conn, path="score", method="GET", body=None):
    """(status, error code or "", request id) of one request on an http.client connection."""
    rid = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {KEY}", "x-request-id": rid}
    conn.request(method, PATH + path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    code = ""
    if r.status >= 400:
        code = json.loads(data)["error"]["code"]
    return r.status, code, rid


def events(log: Path):
    """The model's log as lists of fields (faulty_model.py's format)."""
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines() if line]


def got(log):
    return [e[2] for e in events(log) if e[0] == "got" and e[2] != "-"]


def done(log):
    return [e[2] for e in events(log) if e[0] == "done" and e[2] != "-"]


def conn_of(log, rid):
    return next(int(e[1]) for e in events(log) if e[0] == "got" and e[2] == rid)


def load(router, results, stop, clients, path="score", method="GET", body=None, per_client=None,
         pause=0.0):
    """`clients` threads, each on its own keep-alive connection, until stop is set (or
    per_client requests each), up to `pause` s (random) between requests; results gets (time,
    status, code, request id)."""
    def client():
        conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        n = 0
        while not stop.is_set() and (per_client is None or n < per_client):
            n += 1
            if pause:
                time.sleep(random.uniform(0, pause))
            try:
                status, code, rid = request(conn, path, method, body)
            except (OSError, http.client.HTTPException) as e:
                results.append((time.monotonic(), 0, repr(e), ""))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
                continue
            results.append((time.monotonic(), status, code, rid))
        conn.close()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    return threads


def target_state(router, address):
    status, body = router.admin("/status")
    assert status == 200
    for ep in json.loads(body)["endpoints"]:
        for d in ep["deployments"]:
            for t in d["targets"]:
                if t["address"] == address:
                    return t
    raise AssertionError(f"{address} not in /status")


def test_sigkill_mid_request_fails_only_in_flight_and_readiness_readmits(start_router, pki, tmp_path):
    """kill -9 of one of two instances under load: only the requests it held get 502
    UpstreamReset, the rest go to the other instance, the dead one is ejected by its refused
    connects, and when it comes back on its port a passing readiness probe re-admits it at once
    (the ejection would otherwise last seconds)."""
    log_a, log_a2, log_b = tmp_path / "a.log", tmp_path / "a2.log", tmp_path / "b.log"
    a = start_peer("faulty_model.py", "ok", 0, log_a, 40)
    b = start_peer("faulty_model.py", "ok", 0, log_b, 40)
    a2 = None
    # failure_threshold 30 × 100 ms: within this test only passive ejection keeps traffic away
    probe = {"path": "/", "period_ms": 100, "timeout_ms": 200, "initial_delay_ms": 0,
             "failure_threshold": 30}
    router = router_for(start_router, pki, [a.address, b.address], probe=probe)
    try:
        assert wait_until(lambda: target_state(router, a.address)["ready"]
                          and target_state(router, b.address)["ready"])
        results, stop = [], threading.Event()
        threads = load(router, results, stop, clients=4)
        time.sleep(0.8)
        assert got(log_a), "instance a got no traffic before the kill"
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        killed_at = time.monotonic()
        in_flight = set(got(log_a)) - set(done(log_a))
        assert wait_until(lambda: target_state(router, a.address)["ejected"], timeout=2), \
            "the dead instance was not ejected"
        time.sleep(0.3)  # the ejection (1 s, doubling) has most of its time left
        a2 = start_peer("faulty_model.py", "ok", a.port, log_a2, 40)
        restarted_at = time.monotonic()
        assert wait_until(lambda: got(log_a2), timeout=2), "the restarted instance got no traffic"
        readmitted_after = time.monotonic() - restarted_at
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(15)
    finally:
        a.stop()
        b.stop()
        if a2:
            a2.stop()
    failed = [r for r in results if r[1] != 200]
    assert all(r[1] == 502 and r[2] == "UpstreamReset" for r in failed), failed
    # Only requests instance a held when it died failed (read by it, or written to it).
    answered = set(done(log_a)) | set(done(log_b)) | set(done(log_a2))
    assert not {r[3] for r in failed} & answered
    assert in_flight <= {r[3] for r in failed}, "a request a held when it died did not get 502"
    assert len(failed) <= 8, "more failures than instance a had slots"
    served_while_down = [r for r in results if r[1] == 200 and killed_at < r[0] < restarted_at]
    assert len(served_while_down) >= 10, "the other instance did not carry the load"
    assert readmitted_after < 0.5, f"re-admitted only {readmitted_after:.2f} s after it came back"
    assert not target_state(router, a.address)["ejected"]
    assert "passed its readiness probe; its ejection ended" in router.stderr()


def test_model_that_never_answers_gets_504_and_frees_the_slot(start_router, pki, tmp_path):
    """A model that reads requests and never answers: 504 UpstreamTimeout at request_timeout_ms;
    its connection is closed (never pooled), and the one slot goes at once to the request
    queued behind, which the model sees on a new connection."""
    log = tmp_path / "silent.log"
    m = start_peer("faulty_model.py", "silent", 0, log)
    router = router_for(start_router, pki, [m.address], workers=1,
                        max_concurrent_requests_per_instance=1, request_timeout_ms=500)
    results = []
    try:
        t0 = time.monotonic()
        threads = load(router, results, threading.Event(), clients=1, per_client=1)
        assert wait_until(lambda: len(got(log)) == 1)
        threads += load(router, results, threading.Event(), clients=1, per_client=1)
        for t in threads:
            t.join(10)
        assert wait_until(lambda: sum(e[0] == "eof" for e in events(log)) == 2)
    finally:
        m.stop()
    results.sort()
    assert [(r[1], r[2]) for r in results] == [(504, "UpstreamTimeout")] * 2, results
    first, second = results
    assert 0.45 <= first[0] - t0 < 1.5, "the first 504 did not come at request_timeout_ms"
    # the second waited for the slot, not for a second timeout on top of a wasted one
    assert 0.4 <= second[0] - first[0] < 1.0
    c1, c2 = conn_of(log, first[3]), conn_of(log, second[3])
    assert c1 != c2, "a timed-out connection was reused"
    assert ["eof", str(c1)] in events(log), "the timed-out connection was not closed"


def test_garbage_answer_is_502_and_the_connection_is_not_reused(start_router, pki, tmp_path):
    """Bytes that are not HTTP: 502 UpstreamMalformedResponse, and the next request goes on a
    new connection (the model keeps the garbage one open, so reusing it would show)."""
    log = tmp_path / "garbage.log"
    m = start_peer("faulty_model.py", "garbage", 0, log)
    router = router_for(start_router, pki, [m.address], workers=1)
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    try:
        s1, _, r1 = request(conn, "ok")
        s2, code2, r2 = request(conn, "garbage")
        s3, _, r3 = request(conn, "ok")
        assert wait_until(lambda: ["eof", "1"] in events(log))
    finally:
        conn.close()
        m.stop()
    assert (s1, s2, code2, s3) == (200, 502, "UpstreamMalformedResponse", 200)
    assert conn_of(log, r1) == conn_of(log, r2) == 1, "the pool was not used: the test proves nothing"
    assert conn_of(log, r3) == 2, "the connection that answered garbage was reused"
    line = next(l for l in router.access_log() if l["request_id"] == r2)
    assert (line["status"], line["error"]) == (502, "UpstreamMalformedResponse")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_model_closing_after_each_answer(start_router, pki, tmp_path, method):
    """The model says keep-alive and closes every connection right after answering, so the
    router races it for every pooled connection. Sequential and concurrent load. GET: no client
    sees a failure (a pooled connection found closed before the request was written is replaced,
    and a GET the model reset unread is sent again on a fresh connection). POST (with a body):
    never sent twice; one written into a connection as the model closed it fails with 502
    UpstreamReset, and the model never read it. Either way no request reaches the model twice."""
    log = tmp_path / "close-after.log"
    m = start_peer("faulty_model.py", "close-after", 0, log)
    router = router_for(start_router, pki, [m.address])
    body = b'{"data": [[1, 2]]}' if method == "POST" else None
    results = []
    try:
        for t in load(router, results, threading.Event(), 1, method=method, body=body, per_client=60):
            t.join(30)
        for t in load(router, results, threading.Event(), 4, method=method, body=body, per_client=40):
            t.join(30)
    finally:
        m.stop()
    assert len(results) == 220
    received = Counter(got(log))
    assert max(received.values()) == 1, "the model got a request twice"
    failed = [r for r in results if r[1] != 200]
    ok = {r[3] for r in results if r[1] == 200}
    assert ok == set(received)
    # every connection carried exactly one answered request
    assert sum(e[0] == "conn" for e in events(log)) == len(ok)
    print(f"close-after {method}: {len(failed)} of {len(results)} failed")
    if method == "GET":
        assert [(r[1], r[2]) for r in failed] == []
    else:
        assert all((r[1], r[2]) == (502, "UpstreamReset") for r in failed), failed
        assert not {r[3] for r in failed} & set(received)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_model_closing_idle_connections_at_random(start_router, pki, tmp_path, method):
    """The model closes idle keep-alive connections after a random 0.2-3 ms, and clients pause
    0-4 ms between requests, so requests meet connections the model is closing. GET: no
    failure. POST: a request written into a connection as the model closed it fails (502
    UpstreamReset: it was written, so it is not retried), and it is one the model never read.
    The model never reads a request twice."""
    log = tmp_path / "close-idle.log"
    m = start_peer("faulty_model.py", "close-idle", 0, log)
    router = router_for(start_router, pki, [m.address])
    body = b'{"data": [[1, 2]]}' if method == "POST" else None
    results = []
    try:
        for t in load(router, results, threading.Event(), 4, method=method, body=body,
                      per_client=60, pause=0.004):
            t.join(30)
    finally:
        m.stop()
    received = Counter(got(log))
    assert max(received.values()) == 1, "the model got a request twice"
    failed = [r for r in results if r[1] != 200]
    assert {r[3] for r in results if r[1] == 200} == set(received)
    if method == "GET":
        assert [(r[1], r[2]) for r in failed] == []
    else:
        assert all((r[1], r[2]) == (502, "UpstreamReset") for r in failed), failed
        assert not {r[3] for r in failed} & set(received), "a request the model read failed"
    # the pool was used (connections were reused), so the race was really run
    status, metrics = router.admin("/metrics")
    reused = [l for l in metrics.splitlines() if l.startswith("scoregate_upstream_reused_total")]
    assert float(reused[0].split()[-1]) > 0
    print(f"close-idle {method}: {len(failed)} of {len(results)} failed, "
          f"{sum(e[0] == 'conn' for e in events(log))} connections")


H2_REFUSING_MODEL = r'''
import os, socket, sys, threading
import h2.config, h2.connection, h2.errors, h2.events
LOG = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
count = [0]
lock = threading.Lock()

def serve(sock):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                rid = dict((k.decode(), v.decode()) for k, v in ev.headers).get("x-request-id", "-")
                with lock:
                    count[0] += 1
                    refuse = count[0] % 2 == 1
                if refuse:  # every other stream, before reading anything of it
                    os.write(LOG, f"refused {rid}\n".encode())
                    conn.reset_stream(ev.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                else:
                    os.write(LOG, f"got 0 {rid}\n".encode())
                    conn.send_headers(ev.stream_id, [(":status", "200"), ("content-length", "2")])
                    conn.send_data(ev.stream_id, b"ok", end_stream=True)
        sock.sendall(conn.data_to_send())

l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0))
l.listen(64)
print("LISTENING", l.getsockname()[1], flush=True)
while True:
    s, _ = l.accept()
    threading.Thread(target=serve, args=(s,), daemon=True).start()
'''


def test_h2_refused_stream_is_retried_only_without_a_body(start_router, pki, tmp_path):
    """An HTTP/2 model refuses every other stream with RST_STREAM(REFUSED_STREAM): a GET is
    opened again and answered (the model processed it once); a POST, whose body was already
    taken from the client, is not retried: 502 UpstreamReset."""
    script, log = tmp_path / "h2_refusing_model.py", tmp_path / "h2.log"
    script.write_text(H2_REFUSING_MODEL)
    proc = subprocess.Popen(["/usr/bin/python3", str(script), str(log)], stdout=subprocess.PIPE, text=True)
    try:
        assert select.select([proc.stdout], [], [], 10)[0]
        port = int(proc.stdout.readline().split()[1])
        s = settings_for(pki, [f"127.0.0.1:{port}"], insecure=True,
                         request_settings={"max_concurrent_requests_per_instance": 8})
        s["endpoints"][0]["deployments"][0]["protocol"] = "h2c"
        router = start_router(s, workers=1)
        conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        gets = [request(conn) for _ in range(6)]
        posts = []
        for _ in range(6):  # each on its own connection: a refused upload may close it
            c = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
            posts.append(request(c, method="POST", body=b"x" * 10))
            c.close()
    finally:
        proc.kill()
        proc.wait()
    assert [g[0] for g in gets] == [200] * 6, gets
    lines = [l.split() for l in log.read_text().splitlines()]
    answered = Counter(l[2] for l in lines if l[0] == "got")
    refused = {l[1] for l in lines if l[0] == "refused"}
    assert all(answered[g[2]] == 1 for g in gets), "a GET was not processed exactly once"
    assert refused & {g[2] for g in gets}, "no GET was refused: the retry was not exercised"
    post_refused = [p for p in posts if p[2] in refused]
    assert post_refused and all((p[0], p[1]) == (502, "UpstreamReset") for p in post_refused), posts
    assert all(p[0] == 200 for p in posts if p[2] not in refused)
