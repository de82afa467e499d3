#!/usr/bin/env python3
"""Bounded load from a second process: threads doing a full TLS handshake per request and
threads reusing keep-alive connections. Prints one JSON line of counts when done.

usage: load_client.py PORT CAFILE SECONDS PATH KEY [handshake_threads] [keepalive_threads]
"""
import http.client
import json
import ssl
import sys
import threading
import time

port, cafile, seconds, path, key = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
hs_threads = int(sys.argv[6]) if len(sys.argv) > 6 else 3
ka_threads = int(sys.argv[7]) if len(sys.argv) > 7 else 3
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
body = json.dumps({"data": [[1, 2, 3]]})
lock = threading.Lock()
counts = {"handshakes_ok": 0, "handshakes_failed": 0, "requests_ok": 0, "requests_failed": 0, "errors": []}
deadline = time.monotonic() + seconds


def record(kind, ok, err=None):
    with lock:
        counts[f"{kind}_{'ok' if ok else 'failed'}"] += 1
        if not ok and err and len(counts["errors"]) < 20:
            counts["errors"].append(f"{kind}: {err}")


def context():
    ctx = ssl.create_default_context(cafile=cafile)  # hostname verification on
    return ctx


def handshaker():
    while time.monotonic() < deadline:
        conn = http.client.HTTPSConnection("localhost", port, context=context(), timeout=10)
        try:
            conn.connect()  # a fresh context per connection: a full handshake, never resumed
            record("handshakes", True)
        except Exception as e:  # noqa: BLE001
            record("handshakes", False, repr(e))
            continue
        try:
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            record("requests", r.status == 200 and data.startswith(b'{"result"'), f"{r.status} {data[:80]!r}")
        except Exception as e:  # noqa: BLE001
            record("requests", False, repr(e))
        finally:
            conn.close()


def keepalive():
    conn = None
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn = http.client.HTTPSConnection("localhost", port, context=context(), timeout=10)
                conn.connect()
                record("handshakes", True)
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            record("requests", r.status == 200 and data.startswith(b'{"result"'), f"{r.status} {data[:80]!r}")
        except Exception as e:  # noqa: BLE001
            record("requests", False, repr(e))
            conn = None


threads = [threading.Thread(target=handshaker) for _ in range(hs_threads)]
threads += [threading.Thread(target=keepalive) for _ in range(ka_threads)]
for t in threads:
    t.start()
start = time.monotonic()
for t in threads:
    t.join()
counts["requests_per_second"] = round((counts["requests_ok"] + counts["requests_failed"]) / (time.monotonic() - start), 1)
print(json.dumps(counts), flush=True)
