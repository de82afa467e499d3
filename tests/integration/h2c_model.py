#!/usr/bin/env python3
"""A controllable REST model server that speaks HTTP/2 only: prior-knowledge h2c on plain TCP,
h2 over TLS (ALPN "h2") when given --tls-cert/--tls-key. Built on the h2 library, one thread per
connection plus one per request, so streams of one connection are answered concurrently.

Why: scoregate's HTTP/2 upstream client needs a real HTTP/2 model to multiplex onto, with paths
that make it stream, reset, send trailers and report what it saw (model_server.py is the
HTTP/1.1 twin; the paths match where they overlap).

Paths (any method unless noted):
  POST /score          {"data": [[...]]} -> {"result": [sum(row) ...]}
  POST /echo           the request body back (content-type echoed)
  ANY  /headers        JSON: {"pseudo": {":method": ..}, "headers": [[k, v] ..], "body_len", "stream_id",
                       "connection"}; pseudo-headers and headers exactly as received (lower-case)
  ANY  /sleep?ms=      sleeps, then 200 {"slept_ms": ms, "port": p}
  ANY  /status?code=   that status, body {"model_status": code}, header x-model: yes
  ANY  /trailers       body "trailers follow\n", then trailers x-trailer: yes (END_STREAM on them)
  ANY  /reset?bytes=&code=  the response head (+ bytes of body, default 0), then RST_STREAM with
                       error code `code` (default 2 INTERNAL_ERROR)
  ANY  /stream?n=&gap_ms=   n DATA frames ("data: event i\n\n"), gap_ms apart, text/event-stream
  ANY  /big?bytes=     a body of that many bytes (default 1 MiB), sent as flow control allows
  ANY  /goaway         the head, GOAWAY(NO_ERROR, last_stream_id = this stream), the body
                       {"goaway": true}, then closes the connection
  GET  /stats          {"connections": accepted, "work_connections": connections that carried a
                       request other than /stats and /control/*, "requests", "current_streams",
                       "max_concurrent_streams" (requests being handled at once, over all
                       connections), "max_streams_per_connection" (most streams open at once on
                       one connection, as the protocol counts them), "refused_streams", "resets_received", "goaways_received"}
  POST /control/reset-stats   zeroes the counters
  GET  /health         200 "ok"
Every response carries x-model-port and x-model-connection (a per-process connection number).

usage: h2c_model.py [--host 127.0.0.1] [--port 0] [--max-streams N] [--window N]
                    [--tls-cert PEM --tls-key PEM]
  --max-streams  SETTINGS_MAX_CONCURRENT_STREAMS announced (default 100); a stream beyond it is
                 refused with RST_STREAM(REFUSED_STREAM) (counted in /stats "refused_streams")
  --window       SETTINGS_INITIAL_WINDOW_SIZE announced (default 65535)
Prints "LISTENING <port>" on stdout once bound.
"""
import argparse
import collections
import itertools
import json
import socket
import ssl
import threading
import time
from urllib.parse import parse_qs, urlparse

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

STATS_LOCK = threading.Lock()
ZERO = {"connections": 0, "work_connections": 0, "requests": 0, "current_streams": 0,
        "max_concurrent_streams": 0, "max_streams_per_connection": 0, "resets_received": 0, "refused_streams": 0,
        "goaways_received": 0}
STATS = dict(ZERO)
CONN_IDS = itertools.count(1)
ARGS = None
PORT = 0


def is_work(path):
    return not (path.startswith("/stats") or path.startswith("/control/"))


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.id = next(CONN_IDS)
        self.cond = threading.Condition()  # guards self.h2 and the socket's send side
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8", validate_inbound_headers=False))
        self.streams = {}  # stream id -> {"headers", "body", "counted"}
        self.worked = False
        self.accepted = set()  # stream ids not refused (see open_accepted)
        self.dead = False

    # -- sending (always under self.cond) -------------------------------------------------------
    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.dead:
            try:
                self.sock.sendall(data)
            except OSError:
                self.dead = True
                self.cond.notify_all()

    def do(self, fn, *args, **kw):
        """Runs one h2 call and sends its bytes; False when the stream or connection is gone."""
        with self.cond:
            if self.dead:
                return False
            try:
                fn(*args, **kw)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                return False
            self.flush()
            return not self.dead

    def send_body(self, sid, data, end_stream=True):
        """Sends data as flow control allows (waits for WINDOW_UPDATEs); False if the stream died."""
        data, last = memoryview(data), False
        while data:
            with self.cond:
                while True:
                    if self.dead:
                        return False
                    try:
                        window = self.h2.local_flow_control_window(sid)
                    except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                        return False
                    if window > 0:
                        break
                    self.cond.wait(1)
                n = min(window, len(data), self.h2.max_outbound_frame_size)
                last = end_stream and n == len(data)  # END_STREAM on the last DATA frame
                try:
                    self.h2.send_data(sid, data[:n].tobytes(), end_stream=last)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                    return False
                self.flush()
            data = data[n:]
        if end_stream and not last:  # an empty body: END_STREAM on an empty DATA frame
            return self.do(self.h2.end_stream, sid)
        return True

    def respond(self, sid, status, body=b"", ctype="application/json", extra=(), end=True):
        if isinstance(body, str):
            body = body.encode()
        headers = [(":status", str(status)), ("content-type", ctype), ("x-model-port", str(PORT)),
                   ("x-model-connection", str(self.id)), *extra]
        if end:
            headers.append(("content-length", str(len(body))))
        if not self.do(self.h2.send_headers, sid, headers, end_stream=end and not body):
            return False
        return self.send_body(sid, body, end_stream=end) if body else True

    # -- receiving -------------------------------------------------------------------------------
    def run(self):
        try:
            if isinstance(self.sock, ssl.SSLSocket):
                self.sock.do_handshake()
                if self.sock.selected_alpn_protocol() != "h2":
                    return
            with self.cond:
                self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
                    h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: ARGS.max_streams,
                    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: ARGS.window})
                self.h2.initiate_connection()
                # Announce --max-streams but enforce it here (event()) with REFUSED_STREAM, as
                # RFC 9113 5.1.2 allows: h2 itself would end the whole connection, and a client
                # may open more streams before our SETTINGS reach it.
                self.h2.local_settings._settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = \
                    collections.deque([2**31 - 1])
                self.flush()
            while not self.dead:
                data = self.sock.recv(65536)
                if not data:
                    break
                if not self.receive(data):
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.cond:
                self.dead = True
                self.cond.notify_all()
            self.linger()
            try:
                self.sock.close()
            except OSError:
                pass

    def linger(self):
        """Half-closes and reads what the peer still sends (up to 1 s), so that closing with
        unread input does not turn into a TCP reset that destroys our GOAWAY in flight."""
        try:
            if isinstance(self.sock, ssl.SSLSocket):
                return
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(0.2)
            end = time.monotonic() + 1
            while time.monotonic() < end and self.sock.recv(65536):
                pass
        except OSError:
            pass

    def receive(self, data):
        with self.cond:
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError:
                # h2 has queued its GOAWAY (receive_data terminates the connection): send it, close.
                self.flush()
                return False
            self.flush()
            for ev in events:
                if not self.event(ev):
                    return False
            self.flush()
            self.cond.notify_all()
        return True

    def event(self, ev):
        """Handles one h2 event under self.cond; False ends the connection."""
        if isinstance(ev, h2.events.RequestReceived):
            if self.open_accepted() >= ARGS.max_streams:
                self.h2.reset_stream(ev.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                with STATS_LOCK:
                    STATS["refused_streams"] += 1
                return True
            self.accepted.add(ev.stream_id)
            headers = list(ev.headers)
            path = dict(headers).get(":path", "/")
            st = {"headers": headers, "body": bytearray(), "counted": is_work(path)}
            self.streams[ev.stream_id] = st
            if st["counted"]:
                self.started(path)
            if ev.stream_ended:
                self.dispatch(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            if ev.stream_id in self.streams:
                self.streams[ev.stream_id]["body"] += ev.data
            self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.dispatch(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            with STATS_LOCK:
                STATS["resets_received"] += 1
            self.finished(ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            with STATS_LOCK:
                STATS["goaways_received"] += 1
            return False
        return True

    def open_accepted(self):
        """Streams accepted so far that h2 still sees open. Not h2's open_inbound_streams: h2
        opens every stream of a read before we see the first event, so that count would refuse
        the earliest streams of a burst instead of the latest."""
        self.accepted = {s for s in self.accepted if s in self.h2.streams and not self.h2.streams[s].closed}
        return len(self.accepted)

    def started(self, path):
        with STATS_LOCK:
            STATS["requests"] += 1
            STATS["current_streams"] += 1
            STATS["max_concurrent_streams"] = max(STATS["max_concurrent_streams"], STATS["current_streams"])
            # h2's view of open streams (closed by the last frame sent, under self.cond): free of
            # the race between a handler thread's bookkeeping and the client's next stream.
            STATS["max_streams_per_connection"] = max(STATS["max_streams_per_connection"], self.open_accepted())
            if not self.worked:
                self.worked = True
                STATS["work_connections"] += 1

    def finished(self, sid):
        st = self.streams.pop(sid, None)
        if st and st["counted"]:
            with STATS_LOCK:
                STATS["current_streams"] -= 1

    def dispatch(self, sid):
        st = self.streams.get(sid)
        if st is not None and not st.get("dispatched"):
            st["dispatched"] = True
            threading.Thread(target=self.handle, args=(sid, st), daemon=True).start()

    def handle(self, sid, st):
        try:
            Handler(self, sid, st).run()
        finally:
            with self.cond:
                self.finished(sid)


class Handler:
    def __init__(self, conn, sid, st):
        self.conn, self.sid = conn, sid
        self.pseudo = {k: v for k, v in st["headers"] if k.startswith(":")}
        self.headers = [[k, v] for k, v in st["headers"] if not k.startswith(":")]
        self.body = bytes(st["body"])
        url = urlparse(self.pseudo.get(":path", "/"))
        self.path = url.path
        self.q = {k: v[0] for k, v in parse_qs(url.query).items()}

    def json(self, status, obj, extra=()):
        return self.conn.respond(self.sid, status, json.dumps(obj), extra=extra)

    def run(self):
        route = {"/score": self.score, "/echo": self.echo, "/headers": self.show_headers,
                 "/sleep": self.sleep, "/work": self.sleep, "/status": self.status,
                 "/trailers": self.trailers, "/reset": self.reset, "/stream": self.stream,
                 "/big": self.big, "/goaway": self.goaway, "/stats": self.stats,
                 "/control/reset-stats": self.reset_stats, "/health": self.health, "/": self.health}
        route.get(self.path, self.not_found)()

    def score(self):
        try:
            data = json.loads(self.body or b"{}")["data"]
            self.json(200, {"result": [float(sum(r)) for r in data]})
        except Exception as e:  # noqa: BLE001
            self.json(400, {"error": str(e)})

    def echo(self):
        ctype = dict(self.headers).get("content-type", "application/octet-stream")
        self.conn.respond(self.sid, 200, self.body, ctype)

    def show_headers(self):
        self.json(200, {"pseudo": self.pseudo, "headers": self.headers, "body_len": len(self.body),
                        "stream_id": self.sid, "connection": self.conn.id})

    def sleep(self):
        ms = int(self.q.get("ms", "100"))
        time.sleep(ms / 1000)
        self.json(200, {"slept_ms": ms, "port": PORT})

    def status(self):
        code = int(self.q.get("code", "200"))
        self.json(code, {"model_status": code}, extra=[("x-model", "yes")])

    def trailers(self):
        c = self.conn
        if c.respond(self.sid, 200, b"trailers follow\n", "text/plain", extra=[("trailer", "x-trailer")],
                     end=False):
            c.do(c.h2.send_headers, self.sid, [("x-trailer", "yes")], end_stream=True)

    def reset(self):
        c = self.conn
        n = int(self.q.get("bytes", "0"))
        if c.do(c.h2.send_headers, self.sid, [(":status", "200"), ("content-type", "text/plain"),
                                              ("content-length", "100000")]):
            if n:
                c.send_body(self.sid, b"x" * n, end_stream=False)
            c.do(c.h2.reset_stream, self.sid, error_code=int(self.q.get("code", "2")))

    def stream(self):
        c = self.conn
        n, gap = int(self.q.get("n", "5")), int(self.q.get("gap_ms", "200")) / 1000
        if not c.do(c.h2.send_headers, self.sid, [(":status", "200"), ("content-type", "text/event-stream"),
                                                  ("x-model-port", str(PORT))]):
            return
        for i in range(n):
            if i:
                time.sleep(gap)
            if not c.send_body(self.sid, f"data: event {i} at {time.time():.3f}\n\n".encode(), end_stream=False):
                return
        c.do(c.h2.end_stream, self.sid)

    def big(self):
        n = int(self.q.get("bytes", str(1 << 20)))
        self.conn.respond(self.sid, 200, b"b" * n, "application/octet-stream")

    def goaway(self):
        """Graceful shutdown with a stream in flight: head, GOAWAY(NO_ERROR, last stream = this
        one), then the body, then close. The GOAWAY is written by hand: h2 refuses to send
        DATA after its own close_connection()."""
        c = self.conn
        body = json.dumps({"goaway": True}).encode()
        if not c.do(c.h2.send_headers, self.sid, [(":status", "200"), ("content-type", "application/json"),
                                                  ("content-length", str(len(body)))]):
            return
        with c.cond:
            c.flush()
            try:
                c.sock.sendall(GoAwayFrame(0, last_stream_id=self.sid, error_code=0).serialize())
            except OSError:
                return
        c.send_body(self.sid, body)
        with c.cond:
            c.dead = True
            c.cond.notify_all()
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stats(self):
        with STATS_LOCK:
            snapshot = dict(STATS)
        self.json(200, snapshot)

    def reset_stats(self):
        with STATS_LOCK:
            current = STATS["current_streams"]
            STATS.update(ZERO, current_streams=current)
        self.json(200, {})

    def health(self):
        self.conn.respond(self.sid, 200, "ok", "text/plain")

    def not_found(self):
        self.json(404, {"error": "no such path"})


def main():
    global ARGS, PORT
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--max-streams", type=int, default=100)
    p.add_argument("--window", type=int, default=65535)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    ARGS = p.parse_args()
    tls = None
    if ARGS.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        tls.set_alpn_protocols(["h2"])
    lsock = socket.socket(socket.AF_INET6 if ":" in ARGS.host else socket.AF_INET)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((ARGS.host, ARGS.port))
    lsock.listen(256)
    PORT = lsock.getsockname()[1]
    print(f"LISTENING {PORT}", flush=True)
    while True:
        sock, _ = lsock.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with STATS_LOCK:
            STATS["connections"] += 1
        threading.Thread(target=Connection(sock).run, daemon=True).start()


if __name__ == "__main__":
    main()
