"""The HTTP/2 and gRPC test peers on their own, without scoregate: grpc_model.py (a gRPC model),
h2c_model.py (an HTTP/2 REST model) and h2_attack.py (frame-level attack clients). The router's
HTTP/2 tests rely on them, so each behaviour they promise is checked here with real clients
(grpcio, curl, nghttp). The attacks run against h2c_model.py only to prove the frames go out
and the result object is filled: a Python h2 server reacts differently from scoregate."""
import shutil
import subprocess

import pytest
from hyperframe.frame import HeadersFrame

from conftest import start_peer, wait_until

try:
    import grpc
except ImportError as e:  # a collection error, never a silent skip
    raise ImportError("test_h2_fixtures needs grpcio: apt-get install python3-grpcio") from e
try:
    import h2  # noqa: F401  (only to fail early with the package's name)
    import hpack  # noqa: F401
    import hyperframe  # noqa: F401
except ImportError as e:
    raise ImportError("test_h2_fixtures needs h2: apt-get install python3-h2") from e

import h2_attack  # noqa: E402
import oip_v2 as oip  # noqa: E402


def tool(name, package):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: apt-get install {package}")
    return path


def md(metadata):
    return {k: v for k, v in (metadata or ())}


@pytest.fixture(scope="module")
def grpc_peer():
    p = start_peer("grpc_model.py", "--name", "fraud-grpc")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def channel(grpc_peer):
    with grpc.insecure_channel(grpc_peer.address) as ch:
        yield ch


@pytest.fixture(scope="module")
def h2_peer():
    p = start_peer("h2c_model.py")
    yield p
    p.stop()


def stats(peer, tls=None):
    import json
    r = h2_attack.normal_request("127.0.0.1", peer.port, "/stats", tls=tls)
    assert r.status == 200, r
    return json.loads(r.body)


def reset_stats(peer):
    assert h2_attack.normal_request("127.0.0.1", peer.port, "/control/reset-stats", method="POST").status == 200


# -- grpc_model.py ---------------------------------------------------------------------------------

def test_grpc_unary_infer_computes_echoes_and_reports(channel, grpc_peer):
    sent = [("x-forwarded-for", "203.0.113.9"), ("x-request-id", "req-42"),
            ("authorization", "Bearer secret-grpc-key"), ("azureml-endpoint", "fraud")]
    for raw in (False, True):
        req = oip.infer_request("fraud", [[1, 2, 3], [4, 5, 6.5]], id=f"id-{raw}", raw=raw)
        resp, call = oip.stub(channel, "ModelInfer").with_call(req, metadata=sent, timeout=5)
        assert (resp.model_name, resp.id) == ("fraud", f"id-{raw}")
        assert oip.output_values(resp) == [6.0, 15.5]
        assert list(resp.outputs[0].shape) == [2, 1]
        initial, trailing = md(call.initial_metadata()), md(call.trailing_metadata())
        assert trailing["x-model-trailer"] == "ok"
        assert initial["x-seen-x-forwarded-for"] == "203.0.113.9"
        assert initial["x-seen-x-request-id"] == "req-42"
        assert initial["x-seen-azureml-endpoint"] == "fraud"
        assert initial["x-seen-authorization"] == "present"
        assert "secret-grpc-key" not in repr(call.initial_metadata()) + repr(call.trailing_metadata())
        assert initial["x-model-name"] == "fraud-grpc" and initial["x-model-port"] == str(grpc_peer.port)
        # grpc encodes grpc-timeout with few digits, rounding up: 5 s may arrive as a bit more.
        assert 4000 < int(initial["x-deadline-ms"]) <= 5100
    _, call = oip.stub(channel, "ModelInfer").with_call(oip.infer_request("m", [[1]]))
    initial = md(call.initial_metadata())
    assert initial["x-deadline-ms"] == "none" and initial["x-seen-authorization"] == "absent"
    assert "x-seen-x-forwarded-for" not in initial


def test_grpc_health_and_metadata_methods(channel):
    assert oip.stub(channel, "ServerLive")(oip.ServerLiveRequest(), timeout=5).live
    assert oip.stub(channel, "ServerReady")(oip.ServerReadyRequest(), timeout=5).ready
    assert oip.stub(channel, "ModelReady")(oip.ModelReadyRequest(name="fraud"), timeout=5).ready
    meta = oip.stub(channel, "ModelMetadata")(oip.ModelMetadataRequest(name="fraud"), timeout=5)
    assert meta.name == "fraud" and [t.name for t in meta.inputs] == ["input-0"]


def test_grpc_server_streaming_count(channel):
    replies = oip.stub(channel, "Count")(oip.CountRequest(n=5, gap_ms=20, payload_bytes=100), timeout=10)
    got = [(r.index, len(r.payload)) for r in replies]
    assert got == [(i, 100) for i in range(5)]
    assert md(replies.trailing_metadata())["x-model-trailer"] == "ok"
    assert replies.code() == grpc.StatusCode.OK


def test_grpc_client_streaming_collect(channel):
    sizes = [1, 1000, 70000, 0, 5]
    resp, call = oip.stub(channel, "Collect").with_call(iter(oip.Chunk(data=b"z" * n) for n in sizes), timeout=10)
    assert (resp.total_bytes, resp.messages) == (sum(sizes), len(sizes))
    assert md(call.trailing_metadata())["x-model-trailer"] == "ok"


def test_grpc_bidi_stream_infer_answers_each_request_before_the_next(channel):
    import queue
    q = queue.Queue()

    def requests():
        while True:
            item = q.get()
            if item is None:
                return
            yield item

    responses = oip.stub(channel, "ModelStreamInfer")(requests(), timeout=10)
    for i in range(3):  # the next request is only sent once the previous answer arrived
        q.put(oip.infer_request("fraud", [[i, i, 1]], id=f"s{i}"))
        r = next(responses)
        assert (r.infer_response.id, oip.output_values(r.infer_response)) == (f"s{i}", [2.0 * i + 1])
    q.put(None)
    assert list(responses) == []
    assert md(responses.trailing_metadata())["x-model-trailer"] == "ok"


@pytest.mark.parametrize("code", ["NOT_FOUND", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "PERMISSION_DENIED"])
def test_grpc_x_fail_returns_that_status(channel, code):
    with pytest.raises(grpc.RpcError) as e:
        oip.stub(channel, "ModelInfer")(oip.infer_request("m", [[1]]), metadata=[("x-fail", code)], timeout=5)
    assert e.value.code() == getattr(grpc.StatusCode, code)
    assert e.value.details() == f"x-fail asked for {code}"
    assert md(e.value.trailing_metadata())["x-model-trailer"] == "ok"


def test_grpc_x_sleep_ms_outlasts_a_short_deadline(channel):
    with pytest.raises(grpc.RpcError) as e:
        oip.stub(channel, "ModelInfer")(oip.infer_request("m", [[1]]), metadata=[("x-sleep-ms", "2000")], timeout=0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    resp = oip.stub(channel, "ModelInfer")(oip.infer_request("m", [[2]]), metadata=[("x-sleep-ms", "50")], timeout=5)
    assert oip.output_values(resp) == [2.0]


@pytest.mark.parametrize("method", ["Count", "ModelStreamInfer", "Collect", "ModelInfer"])
def test_grpc_x_die_after_kills_the_process_mid_stream(method):
    peer = start_peer("grpc_model.py")
    try:
        with grpc.insecure_channel(peer.address) as ch:
            call = oip.stub(ch, method)
            die = [("x-die-after", "3")]
            got = []
            with pytest.raises(grpc.RpcError) as e:
                if method == "Count":
                    for r in call(oip.CountRequest(n=10, gap_ms=10), metadata=die, timeout=10):
                        got.append(r.index)
                elif method == "ModelStreamInfer":
                    reqs = (oip.infer_request("m", [[i]], id=str(i)) for i in range(10))
                    for r in call(reqs, metadata=die, timeout=10):
                        got.append(int(r.infer_response.id))
                elif method == "Collect":
                    call(iter(oip.Chunk(data=b"x") for _ in range(10)), metadata=die, timeout=10)
                else:
                    call(oip.infer_request("m", [[1]]), metadata=die, timeout=10)
            assert e.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL), e.value
            if method in ("Count", "ModelStreamInfer"):
                assert got == [0, 1, 2]
        assert peer.proc.wait(5) == 3  # the whole process is gone, not just the stream
    finally:
        peer.stop()


def test_grpc_by_hand_over_raw_http2(grpc_peer):
    """What a router sees: a POST with a length-prefixed message, grpc-status in trailers."""
    body = oip.grpc_frame(oip.infer_request("fraud", [[1, 2], [3, 4]], id="raw"))
    r = h2_attack.normal_request("127.0.0.1", grpc_peer.port, oip.path("ModelInfer"), method="POST", body=body,
                                 headers=oip.GRPC_HEADERS)
    assert r.status == 200 and dict(r.headers)["content-type"] == "application/grpc", r
    [resp] = oip.grpc_unframe(r.body, oip.ModelInferResponse)
    assert (resp.id, oip.output_values(resp)) == ("raw", [3.0, 7.0])
    assert dict(r.trailers)["grpc-status"] == "0" and dict(r.trailers)["x-model-trailer"] == "ok", r.trailers
    r = h2_attack.normal_request("127.0.0.1", grpc_peer.port, oip.path("ModelInfer"), method="POST", body=body,
                                 headers=(*oip.GRPC_HEADERS, ("x-fail", "UNAUTHENTICATED")))
    assert dict(r.trailers)["grpc-status"] == str(grpc.StatusCode.UNAUTHENTICATED.value[0]), r


def test_grpc_model_serves_tls(pki):
    peer = start_peer("grpc_model.py", "--tls-cert", pki / "ecdsa.fullchain.pem", "--tls-key", pki / "ecdsa.key")
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
        with grpc.secure_channel(f"localhost:{peer.port}", creds) as ch:
            assert oip.stub(ch, "ServerLive")(oip.ServerLiveRequest(), timeout=5).live
        with grpc.insecure_channel(peer.address) as ch:  # plaintext is refused on a TLS port
            with pytest.raises(grpc.RpcError):
                oip.stub(ch, "ServerLive")(oip.ServerLiveRequest(), timeout=2)
    finally:
        peer.stop()


# -- h2c_model.py ----------------------------------------------------------------------------------

def curl_h2(peer, path, *args):
    tool("curl", "curl")
    p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", "-w", "\n%{http_version} %{http_code}",
                        *args, f"http://127.0.0.1:{peer.port}{path}"], capture_output=True, text=True, timeout=20)
    body, _, tail = p.stdout.rpartition("\n")
    return p.returncode, body, tail, p.stderr


def test_h2c_model_answers_curl_prior_knowledge(h2_peer):
    import json
    rc, body, tail, err = curl_h2(h2_peer, "/score", "-d", '{"data": [[1, 2], [3, 4.5]]}')
    assert (rc, tail) == (0, "2 200"), err
    assert json.loads(body) == {"result": [3.0, 7.5]}
    rc, body, tail, _ = curl_h2(h2_peer, "/headers?q=1", "-X", "PUT", "-H", "X-Probe: one", "-d", "abc")
    seen = json.loads(body)
    assert seen["pseudo"] == {":method": "PUT", ":path": "/headers?q=1", ":scheme": "http",
                              ":authority": f"127.0.0.1:{h2_peer.port}"}
    assert ["x-probe", "one"] in seen["headers"] and seen["body_len"] == 3
    rc, body, tail, _ = curl_h2(h2_peer, "/status?code=503", "-D", "/dev/stderr")
    assert tail == "2 503"
    rc, body, tail, _ = curl_h2(h2_peer, "/echo", "--data-binary", "echo me")
    assert body == "echo me"


def test_h2c_model_multiplexes_many_streams_on_one_connection(h2_peer):
    tool("nghttp", "nghttp2-client")
    reset_stats(h2_peer)
    p = subprocess.run(["nghttp", "-m", "20", f"http://127.0.0.1:{h2_peer.port}/sleep?ms=300"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    s = stats(h2_peer)
    assert s["work_connections"] == 1 and s["requests"] == 20, s
    assert s["max_streams_per_connection"] > 1 and s["max_concurrent_streams"] > 1, s


def test_h2c_model_sends_trailers_after_the_body(h2_peer):
    tool("nghttp", "nghttp2-client")
    out = subprocess.run(["nghttp", "-v", f"http://127.0.0.1:{h2_peer.port}/trailers"],
                         capture_output=True, text=True, timeout=20).stdout
    data_at = out.index("recv DATA frame")
    trailer_at = out.index("x-trailer: yes", data_at)  # after the DATA, in a HEADERS with END_STREAM
    assert "END_STREAM | END_HEADERS" in out[trailer_at:]
    r = h2_attack.normal_request("127.0.0.1", h2_peer.port, "/trailers")
    assert (r.status, r.body, r.trailers, r.ended) == (200, b"trailers follow\n", [("x-trailer", "yes")], True)


def test_h2c_model_resets_after_the_head_and_streams_frames(h2_peer):
    rc, _, _, err = curl_h2(h2_peer, "/reset")
    assert rc == 92 and "INTERNAL_ERROR" in err, err  # curl: HTTP/2 stream was not closed cleanly
    r = h2_attack.normal_request("127.0.0.1", h2_peer.port, "/reset?bytes=10&code=8")
    assert (r.status, r.body, r.reset, r.ended) == (200, b"x" * 10, 8, False)
    r = h2_attack.normal_request("127.0.0.1", h2_peer.port, "/stream?n=4&gap_ms=50")
    assert r.status == 200 and r.data_frames == 4 and r.ended
    assert [line.split(" at ")[0] for line in r.body.decode().split("\n\n") if line] == \
           [f"data: event {i}" for i in range(4)]


def test_h2c_model_max_streams_flag_and_goaway():
    tool("nghttp", "nghttp2-client")
    peer = start_peer("h2c_model.py", "--max-streams", "3")
    try:
        url = f"http://127.0.0.1:{peer.port}"
        out = subprocess.run(["nghttp", "-v", url + "/health"], capture_output=True, text=True, timeout=20).stdout
        assert "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):3" in out
        # nghttp may send its 12 HEADERS before our SETTINGS arrive: streams beyond 3 are then
        # refused (RST_STREAM REFUSED_STREAM, and nghttp does not retry), the connection lives.
        reset_stats(peer)
        p = subprocess.run(["nghttp", "-m", "12", url + "/sleep?ms=100"], capture_output=True, text=True, timeout=30)
        s = stats(peer)
        assert p.stdout.count('"slept_ms": 100') == s["requests"] >= 3, (p.stdout, s)
        assert s["requests"] + s["refused_streams"] == 12, s
        assert s["work_connections"] == 1 and s["max_streams_per_connection"] == 3, s
        # Deterministic: 5 streams opened at once, the 4th and 5th are refused.
        c = h2_attack.RawConnection("127.0.0.1", peer.port)
        for _ in range(5):
            c.send(HeadersFrame(c.stream_id(), c.request_block("/sleep?ms=300"),
                                flags=["END_HEADERS", "END_STREAM"]).serialize())
        c.wait_until(lambda: len(c.result.responses) + len(c.result.resets) >= 5)
        r = c.close()
        assert (r.responses, r.resets) == ({1: 200, 3: 200, 5: 200}, {7: 7, 9: 7}), r.summary()
        out = subprocess.run(["nghttp", "-v", url + "/goaway"], capture_output=True, text=True, timeout=20).stdout
        goaway_at = out.index("recv GOAWAY frame")  # before the body: the stream in flight finishes
        assert "NO_ERROR" in out[goaway_at:goaway_at + 200] and out.index('{"goaway": true}') > goaway_at, out
    finally:
        peer.stop()


def test_h2_model_over_tls_with_alpn(pki):
    peer = start_peer("h2c_model.py", "--tls-cert", pki / "ecdsa.fullchain.pem", "--tls-key", pki / "ecdsa.key")
    try:
        p = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(pki / "ca.pem"), "-w", " %{http_version}",
                            f"https://localhost:{peer.port}/health"], capture_output=True, text=True, timeout=20)
        assert p.stdout == "ok 2", p.stderr
        r = h2_attack.normal_request("localhost", peer.port, "/score", method="POST", body=b'{"data": [[2, 2]]}',
                                     tls=str(pki / "ca.pem"))
        assert (r.status, r.body) == (200, b'{"result": [4.0]}')
        res = h2_attack.rapid_reset("localhost", peer.port, n=20, rounds=2, path="/health",
                                    tls=str(pki / "ca.pem"), drain=0.3)
        assert res.detail["streams_opened"] == 40 and res.settings_acks >= 1, res.summary()
    finally:
        peer.stop()


# -- h2_attack.py against h2c_model.py -------------------------------------------------------------

def still_serves(peer):
    r = h2_attack.normal_request("127.0.0.1", peer.port, "/health")
    assert (r.status, r.body) == (200, b"ok")


def test_attack_rapid_reset_sends_and_reports(h2_peer):
    reset_stats(h2_peer)
    r = h2_attack.rapid_reset("127.0.0.1", h2_peer.port, n=50, rounds=4, path="/sleep?ms=10", drain=0.3)
    assert r.detail == {"streams_opened": 200, "rounds_sent": 4}, r.summary()
    assert r.frames_sent >= 1 + 400 and r.settings_acks == 1 and r.elapsed > 0, r.summary()
    assert not r.goaway and not r.closed, r.summary()
    # The server did see every RST_STREAM: it may still be reading them when the client is done
    # (a loaded machine), so its count is read until it gets there.
    seen = []
    assert wait_until(lambda: seen.append(stats(h2_peer)["resets_received"]) or seen[-1] >= 200,
                      timeout=15), seen[-1]
    still_serves(h2_peer)


def test_attack_continuation_flood_sends_and_reports(h2_peer):
    r = h2_attack.continuation_flood("127.0.0.1", h2_peer.port, frames=500, frame_size=2048)
    assert r.detail["continuations_sent"] > 64, r.summary()
    # h2 (the library) refuses more than 64 CONTINUATION frames with GOAWAY(PROTOCOL_ERROR).
    assert (r.goaway, r.goaway_error_name, r.closed) == (True, "PROTOCOL_ERROR", True), r.summary()
    still_serves(h2_peer)


def test_attack_big_header_list_sends_and_reports(h2_peer):
    r = h2_attack.big_header_list("127.0.0.1", h2_peer.port, size=1 << 20)
    assert r.detail["header_block_bytes"] >= 1 << 20 and r.detail["frames"] >= 64, r.summary()
    assert r.goaway or r.resets or r.responses, r.summary()
    still_serves(h2_peer)


def test_attack_settings_and_ping_floods_are_counted(h2_peer):
    r = h2_attack.settings_flood("127.0.0.1", h2_peer.port, n=2000)
    assert r.detail["settings_frames_sent"] == 2000 and r.send_error is None, r.summary()
    assert r.settings_acks == 2001, r.summary()  # our preface SETTINGS + 2000; h2 answers them all
    r = h2_attack.ping_flood("127.0.0.1", h2_peer.port, n=2000)
    assert (r.detail["pings_sent"], r.ping_acks, r.goaway) == (2000, 2000, False), r.summary()
    still_serves(h2_peer)


def test_attack_zero_window_holds_the_response(h2_peer):
    r = h2_attack.zero_window("127.0.0.1", h2_peer.port, path="/big?bytes=200000", hold=1.0)
    # The head needs no window; not one DATA byte may come; h2c_model waits as long as we hold.
    assert r.responses == {1: 200} and r.data_bytes == 0, r.summary()
    assert r.timed_out and not r.resets and not r.closed and r.elapsed >= 1.0, r.summary()
    still_serves(h2_peer)
