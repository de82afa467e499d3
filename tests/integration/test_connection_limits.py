"""Connection limits that hold, slow and idle clients (README "Workers and limits", "Limits"):
max_connections derived from the open-files limit, descriptor exhaustion under a low
RLIMIT_NOFILE (refuse, keep serving, low CPU, one log line a second, recover), the TLS handshake
deadline, the minimum request body rate (HTTP/1.1 and HTTP/2), and idle keep-alive connections
closed first near max_connections. Each test runs the real binary on free ports."""
import http.client
import json
import os
import re
import select
import socket
import ssl
import threading
import time

import h2.config
import pytest
import h2.connection
import h2.events

from conftest import KEY, cpu_seconds, plain_http, settings_for, wait_until

SCORE = "/api/v1/endpoint/fraud/score"
BODY = b'{"data": [[1, 2]]}'
OK = (200, {"result": [3]})
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def score(conn):
    conn.request("POST", SCORE, body=BODY, headers=AUTH)
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, json.loads(body)


def status_of(r):
    code, text = r.admin("/status")
    assert code == 200, text
    return json.loads(text)


def metric(r, name):
    code, text = r.admin("/metrics")
    assert code == 200, text
    m = re.search(r"^" + re.escape(name) + r" (\d+)", text, re.M)
    assert m, f"{name} not in /metrics:\n{text}"
    return int(m.group(1))


def closed_by_peer(s, wait=0.0):
    """True when the router closed (or reset) the socket."""
    if not select.select([s], [], [], wait)[0]:
        return False
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


# --- max_connections from RLIMIT_NOFILE -------------------------------------------------------

def test_max_connections_unset_is_derived_from_the_open_files_limit(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True), workers=1,
                     prefix=("prlimit", "--nofile=1024:1024"))
    log = r.wait_stderr("max_connections: 480")
    assert "router.max_connections unset: (open files 1024 - 64) / 2" in log
    limits = status_of(r)["connection_limits"]
    assert limits["max_connections"] == 480
    assert limits["max_connections_source"] == "open files limit"
    assert metric(r, "scoregate_connections_max") == 480


def test_explicit_max_connections_is_kept(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True,
                                  router={"max_connections": 7}), workers=1)
    r.wait_stderr("max_connections: 7 (router.max_connections)")
    limits = status_of(r)["connection_limits"]
    assert (limits["max_connections"], limits["max_connections_source"]) == (7, "router.max_connections")


# --- descriptor exhaustion -------------------------------------------------------------------

def answers_404(port):
    """A new connection is served (while descriptors are still being freed, one may be closed
    at once: that is a no, not an error)."""
    try:
        return plain_http(port, "/nope")[0] == 404
    except OSError:
        return False


# UBSan's vptr check tests that a vtable is readable by writing it into a pipe
# (IsAccessibleMemoryRange); with no descriptor left the pipe fails, every virtual call it has
# not cached yet is reported as "invalid vptr" ("<memory cannot be printed>", seen in gdb on
# healthy objects: asio's misc_category, an Http1Connection at its destructor) and the
# -fno-sanitize-recover build aborts. Its suppressions file is read only at the first report,
# for which there is no descriptor either. The release binary runs this test (and the load
# stage's descriptor flood); the sanitizer run cannot.
@pytest.mark.skipif(bool(os.environ.get("SCOREGATE_SANITIZED")),
                    reason="UBSan's vptr check needs a free descriptor (a pipe) and aborts a "
                           "healthy process when there is none")
def test_descriptor_exhaustion_refuses_keeps_serving_and_recovers(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True,
                                  router={"max_connections": 100000, "header_timeout_ms": 30000,
                                          "keepalive_timeout_ms": 30000}),
                     workers=1, prefix=("prlimit", "--nofile=128:128"))
    keep = [http.client.HTTPConnection("127.0.0.1", r.port, timeout=5) for _ in range(4)]
    for c in keep:
        assert score(c) == OK
    flood, refused = [], []
    try:
        for _ in range(30):  # 128 descriptors: the router runs out long before 300 connections
            flood += [socket.create_connection(("127.0.0.1", r.port), timeout=2) for _ in range(10)]
            time.sleep(0.15)
            refused = [s for s in flood if closed_by_peer(s)]
            if refused:
                break
        assert refused, "no connection was refused under a 128-descriptor limit"
        assert len(flood) - len(refused) > 50  # the ones accepted before the table was full

        # While full: no new connection is served (each is closed at once with the spare
        # descriptor, or waits in the backlog while another thread holds it), an admin request
        # waits in its backlog, and the router neither spins nor floods its log.
        probe = {}
        threading.Thread(target=lambda: probe.update(r=plain_http(r.admin_port, "/healthz")),
                         daemon=True).start()
        lines_before = r.stderr().count("accept failed")
        cpu0, t0 = cpu_seconds(r.proc.pid), time.monotonic()
        attempts, served = 0, 0
        while time.monotonic() - t0 < 2.0:
            s = socket.create_connection(("127.0.0.1", r.port), timeout=2)
            attempts += 1
            try:
                s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
                if select.select([s], [], [], 0.1)[0] and s.recv(12).startswith(b"HTTP/1.1"):
                    served += 1
            except (ConnectionResetError, BrokenPipeError):
                pass
            s.close()
        cpu = (cpu_seconds(r.proc.pid) - cpu0) / (time.monotonic() - t0)
        assert attempts > 10 and served == 0, (attempts, served)
        assert cpu < 0.2, f"{cpu:.0%} of a core while refusing"
        lines = r.stderr().count("accept failed") - lines_before
        assert lines <= 4, r.stderr()[-3000:]  # at most one a second (plus the edges)
        for c in keep:  # the connections it has are served as before
            assert score(c) == OK
    finally:
        for s in flood:
            s.close()
    # descriptors free: new connections are served again, the waiting probe too
    assert wait_until(lambda: answers_404(r.port), timeout=5)
    assert wait_until(lambda: probe.get("r") == (200, "ok\n") or probe.get("r", (0,))[0] == 200,
                      timeout=5), probe
    conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
    assert score(conn) == OK
    assert metric(r, "scoregate_accept_errors_total") > 0
    code, text = r.admin("/metrics")
    m = re.search(r'scoregate_connections_refused_total\{reason="no_descriptors"\} (\d+)', text)
    assert m and int(m.group(1)) >= 1, text
    assert "refused for want of descriptors" in r.stderr()


# --- the TLS handshake deadline --------------------------------------------------------------

def client_hello_bytes():
    """The first bytes a real TLS client sends (its ClientHello), made with a memory BIO."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def seconds_until_closed(port, send=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    t0 = time.monotonic()
    if send:
        s.sendall(send)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    s.close()
    return time.monotonic() - t0


def test_handshake_timeout_closes_silent_and_half_hello_clients(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address],
                                  router={"handshake_timeout_ms": 500, "header_timeout_ms": 6000}),
                     workers=1)
    assert 0.4 < seconds_until_closed(r.port) < 2.5
    hello = client_hello_bytes()
    assert len(hello) > 100
    assert 0.4 < seconds_until_closed(r.port, hello[: len(hello) // 2]) < 2.5
    # after the handshake the header deadline applies, not the handshake's
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", r.port)),
                         server_hostname="localhost") as s:
        s.settimeout(1.5)
        try:
            s.recv(1)
            raise AssertionError("closed within the handshake timeout after the handshake")
        except TimeoutError:
            pass


# --- the minimum request body rate -----------------------------------------------------------

SLOW = {"min_body_rate_bytes_per_s": 1024, "min_body_rate_grace_ms": 1000,
        "body_idle_timeout_ms": 5000}


def test_slow_drip_body_is_cut_after_the_grace_http1(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True, router=SLOW), workers=1)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    s.sendall((f"POST {SCORE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
               "Content-Length: 1000000\r\n\r\n").encode())
    t0 = time.monotonic()
    sent, cut = 0, None
    while time.monotonic() - t0 < 8:  # 100 B/s: every byte 10 ms after the last (< 5 s idle)
        try:
            s.send(b"7")
            sent += 1
        except (BrokenPipeError, ConnectionResetError):
            cut = time.monotonic() - t0
            break
        if closed_by_peer(s, wait=0.01):
            cut = time.monotonic() - t0
            break
    s.close()
    assert cut is not None, "the slow body was never cut"
    assert 0.9 < cut < 3.0, cut
    assert sent < 400
    assert wait_until(lambda: any(e.get("error") == "ClientBodyTimeout" for e in r.access_log()))
    entry = next(e for e in r.access_log() if e.get("error") == "ClientBodyTimeout")
    assert entry["status"] == 499 and entry["protocol"] == "h1", entry


def test_slow_drip_body_is_cut_after_the_grace_http2(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True, router=SLOW), workers=1)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":path", SCORE), (":scheme", "http"),
                            (":authority", "localhost"), ("authorization", f"Bearer {KEY}"),
                            ("content-length", "1000000")])
    s.sendall(conn.data_to_send())
    t0, cut, how = time.monotonic(), None, None
    while cut is None and time.monotonic() - t0 < 8:
        conn.send_data(sid, b"7")
        s.sendall(conn.data_to_send())
        if select.select([s], [], [], 0.01)[0]:
            data = s.recv(65536)
            if not data:
                cut, how = time.monotonic() - t0, "closed"
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, (h2.events.StreamReset, h2.events.StreamEnded,
                                   h2.events.ConnectionTerminated)):
                    cut, how = time.monotonic() - t0, type(ev).__name__
            s.sendall(conn.data_to_send())
    assert cut is not None, "the slow stream was never ended"
    assert 0.9 < cut < 3.0, cut
    assert how == "StreamReset", how  # the stream, not the connection
    # the same connection still serves other streams
    sid2 = conn.get_next_available_stream_id()
    conn.send_headers(sid2, [(":method", "POST"), (":path", SCORE), (":scheme", "http"),
                             (":authority", "localhost"), ("authorization", f"Bearer {KEY}"),
                             ("content-type", "application/json")])
    conn.send_data(sid2, BODY, end_stream=True)
    s.sendall(conn.data_to_send())
    status, deadline = None, time.monotonic() + 5
    while status is None and time.monotonic() < deadline:
        for ev in conn.receive_data(s.recv(65536)):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid2:
                status = dict(ev.headers)[b":status"]
        s.sendall(conn.data_to_send())
    s.close()
    assert status == b"200"
    assert wait_until(lambda: any(e.get("error") == "ClientBodyTimeout" for e in r.access_log()))
    entry = next(e for e in r.access_log() if e.get("error") == "ClientBodyTimeout")
    assert entry["status"] == 499 and entry["protocol"] == "h2", entry


def test_a_body_at_the_minimum_rate_is_not_cut(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True, router=SLOW), workers=1)
    body = b'{"data": [[1, 2]]}' + b" " * 4000  # 4 KB at ~2.5 KB/s: longer than the grace
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    s.sendall((f"POST {SCORE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode())
    for i in range(0, len(body), 50):
        s.sendall(body[i:i + 50])
        time.sleep(0.02)
    s.settimeout(5)
    head = s.recv(4096)
    s.close()
    assert head.startswith(b"HTTP/1.1 200"), head


# --- idle connections closed first near max_connections --------------------------------------

def test_idle_keepalive_connections_make_room_for_new_clients(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True,
                                  router={"max_connections": 10}), workers=1)
    idle = []
    for _ in range(10):
        c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
        assert score(c) == OK
        idle.append(c)
    newcomer = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
    assert score(newcomer) == OK
    closed = [c for c in idle if closed_by_peer(c.sock, wait=0.2)]
    assert 1 <= len(closed) <= 3, len(closed)
    assert metric(r, "scoregate_idle_connections_closed_total") >= 1
    assert status_of(r)["connections_open"] <= 10


def test_busy_connections_are_not_closed_and_the_newcomer_is_refused(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True,
                                  router={"max_connections": 5, "header_timeout_ms": 20000}),
                     workers=1)
    busy = []
    for _ in range(5):  # each in the middle of a request head: not idle
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        s.sendall(f"POST {SCORE} HTTP/1.1\r\nHost: x\r\n".encode())
        busy.append(s)
    assert wait_until(lambda: status_of(r)["connections_open"] == 5)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    assert closed_by_peer(s, wait=2.0)
    s.close()
    assert not any(closed_by_peer(b) for b in busy)
    limits = status_of(r)["connection_limits"]
    assert limits["refused_max_connections"] >= 1 and limits["idle_closed"] == 0, (limits, r.stderr())
    for b in busy:
        b.close()


def test_idle_http2_sessions_get_goaway_to_make_room(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], insecure=True,
                                  router={"max_connections": 6}), workers=1)
    sessions = []
    for _ in range(6):
        s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        s.sendall(conn.data_to_send())
        sessions.append((s, conn))
    assert wait_until(lambda: status_of(r)["connections_open"] == 6)
    newcomer = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
    assert score(newcomer) == OK
    goaway = 0
    for s, conn in sessions:
        while select.select([s], [], [], 0.2)[0]:
            data = s.recv(65536)
            if not data:
                break
            goaway += any(isinstance(e, h2.events.ConnectionTerminated) for e in conn.receive_data(data))
        s.close()
    assert goaway >= 1
