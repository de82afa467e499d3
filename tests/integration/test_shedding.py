"""Overload: honest shedding (Retry-After and the limit that refused) and cancelling what no
client waits for any more (README "Requests")."""
import http.client
import json
import select
import socket
import ssl
import threading
import time
from urllib.parse import parse_qs, urlparse

from conftest import KEY, ModelServer, wait_until

SCORE = "/api/v1/endpoint/fraud"


class SlowModel:
    """A real HTTP/1.1 model on a socket that answers each request after ?ms= (default 5000 ms)
    and records, per path, whether it answered or saw the router close the connection first."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.events = []  # (time.monotonic(), "received" | "answered" | "closed", path)
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def record(self, what, path):
        with self.lock:
            self.events.append((time.monotonic(), what, path))

    def seen(self, what, path):
        with self.lock:
            return [t for t, w, p in self.events if w == what and p == path]

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        with c:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                target = lines[0].split(" ")[1]
                length = next((int(l.split(":", 1)[1]) for l in lines[1:]
                               if l.lower().startswith("content-length:")), 0)
                while len(buf) < length:
                    buf += c.recv(65536)
                buf = buf[length:]
                path = urlparse(target).path
                self.record("received", path)
                ms = int(parse_qs(urlparse(target).query).get("ms", ["5000"])[0])
                if not self._sleep_unless_closed(c, ms / 1000):
                    self.record("closed", path)
                    return
                body = json.dumps({"path": path}).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                self.record("answered", path)

    @staticmethod
    def _sleep_unless_closed(c, seconds):
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([c], [], [], left)
            if readable:
                try:
                    if c.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
                time.sleep(0.01)  # bytes we did not ask for: not a close
        return True

    def stop(self):
        self.sock.close()


def tls_socket(r, pki):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    raw = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def raw_request(path):
    return (f"GET {SCORE}{path} HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {KEY}\r\n\r\n").encode()


def request(r, pki, path, timeout=20):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    conn = http.client.HTTPSConnection("localhost", r.port, context=ctx, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request("GET", SCORE + path, headers={"Authorization": f"Bearer {KEY}"})
        resp = conn.getresponse()
        return resp.status, resp.read(), time.monotonic() - t0, dict(resp.getheaders())
    finally:
        conn.close()


def in_background(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("result", fn()), daemon=True)
    t.start()
    return t, out


def rs(**kw):
    base = {"max_concurrent_requests_per_instance": 1, "max_queue_wait_ms": 10000,
            "request_timeout_ms": 20000}
    base.update(kw)
    return base


def router_for(start_router, pki, model, **request_settings):
    from conftest import settings_for
    return start_router(settings_for(pki, [model.address], request_settings=rs(**request_settings)))


def log_line(r, path):
    assert wait_until(lambda: any(l["path"].endswith(path) for l in r.access_log())), r.access_log()
    return next(l for l in r.access_log() if l["path"].endswith(path))


def assert_shed(result, status, limit, retry_after=None):
    got, body, _, headers = result
    assert got == status, (got, body)
    error = json.loads(body)["error"]
    assert error["limit"] == limit and error["code"] and error["message"], error
    assert headers.get("Retry-After", "").isdigit() and int(headers["Retry-After"]) >= 1, headers
    if retry_after is not None:
        assert headers["Retry-After"] == str(retry_after), headers


# --- item 2: cancel what nobody waits for ---------------------------------------------------

def test_client_gone_while_the_model_works_frees_the_slot_at_once(pki, start_router):
    model = SlowModel()
    try:
        r = router_for(start_router, pki, model)
        a = tls_socket(r, pki)
        a.sendall(raw_request("/a"))
        assert wait_until(lambda: model.seen("received", "/a"), timeout=3)
        b_thread, b = in_background(lambda: request(r, pki, "/b?ms=50"))
        time.sleep(0.1)  # B is queued behind A
        a.close()
        closed_at = time.monotonic()
        b_thread.join(10)
        status, body, took, _ = b["result"]
        assert status == 200 and json.loads(body)["path"] == "/b", (status, body)
        assert took < 1.5, f"B waited {took:.2f} s: A's request kept the slot"
        # the model saw A's connection end, promptly, and never answered it
        assert wait_until(lambda: model.seen("closed", "/a"), timeout=2), model.events
        assert model.seen("closed", "/a")[0] - closed_at < 1.0
        assert not model.seen("answered", "/a")
        line = log_line(r, "/a")
        assert line["status"] == 499 and line["error"] == "ClientClosedRequest", line
        assert log_line(r, "/b")["status"] == 200
    finally:
        model.stop()


def test_client_gone_while_queued_never_reaches_the_model(pki, start_router):
    model = SlowModel()
    try:
        r = router_for(start_router, pki, model)
        a_thread, a = in_background(lambda: request(r, pki, "/a?ms=1500"))
        assert wait_until(lambda: model.seen("received", "/a"), timeout=3)
        c = tls_socket(r, pki)
        c.sendall(raw_request("/c?ms=10"))
        time.sleep(0.2)
        c.close()
        a_thread.join(10)
        assert a["result"][0] == 200
        line = log_line(r, "/c")
        assert line["status"] == 499 and line["error"] == "ClientClosedRequest", line
        time.sleep(0.3)
        assert not model.seen("received", "/c"), model.events
    finally:
        model.stop()


def test_pipelined_request_is_not_a_disconnect(pki, start_router):
    model = SlowModel()
    try:
        r = router_for(start_router, pki, model, max_concurrent_requests_per_instance=4)
        s = tls_socket(r, pki)
        s.sendall(raw_request("/first?ms=600") + raw_request("/second?ms=10"))
        s.settimeout(10)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b'"/second"}'):
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        s.close()
        assert data.index(b'"/first"') < data.index(b'"/second"')
        assert not model.seen("closed", "/first")
    finally:
        model.stop()


# --- item 1: honest shedding ----------------------------------------------------------------

def test_full_queue_429_names_max_queue_length_and_retry_after_from_max_queue_wait(pki, model, start_router):
    r = router_for(start_router, pki, model, max_queue_wait_ms=5000, max_queue_length=1)
    holder, _ = in_background(lambda: request(r, pki, "/work?ms=1500"))
    time.sleep(0.2)
    queued, _ = in_background(lambda: request(r, pki, "/work?ms=10"))
    time.sleep(0.2)
    # nothing was released yet: no drain rate, so Retry-After is max_queue_wait_ms (5 s)
    assert_shed(request(r, pki, "/work?ms=10"), 429, "max_queue_length", retry_after=5)
    holder.join(10)
    queued.join(10)


def test_retry_after_follows_the_drain_rate(pki, model, start_router):
    r = router_for(start_router, pki, model, max_queue_wait_ms=5000, max_queue_length=1)
    for _ in range(10):  # 10 completions in the last 10 s: 1 per second
        assert request(r, pki, "/work?ms=1")[0] == 200
    holder, _ = in_background(lambda: request(r, pki, "/work?ms=1500"))
    time.sleep(0.2)
    queued, _ = in_background(lambda: request(r, pki, "/work?ms=10"))
    time.sleep(0.2)
    # (1 queued + 1) / (10 per 10 s) = 2 s
    assert_shed(request(r, pki, "/work?ms=10"), 429, "max_queue_length", retry_after=2)
    holder.join(10)
    queued.join(10)


def test_queue_timeout_429_names_max_queue_wait_ms(pki, model, start_router):
    r = router_for(start_router, pki, model, max_queue_wait_ms=300)
    holder, _ = in_background(lambda: request(r, pki, "/work?ms=1500"))
    time.sleep(0.2)
    assert_shed(request(r, pki, "/work?ms=10"), 429, "max_queue_wait_ms", retry_after=1)
    holder.join(10)


def test_no_queue_429_names_the_concurrency_limit(pki, model, start_router):
    r = router_for(start_router, pki, model, max_queue_wait_ms=0)
    holder, _ = in_background(lambda: request(r, pki, "/work?ms=1500"))
    time.sleep(0.2)
    assert_shed(request(r, pki, "/work?ms=10"), 429, "max_concurrent_requests_per_instance",
                retry_after=1)
    holder.join(10)


def test_no_ready_instance_503_has_retry_after_and_limit(pki, model, start_router):
    from conftest import settings_for
    s = settings_for(pki, [model.address], request_settings=rs(max_queue_wait_ms=2000))
    s["endpoints"][0]["deployments"][0]["readiness_probe"] = {
        "path": "/health", "period_ms": 100, "timeout_ms": 500, "initial_delay": 0,
        "success_threshold": 1, "failure_threshold": 1}
    r = start_router(s)
    model.get("/control/ready?value=0")
    assert wait_until(lambda: request(r, pki, "/score")[0] == 503)
    assert_shed(request(r, pki, "/score"), 503, "no_ready_instance", retry_after=2)
