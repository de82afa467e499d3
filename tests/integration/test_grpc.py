"""gRPC and HTTP/2 models through scoregate (README "HTTP/2 and gRPC"): a real grpcio client over
TLS (ALPN h2) to scoregate, scoregate to a real gRPC model server over h2c (grpc_model.py), and
REST models that speak only HTTP/2 (h2c_model.py). Unary, server-, client- and bidirectional
streaming calls; the router's refusals as gRPC statuses; grpc-timeout; a model that dies mid-
stream; translation HTTP/1.1 <-> HTTP/2 in both directions."""
import json
import queue
import subprocess
import time

import grpc
import pytest

import oip_v2 as oip
from conftest import KEY, closed_port, curl, settings_for, start_peer, wait_until

AUTH = (("authorization", f"Bearer {KEY}"),)


def md(pairs):
    return {k: v for k, v in pairs}


@pytest.fixture
def grpc_model():
    peer = start_peer("grpc_model.py")
    yield peer
    peer.stop()


@pytest.fixture
def h2_model():
    peer = start_peer("h2c_model.py", "--max-streams", "100")
    yield peer
    peer.stop()


def grpc_settings(pki, targets, protocol="h2c", **request_settings):
    rs = {"max_concurrent_requests_per_instance": 16, "request_timeout_ms": 10000}
    rs.update(request_settings)
    s = settings_for(pki, targets, request_settings=rs)
    s["endpoints"][0]["deployments"][0]["protocol"] = protocol
    return s


def channel_to(router, pki):
    creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
    return grpc.secure_channel(f"localhost:{router.port}", creds)


def test_unary_call_through_the_router(pki, grpc_model, start_router):
    r = start_router(grpc_settings(pki, [grpc_model.address]))
    with channel_to(r, pki) as ch:
        req = oip.infer_request("fraud", [[1, 2, 3], [4, 5, 6.5]], id="u1")
        resp, call = oip.stub(ch, "ModelInfer").with_call(req, metadata=AUTH, timeout=10)
    assert (resp.model_name, resp.id, oip.output_values(resp)) == ("fraud", "u1", [6.0, 15.5])
    initial, trailing = md(call.initial_metadata()), md(call.trailing_metadata())
    assert trailing["x-model-trailer"] == "ok"  # the model's trailers pass through
    assert initial["x-seen-authorization"] == "absent"  # the key stays in the router
    assert initial["x-seen-x-forwarded-for"] == "127.0.0.1"
    assert initial["azureml-model-deployment"] == "blue" and initial["x-request-id"]
    wait_until(lambda: r.access_log())  # stdout is read by a thread
    entry = r.access_log()[-1]
    assert (entry["protocol"], entry["status"], entry["grpc_status"]) == ("grpc", 200, 0)
    assert entry["path"] == "/inference.GRPCInferenceService/ModelInfer"


def test_streaming_calls_stream_without_buffering(pki, grpc_model, start_router):
    r = start_router(grpc_settings(pki, [grpc_model.address]))
    with channel_to(r, pki) as ch:
        # server streaming: each reply arrives when the model sends it
        arrivals = []
        t0 = time.monotonic()
        for reply in oip.stub(ch, "Count")(oip.CountRequest(n=5, gap_ms=200), metadata=AUTH, timeout=10):
            arrivals.append((reply.index, time.monotonic() - t0))
        assert [i for i, _ in arrivals] == [0, 1, 2, 3, 4]
        assert arrivals[-1][1] - arrivals[0][1] > 0.6  # spread out, not delivered at the end
        # client streaming
        sizes = [1, 1000, 70000, 0, 5]
        resp = oip.stub(ch, "Collect")(iter(oip.Chunk(data=b"z" * n) for n in sizes), metadata=AUTH, timeout=10)
        assert (resp.total_bytes, resp.messages) == (sum(sizes), len(sizes))
        # bidi: the next request goes out only after the previous answer came back
        q = queue.Queue()

        def requests():
            while (item := q.get()) is not None:
                yield item
        responses = oip.stub(ch, "ModelStreamInfer")(requests(), metadata=AUTH, timeout=10)
        for i in range(3):
            q.put(oip.infer_request("fraud", [[i, i, 1]], id=f"s{i}"))
            got = next(responses)
            assert (got.infer_response.id, oip.output_values(got.infer_response)) == (f"s{i}", [2.0 * i + 1])
        q.put(None)
        assert list(responses) == []
        assert md(responses.trailing_metadata())["x-model-trailer"] == "ok"


def test_model_statuses_pass_through_unchanged(pki, grpc_model, start_router):
    r = start_router(grpc_settings(pki, [grpc_model.address]))
    with channel_to(r, pki) as ch:
        with pytest.raises(grpc.RpcError) as e:
            oip.stub(ch, "ModelInfer")(oip.infer_request("m", [[1]]),
                                        metadata=AUTH + (("x-fail", "PERMISSION_DENIED"),), timeout=10)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert e.value.details() == "x-fail asked for PERMISSION_DENIED"
    assert md(e.value.trailing_metadata())["x-model-trailer"] == "ok"


def test_router_refusals_are_grpc_statuses(pki, grpc_model, start_router):
    r = start_router(grpc_settings(pki, [grpc_model.address], max_concurrent_requests_per_instance=1,
                                   max_queue_wait_ms=0, request_timeout_ms=500))
    with channel_to(r, pki) as ch:
        infer = oip.stub(ch, "ModelInfer")
        req = oip.infer_request("m", [[1]])
        cases = [
            (infer, (("authorization", "Bearer wrong"),), grpc.StatusCode.UNAUTHENTICATED, "Unauthorized"),
            (infer, AUTH + (("azureml-endpoint", "nope"),), grpc.StatusCode.NOT_FOUND, "EndpointNotFound"),
            (infer, AUTH + (("azureml-model-deployment", "green"),), grpc.StatusCode.NOT_FOUND,
             "DeploymentNotFound"),
            (infer, AUTH + (("x-hold-ms", "3000"),), grpc.StatusCode.DEADLINE_EXCEEDED, "UpstreamTimeout"),
        ]
        for call, metadata, code, text in cases:
            with pytest.raises(grpc.RpcError) as e:
                call(req, metadata=metadata, timeout=10)
            assert e.value.code() == code, (text, e.value)
            assert text in e.value.details()
        # the only slot is taken by a slow call: the next one is RESOURCE_EXHAUSTED at once
        busy = infer.future(req, metadata=AUTH + (("x-sleep-ms", "400"),), timeout=10)
        wait_until(lambda: grpc_model_busy(r), timeout=5)
        with pytest.raises(grpc.RpcError) as e:
            infer(req, metadata=AUTH, timeout=10)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value
        assert "max_concurrent_requests_per_instance" in e.value.details()
        busy.result()
    wait_until(lambda: len(r.access_log()) >= 6)
    log = r.access_log()
    assert sorted({e["grpc_status"] for e in log}) == [0, 4, 5, 8, 16]


def grpc_model_busy(router):
    """The slow call holds the slot: /status shows one gRPC request in flight."""
    status, body = router.admin("/status")
    return json.loads(body)["requests_in_flight"]["grpc"] == 1


def test_no_ready_instance_is_unavailable(pki, start_router):
    r = start_router(grpc_settings(pki, [f"127.0.0.1:{closed_port()}"]))
    with channel_to(r, pki) as ch:
        with pytest.raises(grpc.RpcError) as e:
            oip.stub(ch, "ServerLive")(oip.ServerLiveRequest(), metadata=AUTH, timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "UpstreamConnectFailed" in e.value.details()


def test_grpc_timeout_caps_the_request_timeout(pki, grpc_model, start_router):
    r = start_router(grpc_settings(pki, [grpc_model.address], request_timeout_ms=20000))
    with channel_to(r, pki) as ch:
        _, call = oip.stub(ch, "ModelInfer").with_call(oip.infer_request("m", [[1]]), metadata=AUTH, timeout=3)
        assert 2000 < int(md(call.initial_metadata())["x-deadline-ms"]) <= 3100  # grpc-timeout passes on
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            oip.stub(ch, "ModelInfer")(oip.infer_request("m", [[1]]), metadata=AUTH + (("x-sleep-ms", "5000"),),
                                        timeout=1)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < 2.5
    wait_until(lambda: any(e.get("error") == "UpstreamTimeout" or e.get("status") == 499
                           for e in r.access_log()), timeout=3)


def test_model_that_dies_mid_stream_gives_unavailable_and_the_router_stays_up(pki, start_router):
    dying = start_peer("grpc_model.py")
    healthy = start_peer("grpc_model.py")
    try:
        r = start_router(grpc_settings(pki, [dying.address]))
        with channel_to(r, pki) as ch:
            got = []
            with pytest.raises(grpc.RpcError) as e:
                for reply in oip.stub(ch, "Count")(oip.CountRequest(n=10, gap_ms=20),
                                                  metadata=AUTH + (("x-die-after", "3"),), timeout=10):
                    got.append(reply.index)
            assert got == [0, 1, 2]
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value
        assert dying.proc.wait(5) == 3
        assert r.proc.poll() is None
        settings = grpc_settings(pki, [healthy.address])
        r.config.write_text(json.dumps(settings))
        status, body = r.admin("/-/reload", method="POST")
        assert status == 200, body
        with channel_to(r, pki) as ch:
            assert oip.stub(ch, "ServerLive")(oip.ServerLiveRequest(), metadata=AUTH, timeout=10).live
    finally:
        dying.stop()
        healthy.stop()


def test_http11_client_to_an_h2c_model_and_trailers(pki, h2_model, start_router):
    r = start_router(grpc_settings(pki, [h2_model.address]))
    status, body, headers, _ = curl(r, "/api/v1/endpoint/fraud/score", "--http1.1", pki=pki,
                                    data=b'{"data": [[1, 2, 3]]}')
    assert status == 200 and json.loads(body) == {"result": [6]}, body
    status, body, headers, _ = curl(r, "/api/v1/endpoint/fraud/headers", "--http1.1", pki=pki)
    seen = json.loads(body)
    assert seen["pseudo"][":path"] == "/headers" and seen["pseudo"][":scheme"] == "http"
    fields = dict(seen["headers"])
    assert "authorization" not in fields and fields["x-forwarded-proto"] == "https"
    # trailers reach an HTTP/1.1 client in the chunked body, an HTTP/2 client as trailers
    p = subprocess.run(["curl", "-sS", "--http1.1", "--raw", "--cacert", str(pki / "ca.pem"), "-H",
                        f"Authorization: Bearer {KEY}", r.url("/api/v1/endpoint/fraud/trailers")],
                       capture_output=True, timeout=20)
    assert b"x-trailer: yes" in p.stdout, p.stdout
    p = subprocess.run(["nghttp", "-v", "--no-verify-peer", "-H", f"authorization: Bearer {KEY}",
                        r.url("/api/v1/endpoint/fraud/trailers")], capture_output=True, text=True, timeout=20)
    assert "x-trailer: yes" in p.stdout, p.stdout


def test_many_requests_share_few_model_connections(pki, h2_model, start_router):
    r = start_router(grpc_settings(pki, [h2_model.address], max_concurrent_requests_per_instance=64))
    urls = [r.url(f"/api/v1/endpoint/fraud/sleep?ms=100&i={i}") for i in range(40)]
    p = subprocess.run(["nghttp", "-n", "--no-verify-peer", "-H", f"authorization: Bearer {KEY}", *urls],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    wait_until(lambda: len([e for e in r.access_log() if "/sleep" in e["path"]]) == 40)
    assert [e["status"] for e in r.access_log() if "/sleep" in e["path"]] == [200] * 40
    stats = json.loads(curl(r, "/api/v1/endpoint/fraud/stats", pki=pki)[1])
    assert stats["connections"] <= 2 * 2  # at most a couple per worker, not one per request
    assert stats["max_streams_per_connection"] > 1
