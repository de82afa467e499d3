"""Reloads are all or nothing (ARCHITECTURE.md "Threads, snapshots and reloads"; README
"Admin listener", POST /-/reload): a refused reload leaves every live setting as it was, including the admission
gates' slots, which are state shared across generations."""
import json
import threading
import time

from conftest import curl, settings_for

SLOW_MS = 2500


def deployment_status(r):
    status = json.loads(r.admin("/status")[1])
    d = status["endpoints"][0]["deployments"][0]
    return status, d["queue_length"], sum(t["in_flight"] for t in d["targets"])


def two_slow_requests_seen_by_status(r, pki):
    """Starts two slow requests at once and returns (queue_length, in_flight) from /status
    once both have reached the gate (one holds a slot; the other holds one or waits)."""
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        curl(r, f"/api/v1/endpoint/fraud/sleep?ms={SLOW_MS}", pki=pki)[0])) for _ in range(2)]
    for t in threads:
        t.start()
    seen = (0, 0)
    deadline = time.monotonic() + SLOW_MS / 1000 - 0.3
    while time.monotonic() < deadline:
        _, queued, in_flight = deployment_status(r)
        seen = (queued, in_flight)
        if queued + in_flight == 2:
            break
        time.sleep(0.02)
    for t in threads:
        t.join()
    assert results == [200, 200], results  # the queued one got the slot when the first ended
    return seen


def test_reload_refused_for_restart_required_setting_changes_nothing(pki, model, start_router):
    slots = {"max_concurrent_requests_per_instance": 1, "max_queue_wait_ms": 10000,
             "request_timeout_ms": 10000}
    s = settings_for(pki, [model.address], request_settings=slots)
    r = start_router(s)
    assert two_slow_requests_seen_by_status(r, pki) == (1, 1)

    # allowInsecureConnections needs a restart: the whole reload is refused, so the deployment
    # keeps its one slot per target although the new file asks for four.
    refused = settings_for(pki, [model.address], insecure=True,
                           request_settings={**slots, "max_concurrent_requests_per_instance": 4})
    r.config.write_text(json.dumps(refused))
    code, body = r.admin("/-/reload", "POST")[:2]
    assert code == 422, body
    answer = json.loads(body)
    assert answer["ok"] is False and answer["generation"] == 1, answer
    assert "RESTART_REQUIRED" in answer["problems"], answer
    status, _, _ = deployment_status(r)
    assert status["generation"] == 1 and status["reloads"]["failed"] == 1, status
    assert "RESTART_REQUIRED" in status["reloads"]["last_error"], status
    assert two_slow_requests_seen_by_status(r, pki) == (1, 1)

    # The same slot change without the restart-only setting is applied: both requests run.
    s["endpoints"][0]["deployments"][0]["request_settings"]["max_concurrent_requests_per_instance"] = 4
    r.config.write_text(json.dumps(s))
    code, body = r.admin("/-/reload", "POST")[:2]
    assert code == 200, body
    assert two_slow_requests_seen_by_status(r, pki) == (0, 2)
