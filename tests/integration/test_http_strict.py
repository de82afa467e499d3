"""HTTP/1.1 details end to end over real TLS sockets: pipelining, smuggling attempts, HEAD,
HTTP/1.0, chunked uploads, slow clients."""
import json
import socket
import ssl
import time

import pytest

from conftest import KEY, settings_for


def tls_socket(r, pki):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    return ctx.wrap_socket(s, server_hostname="localhost")


def read_responses(s, n, timeout=10):
    """Reads n complete responses (Content-Length or chunked); returns [(status, headers, body)]."""
    s.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return out
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        if "content-length" in hdrs:
            need = int(hdrs["content-length"])
            while len(buf) < need:
                buf += s.recv(65536)
            body, buf = buf[:need], buf[need:]
        elif hdrs.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in buf:
                    buf += s.recv(65536)
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line, 16)
                while len(buf) < size + 2:
                    buf += s.recv(65536)
                body += buf[:size]
                buf = buf[size + 2:]
                if size == 0:
                    break
        else:
            body = b""
        out.append((status, hdrs, body))
    return out


AUTH = f"Authorization: Bearer {KEY}\r\n"


def test_pipelined_requests_answered_in_order(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    s = tls_socket(r, pki)
    reqs = b"".join(
        (f"POST /api/v1/endpoint/fraud/echo HTTP/1.1\r\nHost: localhost\r\n{AUTH}"
         f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        for body in (b"first", b"second-body", b"third!"))
    s.sendall(reqs)  # three requests in one write
    got = read_responses(s, 3)
    assert [b for _, _, b in got] == [b"first", b"second-body", b"third!"]
    assert all(st == 200 for st, _, _ in got)


@pytest.mark.parametrize("raw", [
    b"POST /api/v1/endpoint/fraud/echo HTTP/1.1\r\nHost: l\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /api/v1/endpoint/fraud/echo HTTP/1.1\r\nHost: l\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"POST /api/v1/endpoint/fraud/echo HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST /api/v1/endpoint/fraud/echo HTTP/1.1\r\nHost: l\r\nX-Fold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    b"GET /api/v1/endpoint/fraud/../../admin HTTP/1.1\r\nHost: l\r\n\r\n",
    b"GET /api/v1/endpoint/fraud/headers HTTP/1.1\r\n\r\n",
    b"GET /api/v1/endpoint/fraud/headers HTTP/1.1\nHost: l\n\n",
])
def test_smuggling_attempts_get_400_and_a_closed_connection(pki, model, start_router, raw):
    r = start_router(settings_for(pki, [model.address]))
    s = tls_socket(r, pki)
    s.sendall(raw + b"GET /api/v1/endpoint/fraud/headers HTTP/1.1\r\nHost: l\r\n" + AUTH.encode() + b"\r\n")
    got = read_responses(s, 2)
    assert got and got[0][0] == 400, got
    assert json.loads(got[0][2])["error"]["code"] == "BadRequest"
    assert len(got) == 1  # nothing after the bad request is read as a request: the connection ends
    assert got[0][1].get("connection") == "close"
    assert model.get("/stats")["requests"] == 1  # only this /stats call: nothing reached the model


def test_chunked_upload_is_streamed_and_reframed(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    s = tls_socket(r, pki)
    s.sendall(f"POST /api/v1/endpoint/fraud/headers HTTP/1.1\r\nHost: l\r\n{AUTH}"
              "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n".encode())
    time.sleep(0.2)
    s.sendall(b"6\r\n world\r\n0\r\n\r\n")
    (status, _, body), = read_responses(s, 1)
    seen = json.loads(body)
    assert status == 200 and seen["body_len"] == 11
    names = {k.lower(): v for k, v in seen["headers"]}
    assert names.get("transfer-encoding") == "chunked" and "content-length" not in names


def test_head_and_http10(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    s = tls_socket(r, pki)
    s.sendall(f"HEAD /api/v1/endpoint/fraud/status?code=200 HTTP/1.1\r\nHost: l\r\n{AUTH}\r\n".encode())
    s.settimeout(5)
    data = s.recv(65536)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n")  # head only, no body
    assert b"content-length: 21" in data.lower()  # the GET body length, {"model_status": 200}
    s2 = tls_socket(r, pki)
    s2.sendall(f"GET /api/v1/endpoint/fraud/status?code=201 HTTP/1.0\r\n{AUTH}\r\n".encode())
    data = b""
    while chunk := s2.recv(65536):
        data += chunk
    assert data.startswith(b"HTTP/1.1 201") and data.endswith(b'{"model_status": 201}')


def test_slow_header_is_cut_at_header_timeout(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], router={"header_timeout_ms": 500}))
    s = tls_socket(r, pki)
    s.sendall(b"GET /api/v1/endpoint/fraud/headers HTTP/1.1\r\nHost: l\r\n")  # never finished
    t0 = time.monotonic()
    s.settimeout(5)
    try:
        rest = s.recv(100)
    except (ConnectionResetError, ssl.SSLError):
        rest = b""
    assert rest == b"" and time.monotonic() - t0 < 2.5


def test_head_split_over_tcp_segments(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    s = tls_socket(r, pki)
    for piece in (b"POST /api/v1/endpoint/fraud/echo HTTP/1.1\r\n", b"Host: localhost\r\n",
                  AUTH.encode(), b"Content-Length: 4\r\n", b"\r\n", b"ping"):
        s.sendall(piece)
        time.sleep(0.05)
    (status, _, body), = read_responses(s, 1)
    assert status == 200 and body == b"ping"


def test_endless_head_in_small_pieces_is_431(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], router={"max_header_bytes": 2048}))
    s = tls_socket(r, pki)
    s.sendall(b"GET /api/v1/endpoint/fraud/headers HTTP/1.1\r\nHost: l\r\n")
    try:
        for _ in range(100):
            s.sendall(b"X-Pad: " + b"p" * 60 + b"\r\n")
            time.sleep(0.005)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass
    got = read_responses(s, 1)
    assert got and got[0][0] == 431
