"""HTTP/2 attacks against the real binary (README "HTTP/2 and gRPC", "Limits"): the ones that
broke nginx, Envoy, HAProxy and others in 2023-2024, sent frame by frame (h2_attack.py). Each
time the router ends or refuses what it must, stays up, keeps serving other connections and
keeps its memory bounded."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

import h2_attack
from hyperframe.frame import HeadersFrame
from conftest import KEY, rss_kib, settings_for, start_peer, wait_until

SCORE = "/api/v1/endpoint/fraud"
AUTH = (("authorization", f"Bearer {KEY}"),)


# Under ASan (scripts/test.sh sanitize) memory is shadowed and freed blocks are quarantined:
# RSS says nothing about the router's own bounds there.
CHECK_RSS = not os.environ.get("SCOREGATE_SANITIZED")


@pytest.fixture
def router(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], router={"max_header_bytes": 8192},
                                  request_settings={"max_concurrent_requests_per_instance": 64,
                                                    "max_queue_length": 2000}))
    r.cafile = str(pki / "ca.pem")
    return r


def attack_kw(r):
    return dict(tls=r.cafile, server_hostname="localhost", authority=f"localhost:{r.port}")


def still_serves(r):
    resp = h2_attack.normal_request("127.0.0.1", r.port, SCORE + "/score", method="POST",
                                    body=b'{"data": [[1, 2]]}', headers=AUTH, **attack_kw(r))
    assert (resp.status, json.loads(resp.body)) == (200, {"result": [3]}), resp
    assert r.proc.poll() is None


def test_rapid_reset_gets_goaway_enhance_your_calm(router):
    res = h2_attack.rapid_reset("127.0.0.1", router.port, n=100, rounds=20, path=SCORE + "/work?ms=50",
                                headers=AUTH, drain=3.0, **attack_kw(router))
    assert res.goaway and res.goaway_error_name == "ENHANCE_YOUR_CALM", res.summary()
    # cut off soon after the reset limit (200 in 10 s; http2_core.hpp): of the 2,000 streams the
    # client opened, fewer than 400 were taken. (How many the client wrote before it saw the
    # GOAWAY says nothing: 54 KB fit in the socket buffers, and a slow router, under ASan, reads
    # them only after the client is done.)
    assert res.goaway_last_stream < 2 * 400, res.summary()
    still_serves(router)


def test_continuation_flood_ends_the_connection(router):
    res = h2_attack.continuation_flood("127.0.0.1", router.port, frames=5000, frame_size=16,
                                       path=SCORE + "/score", **attack_kw(router))
    assert res.closed and res.elapsed < 3, res.summary()
    still_serves(router)


def test_oversized_header_lists(router):
    # a little over max_header_bytes: 431 on that stream, like HTTP/1.1
    resp = h2_attack.normal_request("127.0.0.1", router.port, SCORE + "/score",
                                    headers=AUTH + (("x-big", "a" * 10000),), **attack_kw(router))
    assert resp.status == 431 and b"RequestHeaderTooLarge" in resp.body, resp
    # 1 MiB of header fields: the connection ends, nothing of it is kept
    before = rss_kib(router.proc.pid)
    res = h2_attack.big_header_list("127.0.0.1", router.port, size=1 << 20, path=SCORE + "/score",
                                    **attack_kw(router))
    assert res.goaway_error_name == "ENHANCE_YOUR_CALM" and res.closed, res.summary()
    assert not CHECK_RSS or rss_kib(router.proc.pid) - before < 4096
    still_serves(router)


def test_settings_and_ping_floods_end_the_connection(router):
    before = rss_kib(router.proc.pid)
    # A client that floods without reading: the answers queue up in the router until nghttp2's
    # bound (1000 unsent ACKs) ends the connection. The ACKs (9 bytes each) must be more than
    # the socket buffers between us can absorb: the router's send buffer (up to tcp_wmem's
    # maximum, 4 MiB on Debian) and the client's receive buffer, fixed at 64 KiB (the kernel
    # would grow it to tcp_rmem's maximum, 32 MiB here, enough for every ACK).
    wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    # After writing, the client reads nothing until the router ends the connection (or 20 s):
    # a router slower than the client (ASan) takes the flood into its receive buffer first.
    res = h2_attack.settings_flood("127.0.0.1", router.port, n=max(300000, (wmem_max + (1 << 20)) // 9),
                                   hold=20, **attack_kw(router))
    assert res.closed, res.summary()
    res = h2_attack.ping_flood("127.0.0.1", router.port, n=300000, hold=20, **attack_kw(router))
    # ended at the flood (~1 s of writing, then kGoawayGrace for the router's last write), not
    # by the 10 s header_timeout: a client that reads nothing cannot hold the connection open
    assert res.closed and res.ping_acks < 300000 and res.elapsed < 8, res.summary()
    assert not CHECK_RSS or rss_kib(router.proc.pid) - before < 16 * 1024
    still_serves(router)


def test_zero_window_stream_times_out_and_memory_stays_bounded(pki, start_router):
    big = start_peer("h2c_model.py")  # an HTTP/2 model: /big answers as many bytes as asked
    s = settings_for(pki, [big.address], router={"body_idle_timeout_ms": 1000})
    s["endpoints"][0]["deployments"][0]["protocol"] = "h2c"
    r = start_router(s)
    r.cafile = str(pki / "ca.pem")
    before = rss_kib(r.proc.pid)
    results = []

    def stall():  # 8 MiB answers nobody reads (SETTINGS_INITIAL_WINDOW_SIZE 0)
        results.append(h2_attack.zero_window("127.0.0.1", r.port, path=SCORE + "/big?bytes=8000000",
                                             headers=AUTH, hold=8, **attack_kw(r)))
    threads = [threading.Thread(target=stall) for _ in range(10)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    resp = h2_attack.normal_request("127.0.0.1", r.port, SCORE + "/big?bytes=1000", headers=AUTH,
                                    **attack_kw(r))
    assert resp.status == 200 and len(resp.body) == 1000, resp  # others are served meanwhile
    for t in threads:
        t.join()
    assert len(results) == 10
    for res in results:
        assert not res.timed_out, res.summary()  # the router reset the stream: it did not wait forever
        assert res.detail["reacted_after"] < 6, res.summary()
    assert not CHECK_RSS or rss_kib(r.proc.pid) - before < 16 * 1024
    big.stop()


def test_idle_connection_gets_goaway(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address],
                                  router={"keepalive_timeout_ms": 500, "header_timeout_ms": 500}))
    kw = dict(tls=str(pki / "ca.pem"), server_hostname="localhost", authority=f"localhost:{r.port}")
    c = h2_attack.RawConnection("127.0.0.1", r.port, timeout=5, result=h2_attack.AttackResult("idle"), **kw)
    t0 = time.monotonic()
    while not c.over() and time.monotonic() - t0 < 4:
        c.poll(0.05)
    assert c.result.goaway and c.result.goaway_error_name == "NO_ERROR", c.result.summary()
    assert 0.4 < time.monotonic() - t0 < 3
    c.close()


def test_sigterm_sends_goaway_and_finishes_streams_in_flight(pki, model, start_router):
    """nghttp (a C client: Python's h2 refuses frames after a GOAWAY) keeps a stream open while
    the router drains: GOAWAY(NO_ERROR) arrives first, then the answer of the stream."""
    r = start_router(settings_for(pki, [model.address]))
    p = subprocess.Popen(["nghttp", "-v", "--no-verify-peer", "-H", f"authorization: Bearer {KEY}",
                          r.url(SCORE + "/sleep?ms=1000")], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # the stream is at the model now (it sleeps 1 s)
    r.signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 0, out
    goaway = out.find("recv GOAWAY")
    assert goaway >= 0 and "error_code=NO_ERROR(0x00)" in out[goaway:goaway + 200], out
    assert '{"slept_ms": 1000}' in out or "slept_ms" in out, out
    assert out.find("recv DATA", goaway) > goaway, out  # the answer came after the GOAWAY
    assert r.wait(15) == 0



def test_reload_sends_two_step_goaway_and_finishes_streams_in_flight(pki, model, start_router):
    """A reload (here POST /-/reload) asks HTTP/2 clients to reconnect, so a long-lived
    connection picks up a renewed certificate (README "HTTP/2 and gRPC"): first a shutdown
    notice, GOAWAY(NO_ERROR, last stream 2^31-1), then about 1 s later the real GOAWAY with the
    last stream processed; the stream in flight is answered after both."""
    r = start_router(settings_for(pki, [model.address]))
    p = subprocess.Popen(["nghttp", "-v", "--no-verify-peer", "-H", f"authorization: Bearer {KEY}",
                          r.url(SCORE + "/sleep?ms=2000")], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # the stream is at the model now (it sleeps 2 s)
    status, body = r.admin("/-/reload", method="POST")
    assert status == 200, body
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 0, out
    first = out.find("recv GOAWAY")
    second = out.find("recv GOAWAY", first + 1)
    assert first >= 0 and second > first, out
    assert "last_stream_id=2147483647, error_code=NO_ERROR(0x00)" in out[first:first + 250], out
    sid = re.search(r"send HEADERS frame <[^>]*stream_id=(\d+)>", out).group(1)  # nghttp skips a few ids
    assert f"last_stream_id={sid}, error_code=NO_ERROR(0x00)" in out[second:second + 250], out
    stamps = [float(m) for m in re.findall(r"\[\s*([\d.]+)\] recv GOAWAY", out)]
    assert 0.8 <= stamps[1] - stamps[0] <= 2.5, stamps  # the notice leaves a round trip and more
    assert out.find("recv DATA", second) > second, out  # the answer came after both
    assert "slept_ms" in out, out
    assert r.proc.poll() is None
    # new connections are served by the new generation
    resp = h2_attack.normal_request("127.0.0.1", r.port, SCORE + "/score", method="POST",
                                    body=b'{"data": [[1]]}', headers=AUTH, tls=str(pki / "ca.pem"),
                                    server_hostname="localhost", authority=f"localhost:{r.port}")
    assert resp.status == 200, resp


def test_request_crossing_the_reload_notice_is_served(pki, model, start_router):
    """The race the two steps exist for: a connection opened just before a reload sends its
    first request while the router's shutdown notice is on the wire. The notice's last stream id
    (2^31-1) covers it, so it is served (a one-step GOAWAY with last stream 0 made curl fail such
    a request with error 16), and the real GOAWAY that follows names it as processed."""
    r = start_router(settings_for(pki, [model.address]))
    c = h2_attack.RawConnection("127.0.0.1", r.port, tls=str(pki / "ca.pem"), server_hostname="localhost",
                                authority=f"localhost:{r.port}", timeout=10)
    c.wait_until(lambda: c.result.settings_acks > 0 or c.result.received.get("SETTINGS", 0) > 0, quiet=1)
    status, body = r.admin("/-/reload", method="POST")
    assert status == 200, body
    c.wait_until(lambda: c.result.goaway, quiet=2)
    assert c.result.goaway and c.result.goaway_last_stream == 2**31 - 1, c.result.summary()
    sid = c.stream_id()  # sent after the notice arrived: the server cannot tell it from one crossing it
    c.send(HeadersFrame(sid, c.request_block(SCORE + "/health", "GET", AUTH),
                        flags=["END_HEADERS", "END_STREAM"]).serialize())
    c.wait_until(lambda: sid in c.result.responses and c.result.goaway_last_stream == sid, quiet=3)
    assert c.result.responses.get(sid) == 200, c.result.summary()
    assert c.result.goaway_last_stream == sid and c.result.goaway_error_name == "NO_ERROR", c.result.summary()
    c.close()
