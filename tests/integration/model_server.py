#!/usr/bin/env python3
"""A controllable model server for integration tests: a real HTTP/1.1 upstream.

Paths (any method unless noted):
  POST /score          {"data": [[...]]} -> {"result": [sum(row) ...]} (deterministic)
  POST /echo           the request body back, byte for byte (Content-Length)
  GET  /sse?n=&gap_ms= n server-sent events, one every gap_ms, no Content-Length (chunked)
  ANY  /sleep?ms=      sleeps, then 200 {"slept_ms": ms}
  ANY  /headers        the request line and headers it received, as JSON
  ANY  /status?code=   answers with that status and a fixed body
  GET  /reset          sends half an answer, then resets the connection
  GET  /close          closes the connection without answering
  ANY  /work?ms=       like /sleep, and counts concurrent requests (see /stats)
  GET  /stats          {"max_concurrent": n, "requests": n, "current": n}
  GET  /health         200, or 503 while /control/unready is in effect
  POST /control/ready?value=0|1   flips /health
Prints "LISTENING <port>" on stdout once bound.
"""
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STATE = {"current": 0, "max_concurrent": 0, "requests": 0, "ready": True}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "testmodel/1"
    # TCP_NODELAY, as model servers set it: the head and the body are two writes, and with Nagle
    # the body waits for the router's delayed ACK of the head on a kept-alive connection (40 ms)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, ctype="application/json", extra=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self._body()
        with LOCK:
            STATE["requests"] += 1
        path = url.path
        if path == "/score":
            try:
                data = json.loads(body or b"{}")["data"]
                self._send(200, json.dumps({"result": [float(sum(r)) for r in data]}))
            except Exception as e:  # noqa: BLE001
                self._send(400, json.dumps({"error": str(e)}))
        elif path == "/echo":
            self._send(200, body, self.headers.get("Content-Type", "application/octet-stream"))
        elif path == "/sse":
            n, gap = int(q.get("n", "5")), int(q.get("gap_ms", "200")) / 1000
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(n):
                ev = f"data: event {i} at {time.time():.3f}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                self.wfile.flush()
                time.sleep(gap)
            self.wfile.write(b"0\r\n\r\n")
        elif path in ("/sleep", "/work"):
            ms = int(q.get("ms", "100"))
            with LOCK:
                STATE["current"] += 1
                STATE["max_concurrent"] = max(STATE["max_concurrent"], STATE["current"])
            try:
                time.sleep(ms / 1000)
            finally:
                with LOCK:
                    STATE["current"] -= 1
            self._send(200, json.dumps({"slept_ms": ms, "host": self.server.server_address[0],
                                        "port": self.server.server_address[1]}))
        elif path == "/headers" or path.endswith("/headers"):  # also under /v2/models/<m>/
            self._send(200, json.dumps({"method": self.command, "path": self.path,
                                        "headers": [[k, v] for k, v in self.headers.items()],
                                        "body_len": len(body)}))
        elif path == "/status":
            code = int(q.get("code", "200"))
            self._send(code, json.dumps({"model_status": code}), extra={"X-Model": "yes"})
        elif path == "/reset":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif path == "/close":
            self.connection.close()
            self.close_connection = True
        elif path == "/stats":
            with LOCK:
                self._send(200, json.dumps(STATE))
        elif path == "/health" or path == "/":
            self._send(200 if STATE["ready"] else 503, "ok" if STATE["ready"] else "not ready", "text/plain")
        elif path == "/control/ready":
            STATE["ready"] = q.get("value", "1") == "1"
            self._send(200, json.dumps({"ready": STATE["ready"]}))
        elif path == "/control/reset-stats":
            with LOCK:
                STATE.update(current=0, max_concurrent=0, requests=0)
            self._send(200, "{}")
        else:
            self._send(404, json.dumps({"error": "no such path"}))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    srv = Server((host, port), Handler)
    print(f"LISTENING {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
