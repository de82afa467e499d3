"""Open Inference Protocol v2 REST paths through the router (README "HTTP/2 and gRPC",
"Routing"): /v2/models/<model>/... reaches the endpoint named <model> or the one whose models:
lists it, path unchanged; /v2/health/live and /v2/health/ready are the router's own answers;
a model over TLS (protocol: h2) is verified against router.trusted_ca_file."""
import json

from conftest import KEY, closed_port, curl, settings_for, start_peer


def two_endpoints(pki, a, b):
    s = settings_for(pki, [a])
    s["endpoints"].append({"name": "triton", "models": ["resnet", "bert.v2"],
                           "keys": {"primary": KEY, "secondary": KEY + "-2"},
                           "deployments": [{"name": "main", "targets": [b]}]})
    return s


def test_v2_model_paths_reach_the_endpoint_of_the_model(pki, model, start_router):
    other = start_peer("model_server.py")
    try:
        r = start_router(two_endpoints(pki, model.address, other.address))
        for path, deployment in [("/v2/models/fraud/infer", "blue"), ("/v2/models/resnet/infer", "main"),
                                 ("/v2/models/bert.v2/versions/3/infer", "main"),
                                 ("/v2/models/triton/ready", "main")]:
            status, body, headers, _ = curl(r, path, pki=pki, data=b"{}",
                                            headers=["Content-Type: application/json"])
            assert headers.get("azureml-model-deployment") == deployment, (path, status, body)
        # the model receives the path unchanged: ask the test model what it saw
        status, body, _, _ = curl(r, "/v2/models/resnet/headers", pki=pki)
        assert status == 200 and json.loads(body)["path"] == "/v2/models/resnet/headers", body
        status, body, _, _ = curl(r, "/v2/models/unknown/infer", pki=pki, data=b"{}")
        assert status == 404 and "unknown" in json.loads(body)["error"]["message"]
        status, body, _, _ = curl(r, "/v2/models/resnet/infer", pki=pki, key=None, data=b"{}")
        assert status == 401  # the endpoint's key applies as on the scoring paths
    finally:
        other.stop()


def test_v2_health_is_answered_by_the_router(pki, model, start_router):
    r = start_router(settings_for(pki, [model.address]))
    for path, expected in [("/v2/health/live", {"live": True}), ("/v2/health/ready", {"ready": True})]:
        status, body, _, _ = curl(r, path, pki=pki, key=None)
        assert (status, json.loads(body)) == (200, expected), body
    r2 = start_router(settings_for(pki, [f"127.0.0.1:{closed_port()}"],
                                   request_settings={"max_concurrent_requests_per_instance": 1}))
    # a target that refuses connections is ejected after 3 failures: the router is then not ready
    for _ in range(3):
        curl(r2, "/api/v1/endpoint/fraud/score", pki=pki, data=b"{}")
    status, body, _, _ = curl(r2, "/v2/health/ready", pki=pki, key=None)
    assert (status, json.loads(body)) == (503, {"ready": False}), body
    status, _, _, _ = curl(r2, "/v2/health/live", pki=pki, key=None)
    assert status == 200


def test_h2_model_over_tls_is_verified(pki, start_router):
    # on every loopback address: its certificate names 127.0.0.1 (and localhost), not 127.0.0.2
    model = start_peer("h2c_model.py", "--host", "0.0.0.0", "--tls-cert", pki / "ecdsa.fullchain.pem",
                       "--tls-key", pki / "ecdsa.key")
    try:
        s = settings_for(pki, [f"127.0.0.1:{model.port}"])
        s["endpoints"][0]["deployments"][0]["protocol"] = "h2"
        r = start_router(s)
        status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/score", pki=pki, data=b'{"data": [[2, 3]]}')
        assert status == 200 and json.loads(body) == {"result": [5]}, body
        status, body, _, _ = curl(r, "/api/v1/endpoint/fraud/headers", pki=pki)
        assert json.loads(body)["pseudo"][":scheme"] == "https"
        # the same model under a name its certificate does not cover: refused, never sent
        s["endpoints"][0]["deployments"][0]["targets"] = [f"127.0.0.2:{model.port}"]
        r2 = start_router(s)
        status, body, _, _ = curl(r2, "/api/v1/endpoint/fraud/score", pki=pki, data=b"{}")
        assert status == 502 and json.loads(body)["error"]["code"] == "UpstreamConnectFailed", body
    finally:
        model.stop()
