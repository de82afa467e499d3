"""The status page (README "Status page"): GET / on the admin listener answers HTML to a client
that asks for it and JSON to everyone else, with a strict Content-Security-Policy and a fresh
nonce per response; it is served on no other listener; and the numbers /status gives it are the
counters /metrics shows. The page in a real browser: test_status_page_browser.py."""
import http.client
import json
import re
import ssl

from conftest import KEY, SECONDARY, settings_for, tls_context, wait_until

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def admin_get(port, path="/", accept=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, headers={"Accept": accept} if accept else {})
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def test_root_answers_html_to_browsers_and_json_to_the_rest(model, start_router, pki):
    r = start_router(settings_for(pki, [model.address]))
    status, headers, page = admin_get(r.admin_port, accept=BROWSER_ACCEPT)
    assert status == 200 and headers["content-type"].startswith("text/html"), headers
    assert page.startswith("<!doctype html>") and "__NONCE__" not in page
    csp = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'", csp
    assert directives["connect-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_-]{20,})'", directives["script-src"]).group(1)
    assert directives["style-src"] == f"'nonce-{nonce}'", csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    # every <script> and <style> carries this response's nonce, and nothing loads from elsewhere
    tags = re.findall(r"<(script|style)([^>]*)>", page)
    assert sorted(t for t, _ in tags) == ["script", "style"], tags
    assert all(attrs.strip() == f'nonce="{nonce}"' for _, attrs in tags), tags
    assert not re.search(r"<[^>]+\s(src|href)\s*=", page), "the page must not load anything"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), "no inline event handlers"
    assert not re.search(r"<[a-z][^>]*\sstyle\s*=", page), "no style attributes (CSP)"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store" and "accept" in headers["vary"].lower()
    # a fresh nonce for each response
    _, headers2, page2 = admin_get(r.admin_port, accept="text/html")
    assert nonce not in headers2["content-security-policy"] and nonce not in page2
    # HEAD: the same head, no body
    status, headers3, body = admin_get(r.admin_port, accept="text/html", method="HEAD")
    assert status == 200 and body == "" and "content-security-policy" in headers3

    # API clients keep JSON at / (curl's */*, no Accept, application/json, html refused by q=0)
    for accept in ("*/*", None, "application/json", "text/html;q=0, application/json"):
        status, headers, body = admin_get(r.admin_port, accept=accept)
        assert status == 200 and headers["content-type"] == "application/json", (accept, headers)
        assert json.loads(body)["generation"] == 1
        assert "content-security-policy" not in headers
    for text in (KEY, SECONDARY, str(pki / "ecdsa.key"), str(pki / "ecdsa.fullchain.pem")):
        assert text not in page, "a secret on the status page"


def test_page_is_only_on_the_admin_listener(model, start_router, pki):
    s = settings_for(pki, [model.address])
    s["router"]["probe_listen"] = "127.0.0.1:0"
    r = start_router(s)
    probes = int(re.search(r"probes on 127\.0\.0\.1:(\d+)", r.stderr()).group(1))
    status, headers, body = admin_get(probes, accept=BROWSER_ACCEPT)
    assert status == 404 and "<html" not in body and "router.admin" in body, (status, body)
    # the scoring port: / is no endpoint, whatever the client accepts
    conn = http.client.HTTPSConnection("localhost", r.port, timeout=10, context=tls_context(pki))
    conn.request("GET", "/", headers={"Accept": BROWSER_ACCEPT, "Authorization": f"Bearer {KEY}"})
    resp = conn.getresponse()
    body = resp.read().decode()
    assert resp.status == 404 and "<html" not in body and "EndpointNotFound" in body, body
    assert resp.getheader("content-security-policy") is None
    assert admin_get(r.admin_port, accept=BROWSER_ACCEPT)[0] == 200


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    assert m, f"{name}{{{want}}} not in /metrics"
    return float(m.group(1))


def test_status_counters_are_the_metrics_counters_and_errors_hold_no_secret(model, start_router, pki):
    r = start_router(settings_for(pki, [model.address]))
    ctx = tls_context(pki)

    def score(path, key=KEY):
        conn = http.client.HTTPSConnection("localhost", r.port, timeout=10, context=ctx)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        conn.request("POST", path, body=b'{"data": [[1, 2]]}', headers=headers)
        status = conn.getresponse().status
        conn.close()
        return status

    assert [score("/api/v1/endpoint/fraud/score") for _ in range(5)] == [200] * 5
    assert score("/api/v1/endpoint/fraud/status?code=500") == 500  # the model's 5xx: no router error
    assert score("/api/v1/endpoint/fraud/score", key="wrong-" + KEY) == 401
    assert score("/api/v1/endpoint/nope/score") == 404

    def counted():  # a request is counted when its exchange ends, just after the client has it
        return json.loads(r.admin("/status")[1])["endpoints"][0]["deployments"][0]["counters"]
    assert wait_until(lambda: counted()["latency_count"] == 6), counted()
    status = json.loads(r.admin("/status")[1])
    metrics = r.admin("/metrics")[1]
    d = status["endpoints"][0]["deployments"][0]
    c = d["counters"]
    labels = {"endpoint": "fraud", "deployment": "blue"}
    assert c["responses"]["2xx"] == 5 == metric(metrics, "scoregate_responses_total", **labels, code="2xx")
    assert c["responses"]["5xx"] == 1 == metric(metrics, "scoregate_responses_total", **labels, code="5xx")
    # the 401 is refused before a deployment is chosen: router error, not a deployment response
    assert c["responses"]["4xx"] == 0 and status["router_errors"]["4xx"] == 2
    assert c["latency_count"] == sum(c["latency_buckets"]) == 6
    assert c["latency_count"] == metric(metrics, "scoregate_request_duration_seconds_count", **labels)
    assert len(c["latency_buckets"]) == len(status["latency_bounds_ms"]) + 1
    assert c["status_429"] == 0 == metric(metrics, "scoregate_responses_by_status_total", **labels, status="429")
    assert d["slots_per_target"] == 50 and d["targets"][0]["in_flight"] == 0
    recent = status["router_errors"]["recent"]
    assert [(e["status"], e["code"], e["endpoint"]) for e in recent] == \
        [(404, "EndpointNotFound", ""), (401, "Unauthorized", "fraud")], recent
    assert all(set(e) == {"time_unix_ms", "status", "code", "endpoint", "deployment"} for e in recent)
    assert abs(recent[0]["time_unix_ms"] - status["time_unix_ms"]) < 60_000
    text = json.dumps(status)
    for secret in (KEY, SECONDARY, "wrong-", str(pki / "ecdsa.key")):
        assert secret not in text, "a secret in /status"
    assert status["reloads"]["last_result"] == "none" and status["reloads"]["last_at"] is None
    assert status["certificate"]["chain_subjects"][0].endswith("CN=localhost") or \
        "localhost" in status["certificate"]["chain_subjects"][0]

    # a reload stamps its time and result
    assert r.admin("/-/reload", "POST")[0] == 200
    reloads = json.loads(r.admin("/status")[1])["reloads"]
    assert reloads["last_result"] == "ok" and re.fullmatch(r"\d{4}-\d\d-\d\dT.*Z", reloads["last_at"])
