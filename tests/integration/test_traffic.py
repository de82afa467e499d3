"""Inference traffic management: slots, queueing, timeouts, health, discovery, mirroring (issue 5)."""
import concurrent.futures as cf
import http.client
import json
import ssl
import time

import pytest

from conftest import BIN, KEY, ModelServer, Router, can_unshare, closed_port, curl, settings_for, wait_until


def request(r, pki, path, method="GET", body=None, headers=None, timeout=15):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    conn = http.client.HTTPSConnection("localhost", r.port, context=ctx, timeout=timeout)
    h = {"Authorization": f"Bearer {KEY}"}
    h.update(headers or {})
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, time.monotonic() - t0, dict(resp.getheaders())
    finally:
        conn.close()


def parallel(n, fn):
    with cf.ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda i: fn(i), range(n)))


def rs(**kw):
    base = {"max_concurrent_requests_per_instance": 1, "max_queue_wait_ms": 500}
    base.update(kw)
    return base


def test_one_slot_is_never_exceeded_across_workers(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address],
                                  request_settings=rs(max_queue_wait_ms=20000, max_queue_length=50)), workers=2)
    results = parallel(8, lambda i: request(r, pki, "/api/v1/endpoint/fraud/work?ms=150"))
    assert [s for s, *_ in results] == [200] * 8
    stats = model.get("/stats")
    assert stats["max_concurrent"] == 1, stats  # the model never saw two at once


def test_queue_wait_then_success(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], request_settings=rs(max_queue_wait_ms=3000)))
    results = parallel(2, lambda i: request(r, pki, "/api/v1/endpoint/fraud/work?ms=400"))
    assert [s for s, *_ in results] == [200, 200]
    assert max(t for _, _, t, _ in results) >= 0.75  # the second waited for the first


def test_queue_wait_exceeded_is_429_after_max_queue_wait(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address], request_settings=rs(max_queue_wait_ms=300)))
    results = parallel(2, lambda i: (time.sleep(0.1 * i), request(r, pki, "/api/v1/endpoint/fraud/work?ms=2000"))[1])
    statuses = sorted(s for s, *_ in results)
    assert statuses == [200, 429], statuses
    rejected = next(x for x in results if x[0] == 429)
    assert json.loads(rejected[1])["error"]["code"] == "TooManyRequests"
    assert 0.25 <= rejected[2] < 1.2, rejected[2]  # about max_queue_wait_ms


def test_full_queue_is_429_at_once(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address],
                                  request_settings=rs(max_queue_wait_ms=5000, max_queue_length=1)))
    results = parallel(3, lambda i: (time.sleep(0.15 * i), request(r, pki, "/api/v1/endpoint/fraud/work?ms=1000"))[1])
    rejected = [x for x in results if x[0] == 429]
    assert len(rejected) == 1 and rejected[0][2] < 0.3, [(s, t) for s, _, t, _ in results]
    _, metrics = r.admin("/metrics")
    assert 'reason="queue_full"} 1' in metrics


def test_timeout_is_504_and_the_model_connection_is_not_reused(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address],
                                  request_settings=rs(request_timeout_ms=300, max_concurrent_requests_per_instance=4)),
                     workers=1)
    status, body, took, _ = request(r, pki, "/api/v1/endpoint/fraud/sleep?ms=2000")
    assert status == 504 and 0.25 < took < 1.5
    # the slot is free again and the next request is not stuck behind the sleeping connection
    status, _, took, _ = request(r, pki, "/api/v1/endpoint/fraud/headers")
    assert status == 200 and took < 1.0
    _, metrics = r.admin("/metrics")
    assert "scoregate_upstream_timeouts_total 1" in metrics


def probe_settings(pki, targets, **probe):
    p = {"path": "/health", "period_ms": 100, "timeout_ms": 500, "initial_delay": 0,
         "success_threshold": 1, "failure_threshold": 1}
    p.update(probe)
    s = settings_for(pki, targets, request_settings=rs(max_concurrent_requests_per_instance=10))
    s["endpoints"][0]["deployments"][0]["readiness_probe"] = p
    return s


def test_readiness_flip_removes_and_readds_a_target(pki, start_router):
    a, b = ModelServer(), ModelServer()
    try:
        r = start_router(probe_settings(pki, [a.address, b.address]))
        def ports(n):
            seen = set()
            for _ in range(n):
                status, body, _, _ = request(r, pki, "/api/v1/endpoint/fraud/work?ms=1")
                seen.add(json.loads(body)["port"] if status == 200 else status)
            return seen
        assert wait_until(lambda: ports(10) == {a.port, b.port})
        a.get("/control/ready?value=0")
        assert wait_until(lambda: ports(10) == {b.port}), "not-ready target still got traffic"
        a.get("/control/ready?value=1")
        assert wait_until(lambda: ports(10) == {a.port, b.port}), "target not re-added"
    finally:
        a.stop()
        b.stop()


def test_all_targets_not_ready_is_503(pki, model, start_router):
    r = start_router(probe_settings(pki, [model.address]))
    assert wait_until(lambda: request(r, pki, "/api/v1/endpoint/fraud/health")[0] == 200)
    model.get("/control/ready?value=0")
    assert wait_until(lambda: request(r, pki, "/api/v1/endpoint/fraud/score")[0] == 503)
    status, body, _, _ = request(r, pki, "/api/v1/endpoint/fraud/score")
    assert json.loads(body)["error"]["code"] == "NoReadyInstance"


def test_connect_refused_target_is_skipped(pki, model, start_router):
    r = start_router(settings_for(pki, [f"127.0.0.1:{closed_port()}", model.address],
                                  request_settings=rs(max_concurrent_requests_per_instance=10)))
    statuses = [request(r, pki, "/api/v1/endpoint/fraud/headers")[0] for _ in range(12)]
    assert statuses == [200] * 12


def test_reset_mid_answer_is_never_a_complete_answer(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    status, body, hdrs, rc = curl(r, "/api/v1/endpoint/fraud/reset", pki=pki)
    assert rc != 0 and len(body) < 100000  # curl saw a cut transfer, not a complete 200
    # before any byte of an answer: a clean 502
    status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/close", pki=pki)
    assert status == 502 and json.loads(body)["error"]["code"] == "UpstreamReset"


def test_mirror_gets_copies_and_its_failure_is_invisible(pki, start_router):
    live, shadow = ModelServer(), ModelServer()
    try:
        ep = {"name": "fraud", "keys": {"primary": KEY}, "traffic": {"blue": 100, "green": 0},
              "mirror_traffic": {"green": 50},
              "deployments": [{"name": "blue", "targets": [live.address],
                               "request_settings": rs(max_concurrent_requests_per_instance=10)},
                              {"name": "green", "targets": [shadow.address],
                               "request_settings": rs(max_concurrent_requests_per_instance=10)}]}
        r = start_router(settings_for(pki, [], endpoints=[ep]))
        for _ in range(60):
            s, body, _, hdrs = request(r, pki, "/api/v1/endpoint/fraud/score", "POST", b'{"data": [[2, 3]]}')
            assert s == 200 and body == b'{"result": [5.0]}' and hdrs["azureml-model-deployment"] == "blue"
        assert wait_until(lambda: shadow.get("/stats")["requests"] >= 15)
        copies = shadow.get("/stats")["requests"]
        assert 15 <= copies <= 45, copies
        shadow.stop()  # the mirror now refuses connections: clients must not notice
        for _ in range(20):
            s, body, _, _ = request(r, pki, "/api/v1/endpoint/fraud/score", "POST", b'{"data": [[2, 3]]}')
            assert s == 200 and body == b'{"result": [5.0]}'
        _, metrics = r.admin("/metrics")
        assert 'deployment="green",result="failed"}' in metrics
    finally:
        live.stop()


@pytest.mark.skipif(not can_unshare(), reason="needs root and mount namespaces (unshare -m) to give "
                    "scoregate its own /etc/hosts")
def test_dns_target_set_follows_the_resolver(pki, tmp_path):
    one = ModelServer("127.0.0.2")
    two = ModelServer("127.0.0.3", one.port)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.2 model.test\n")
    s = settings_for(pki, [f"dns:model.test:{one.port}"],
                     request_settings=rs(max_concurrent_requests_per_instance=10), router={"dns_refresh_ms": 100})
    # scoregate runs in a private mount namespace where this file is /etc/hosts
    wrapper = tmp_path / "in-ns.sh"
    wrapper.write_text(f'#!/bin/sh\nmount --bind {hosts} /etc/hosts && exec "$@"\n')
    wrapper.chmod(0o755)
    r = Router(tmp_path, s, prefix=["unshare", "-m", str(wrapper)])
    try:
        hosts_seen = lambda n: {json.loads(request(r, pki, "/api/v1/endpoint/fraud/work?ms=1")[1])["host"]
                                for _ in range(n)}
        assert hosts_seen(6) == {"127.0.0.2"}
        with open(hosts, "r+") as f:  # same inode: the bind mount sees the change
            f.write("127.0.0.1 localhost\n127.0.0.2 model.test\n127.0.0.3 model.test\n")
        assert wait_until(lambda: hosts_seen(10) == {"127.0.0.2", "127.0.0.3"}), "new address not added"
        with open(hosts, "r+") as f:
            f.truncate(0)
            f.write("127.0.0.1 localhost\n127.0.0.3 model.test\n")
        assert wait_until(lambda: hosts_seen(10) == {"127.0.0.3"}), "removed address still used"
        assert "discovered" in r.stderr()
    finally:
        r.stop()
        one.stop()
        two.stop()
