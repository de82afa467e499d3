#!/usr/bin/env python3
"""A misbehaving HTTP/1.1 model for the upstream-fault tests (test_upstream_faults.py).

    faulty_model.py MODE PORT LOGFILE [SLEEP_MS]

Every event is one line appended to LOGFILE with a single write(), so a model killed with
SIGKILL leaves a complete record of what it had done:
    conn N              connection N accepted (1, 2, ...)
    got N RID PATH      a whole request read on connection N (RID: its x-request-id)
    done N RID          its answer written
    eof N               the router closed connection N

MODE:
  ok           answers every request after SLEEP_MS (default 0) with 200 {"pid","conn"} and
               keeps the connection open (keep-alive)
  close-after  answers like ok with "Connection: keep-alive", then closes the connection at once
               (the header lies: the router must find out before reusing it)
  close-idle   answers like ok, then closes the idle connection after a random 0-3 ms
  silent       reads requests and never answers
  garbage      /garbage gets bytes that are not HTTP (the connection stays open, so a router that
               reused it would be seen); any other path is answered like ok

Prints "LISTENING <port>" once bound (SO_REUSEADDR: a killed model restarts on its port).
"""
import json
import os
import random
import socket
import sys
import threading
import time

MODE, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SLEEP = int(sys.argv[4]) / 1000.0 if len(sys.argv) > 4 else 0.0
LOG_FD = os.open(LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
COUNT = [0]
COUNT_LOCK = threading.Lock()


def log(line):
    os.write(LOG_FD, (line + "\n").encode())


def read_request(sock, buf):
    """(head dict, rest of buf) of the next request, or (None, b"") when the peer closed."""
    while b"\r\n\r\n" not in buf:
        try:
            data = sock.recv(65536)
        except OSError:
            return None, b""
        if not data:
            return None, b""
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    need = int(fields.get("content-length", "0"))
    while len(buf) < need:
        data = sock.recv(65536)
        if not data:
            return None, b""
        buf += data
    return {"method": method, "path": path, "fields": fields}, buf[need:]


def answer(sock, n):
    body = json.dumps({"pid": os.getpid(), "conn": n}).encode()
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def serve(sock, n):
    buf = b""
    while True:
        req, buf = read_request(sock, buf)
        if req is None:
            log(f"eof {n}")
            return
        rid = req["fields"].get("x-request-id", "-")
        log(f"got {n} {rid} {req['path']}")
        if MODE == "silent":
            continue
        if MODE == "garbage" and req["path"].startswith("/garbage"):
            sock.sendall(b"THIS IS NOT HTTP AT ALL\r\n\r\n")
            log(f"done {n} {rid}")
            continue
        if SLEEP:
            time.sleep(SLEEP)
        answer(sock, n)
        log(f"done {n} {rid}")
        if MODE == "close-after":
            sock.close()
            return
        if MODE == "close-idle":
            sock.settimeout(random.uniform(0.0002, 0.003))
            try:
                more = sock.recv(65536, socket.MSG_PEEK)
            except (socket.timeout, BlockingIOError):
                sock.close()
                return
            sock.settimeout(None)
            if not more:
                log(f"eof {n}")
                return


def main():
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", PORT))
    lsock.listen(256)
    print("LISTENING", lsock.getsockname()[1], flush=True)
    while True:
        sock, _ = lsock.accept()
        with COUNT_LOCK:
            COUNT[0] += 1
            n = COUNT[0]
        log(f"conn {n}")
        threading.Thread(target=serve, args=(sock, n), daemon=True).start()


if __name__ == "__main__":
    main()
