"""Helpers of the load stage: a legitimate client that measures itself, slowhttptest runs, and
the router process's CPU time and RSS from /proc."""
import http.client
import os
import resource
import socket
import ssl
import subprocess
import threading
import time

from integration_conftest import KEY, cpu_seconds, rss_kib  # cpu_seconds: for the tests

SCORE = "/api/v1/endpoint/fraud/score"
BODY = b'{"data": [[1, 2]]}'
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def raise_nofile(need=4096):
    """This process's soft open-files limit up to the hard one (slowhttptest, started from here,
    does the same: 1,500 connections need more than the usual 1,024 descriptors)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    assert hard >= need, f"the load stage needs a hard open-files limit of {need}, not {hard}"
    return hard


class RssSampler:
    """The process's RSS every `every` s in a thread; peak() in KiB."""

    def __init__(self, pid, every=0.2):
        self.pid, self.every, self.samples = pid, every, []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(rss_kib(self.pid))
            except (OSError, AssertionError):
                return
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._t.join()
        return self

    def peak(self):
        return max(self.samples)


class LegitClient:
    """`keepalive` threads each sending POSTs on one kept-alive connection, and `fresh` threads
    each opening a new connection (a full TLS handshake when tls) per request, until stop().
    Every attempt is recorded as (ok, seconds); an exception or a status other than 200 is a
    failure."""

    def __init__(self, port, ctx=None, keepalive=2, fresh=1, host="localhost", timeout=10,
                 warm=True, pause=0.0):
        self.port, self.ctx, self.host, self.timeout = port, ctx, host, timeout
        self.pause = pause  # seconds between a thread's requests
        self.results, self.errors = [], []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        conns = [self._conn() for _ in range(keepalive)]
        if warm:  # connections made (and the model's pool filled) before any attack
            for c in conns:
                assert self._one(c)[0], self.errors
            self.results.clear()
        self.threads = [threading.Thread(target=self._keepalive, args=(c,), daemon=True) for c in conns]
        self.threads += [threading.Thread(target=self._fresh, daemon=True) for _ in range(fresh)]
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()

    def _conn(self):
        if self.ctx is None:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.timeout)

    def _one(self, conn):
        t = time.monotonic()
        try:
            conn.request("POST", SCORE, body=BODY, headers=HEADERS)
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
            if not ok:
                self.errors.append(f"status {r.status}")
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            ok = False
            self.errors.append(repr(e))
        return ok, time.monotonic() - t

    def _record(self, res):
        with self._lock:
            self.results.append(res)

    def _keepalive(self, conn):
        while not self._stop.is_set():
            ok, dt = self._one(conn)
            self._record((ok, dt))
            self._stop.wait(self.pause)
            if not ok:
                conn.close()
                conn = self._conn()
        conn.close()

    def _fresh(self):
        while not self._stop.is_set():
            conn = self._conn()
            self._record(self._one(conn))
            conn.close()

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(30)
        self.elapsed = time.monotonic() - self.t0
        return self

    def summary(self):
        lat = sorted(dt for _, dt in self.results)
        n = len(lat)
        ok = sum(1 for o, _ in self.results if o)
        p = lambda q: lat[min(n - 1, int(q * n))] * 1000 if n else float("nan")
        return {"requests": n, "ok": ok, "success": ok / n if n else 0.0,
                "rps": ok / self.elapsed, "p50_ms": p(0.50), "p99_ms": p(0.99), "max_ms": p(1.0)}


def slowhttptest(mode, url, connections, rate, seconds, interval=5, extra=()):
    """slowhttptest started in the background (its soft descriptor limit raised to the hard one);
    returns the Popen. Its output goes to a pipe read by the caller (communicate())."""
    cmd = ["slowhttptest", mode, "-c", str(connections), "-r", str(rate), "-l", str(seconds),
           "-i", str(interval), "-u", url, "-p", "3", *extra]

    def limits():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=limits)


def established_to(port):
    """Established TCP connections to 127.0.0.1:port as ss counts them (client side)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"dport = :{port}"],
                         capture_output=True, text=True).stdout
    return sum(1 for l in out.splitlines() if l.strip())


def wait_connections(port, n, timeout):
    t0 = time.monotonic()
    best = 0
    while time.monotonic() - t0 < timeout:
        best = max(best, established_to(port))
        if best >= n:
            return best
        time.sleep(0.2)
    return best


def serves_new_connection(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(2)
        ok = s.recv(12).startswith(b"HTTP/1.1 404")
        s.close()
        return ok
    except OSError:
        return False
