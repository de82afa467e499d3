"""scoregate_upstream_retries_total{reason} (README "Retries", "Admin listener"): each way the
router sends a request to a model again is counted under its reason, and only those. Each model
here forces one reason deterministically and logs every request it read, so the tests also
check that no request reached a model twice."""
import http.client
import re
import socket
import subprocess
import threading
import time
from collections import Counter

from conftest import KEY, closed_port, settings_for, start_peer
from test_upstream_faults import H2_REFUSING_MODEL, request, router_for

# A raw HTTP/1.1 model. MODE reset-second: answers the first request of each connection
# (keep-alive), then closes the connection with the next request unread (the kernel sends RST).
# MODE idle-close: answers, then closes a connection idle for 100 ms. Logs "got <x-request-id>".
RAW_MODEL = r'''
import os, select, socket, sys, threading
MODE, LOG = sys.argv[1], os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

def read_request(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None, b""
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    fields = dict(l.split(b":", 1) for l in head.split(b"\r\n")[1:] if b":" in l)
    fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
    need = int(fields.get(b"content-length", b"0"))
    while len(rest) < need:
        d = s.recv(65536)
        if not d:
            return None, b""
        rest += d
    os.write(LOG, b"got " + fields.get(b"x-request-id", b"-") + b"\n")
    return head, rest[need:]

def serve(s):
    buf, first = b"", True
    while True:
        if MODE == "reset-second" and not first:
            select.select([s], [], [])
            s.close()  # the next request unread in the socket: RST
            return
        if MODE == "idle-close" and not first and not buf:
            if not select.select([s], [], [], 0.1)[0]:
                s.close()
                return
        head, buf = read_request(s, buf)
        if head is None:
            s.close()
            return
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        first = False

l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0))
l.listen(64)
print("LISTENING", l.getsockname()[1], flush=True)
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''


def retries(router):
    status, text = router.admin("/metrics")
    assert status == 200, text
    found = dict(re.findall(r'^scoregate_upstream_retries_total\{reason="(\w+)"\} (\d+)$', text, re.M))
    assert set(found) == {"connect_failed", "pooled_closed", "reset_unread", "refused_stream"}, text
    return {k: int(v) for k, v in found.items()}


def raw_model(tmp_path, mode):
    script, log = tmp_path / "raw_model.py", tmp_path / f"{mode}.log"
    script.write_text(RAW_MODEL)
    proc = subprocess.Popen(["/usr/bin/python3", str(script), mode, str(log)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().split()[1])
    return proc, port, log


def got(log):
    return Counter(l.split()[1] for l in log.read_text().splitlines() if l.startswith("got "))


def test_connect_failures_are_counted(start_router, pki, model):
    dead = f"127.0.0.1:{closed_port()}"
    router = router_for(start_router, pki, [dead, model.address], workers=1)
    before = retries(router)
    assert before == dict.fromkeys(before, 0)
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    results = [request(conn, method="POST", body=b'{"data": [[1, 2]]}')[0] for _ in range(10)]
    assert results == [200] * 10
    after = retries(router)
    status, text = router.admin("/metrics")
    failures = int(re.search(r"^scoregate_upstream_connect_failures_total (\d+)", text, re.M).group(1))
    assert failures >= 1, "the dead target was never tried: the test proves nothing"
    # every failed connect was followed by a retry on the live target, and nothing else retried
    assert after == {**before, "connect_failed": failures}, after


def test_a_get_reset_unread_is_counted_once_per_resend(start_router, pki, tmp_path):
    proc, port, log = raw_model(tmp_path, "reset-second")
    try:
        router = router_for(start_router, pki, [f"127.0.0.1:{port}"], workers=1)
        conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        results = [request(conn) for _ in range(5)]
    finally:
        proc.kill()
        proc.wait()
    assert [r[0] for r in results] == [200] * 5, results
    assert max(got(log).values()) == 1, "the model read a request twice"
    # requests 2..5 each met the pooled connection the previous one left, which the model reset
    # with the request unread: each was sent once more on a fresh connection
    assert retries(router)["reset_unread"] == 4, retries(router)
    assert retries(router)["pooled_closed"] == 0


BIG = b"{}" + b" " * (70 * 1024)


def test_a_pooled_connection_closed_while_the_body_came_is_counted(start_router, pki, tmp_path):
    proc, port, log = raw_model(tmp_path, "idle-close")
    try:
        router = router_for(start_router, pki, [f"127.0.0.1:{port}"], workers=1)
        conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        assert request(conn)[0] == 200  # leaves one pooled connection
        statuses = []
        for i in range(3):
            # the head at once (the router takes the pooled connection, still open), the body
            # 300 ms later: meanwhile the model closes the idle connection; the router finds it
            # closed before writing a byte and uses a fresh connection. The body is over 64 KiB:
            # a smaller one is read whole before the connection is taken (README "Overload and
            # attacks"), and the race is not run.
            s = socket.create_connection(("127.0.0.1", router.port), timeout=10)
            s.sendall((f"POST /api/v1/endpoint/fraud/score HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: Bearer {KEY}\r\nx-request-id: slow-{i}\r\n"
                       f"Content-Length: {len(BIG)}\r\n\r\n").encode())
            time.sleep(0.3)
            s.sendall(BIG)
            statuses.append(s.recv(64).split(b" ")[1])
            s.close()
    finally:
        proc.kill()
        proc.wait()
    assert statuses == [b"200"] * 3, statuses
    assert max(got(log).values()) == 1
    counted = retries(router)
    assert counted["pooled_closed"] >= 1, counted  # the first surely; the others reuse an answer's connection
    assert counted["pooled_closed"] <= 3 and counted["reset_unread"] == 0, counted


def test_refused_h2_streams_are_counted(start_router, pki, tmp_path):
    script, log = tmp_path / "h2_refusing_model.py", tmp_path / "h2.log"
    script.write_text(H2_REFUSING_MODEL)
    proc = subprocess.Popen(["/usr/bin/python3", str(script), str(log)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        s = settings_for(pki, [f"127.0.0.1:{port}"], insecure=True,
                         request_settings={"max_concurrent_requests_per_instance": 8})
        s["endpoints"][0]["deployments"][0]["protocol"] = "h2c"
        router = start_router(s, workers=1)
        conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        gets = [request(conn) for _ in range(6)]
        c = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        posts = [request(c, method="POST", body=b"x" * 10) for _ in range(1)]
    finally:
        proc.kill()
        proc.wait()
    assert [g[0] for g in gets] == [200] * 6, gets
    refused = [l.split()[1] for l in log.read_text().splitlines() if l.startswith("refused")]
    get_ids = {g[2] for g in gets}
    # each refused GET was opened once more; a refused POST is not retried
    assert retries(router)["refused_stream"] == sum(r in get_ids for r in refused) >= 1, refused
    assert len(posts) == 1
