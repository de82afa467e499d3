"""`scoregate doctor` against the real router on free ports (README "Check a deployed endpoint:
scoregate doctor"): a good setup passes; a certificate for another name, an expired certificate
still served after a refused renewal, a DNS name pointing elsewhere, a Service manifest, a router
error and a server that still accepts TLS 1.1 each fail the check they should, with exit 1."""
import json
import subprocess
import time

import pytest

from certgen import run as openssl_run
from conftest import BIN, KEY, ModelServer, Router, can_unshare, closed_port, settings_for, wait_until


def doctor(*args, prefix=()):
    p = subprocess.run([*prefix, BIN, "doctor", *map(str, args), "--json"], capture_output=True,
                       text=True, timeout=60)
    assert KEY not in p.stdout + p.stderr, "the key was printed"
    if p.returncode == 2:
        return p.returncode, None, p.stderr
    report = json.loads(p.stdout)
    return p.returncode, {c["id"]: c for c in report["checks"]}, report


@pytest.fixture(scope="module")
def model():
    m = ModelServer()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def good(tmp_path_factory, model, certs):
    """One router for the checks that do not change it: certgen's good chain (a.test, localhost,
    127.0.0.1) under certgen's root, endpoint 'fraud' with KEY."""
    r = Router(tmp_path_factory.mktemp("doctor"), certgen_settings(certs, certs.good, certs.good_key, model))
    r.certs = certs
    yield r
    r.stop()


def certgen_settings(certs, cert, key, model, cname="localhost"):
    s = settings_for(None, [model.address], insecure=True)
    s["extension"] = {"sslCname": cname}
    s["protected"] = {"sslCertPemFile": str(cert), "sslKeyPemFile": str(key)}
    s["router"]["trusted_ca_file"] = str(certs.root)
    return s


def url(r, host="localhost"):
    return f"https://{host}:{r.port}"


def test_good_setup_passes_and_prints_json(good):
    rc, checks, report = doctor(url(good), "--cacert", good.certs.root, "-f", good.config,
                                "--key", KEY, "--expect-ip", "127.0.0.1")
    assert rc == 0, report
    assert set(report) == {"target", "checks", "summary", "exit_code"}
    assert report["target"] == url(good) and report["exit_code"] == 0
    for c in report["checks"]:
        assert set(c) == {"id", "status", "message", "fix"}
        assert c["status"] == "PASS", c
    assert list(checks) == ["dns.resolve", "dns.address", "tls.v1.0", "tls.v1.1", "tls.v1.2",
                            "tls.v1.3", "tls.chain", "tls.name", "tls.expiry", "tls.fingerprint",
                            "http.auth", "http.model", "http.h2"]
    assert "401" in checks["http.auth"]["message"]
    assert "/api/v1/service/fraud/score" in checks["http.model"]["message"]
    assert report["summary"] == {"pass": 13, "info": 0, "warn": 0, "fail": 0}


def test_text_output_and_key_file(good, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    p = subprocess.run([BIN, "doctor", url(good), "--cacert", str(good.certs.root), "--key-file",
                        str(key_file), "--endpoint", "fraud"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert KEY not in p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == f"scoregate doctor {url(good)}"
    assert all(l.split()[0] in ("PASS", "INFO") for l in lines[1:-1]), p.stdout
    assert any(l.startswith("PASS") and "http.model" in l for l in lines)
    # without -f the served fingerprint is shown for comparing by hand
    assert any(l.startswith("INFO") and "tls.fingerprint" in l for l in lines)


def test_secret_in_the_cluster_is_said_to_be_unreadable_here(good, tmp_path):
    cfg = tmp_path / "in-cluster.yaml"
    cfg.write_text(json.dumps({"extension": {"sslCname": "localhost", "sslSecret": "scoring-tls"},
                               "endpoints": [{"name": "fraud", "keys": {"primary": KEY},
                                              "deployments": [{"name": "blue", "targets": ["127.0.0.1:1"]}]}]}))
    rc, checks, _ = doctor(url(good), "--cacert", good.certs.root, "-f", cfg)
    assert rc == 0
    fp = checks["tls.fingerprint"]
    assert fp["status"] == "WARN" and "sslSecret 'scoring-tls'" in fp["message"], fp
    assert "cannot be read here" in fp["message"] and "router.secrets_dir" in fp["fix"]
    assert "http.auth" in checks  # the endpoint came from -f
    # ... and with no --key, the endpoint's key too
    model = checks["http.model"]
    assert model["status"] == "PASS", model
    assert "with the key from -f (the primary key of endpoint 'fraud')" in model["message"], model


def test_a_wrong_key_in_the_settings_fails_the_model_check(good, tmp_path):
    cfg = tmp_path / "stale.yaml"
    key_file = tmp_path / "old-key"
    key_file.write_text("an-old-key-0123456789abcdef\n")
    cfg.write_text(json.dumps({"extension": {"sslCname": "localhost", "sslSecret": "scoring-tls"},
                               "endpoints": [{"name": "fraud", "keys": {"primary_file": str(key_file)},
                                              "deployments": [{"name": "blue", "targets": ["127.0.0.1:1"]}]}]}))
    rc, checks, _ = doctor(url(good), "--cacert", good.certs.root, "-f", cfg)
    assert rc == 1
    model = checks["http.model"]
    assert model["status"] == "FAIL" and "401 Unauthorized" in model["message"], model
    assert "an-old-key" not in json.dumps(checks)
    # a flag wins over the settings
    rc, checks, _ = doctor(url(good), "--cacert", good.certs.root, "-f", cfg, "--key", KEY)
    assert rc == 0 and checks["http.model"]["status"] == "PASS", checks["http.model"]
    assert "from -f" not in checks["http.model"]["message"]


def test_untrusted_chain_and_router_errors_named_by_code(good):
    # no --cacert: the system store does not know the test root
    rc, checks, _ = doctor(url(good), "--endpoint", "fraud", "--key", "not-the-key-0123456789")
    assert rc == 1
    assert checks["tls.chain"]["status"] == "FAIL" and checks["tls.chain"]["fix"]
    assert checks["http.model"]["status"] == "FAIL"
    assert "401 Unauthorized" in checks["http.model"]["message"]
    rc, checks, _ = doctor(url(good), "--cacert", good.certs.root, "--endpoint", "nope")
    assert rc == 1
    assert "404 EndpointNotFound" in checks["http.auth"]["message"], checks["http.auth"]


def test_model_down_is_named_by_the_router_code(tmp_path, pki):
    s = settings_for(pki, [f"127.0.0.1:{closed_port()}"], router={"readiness_wait_ms": 0})
    r = Router(tmp_path, s)
    try:
        rc, checks, _ = doctor(url(r), "--cacert", pki / "ca.pem", "-f", r.config, "--key", KEY)
        assert rc == 1
        assert checks["http.auth"]["status"] == "PASS"
        assert checks["http.model"]["status"] == "FAIL"
        msg = checks["http.model"]["message"]
        assert "NoReadyInstance" in msg or "UpstreamConnectFailed" in msg, msg
    finally:
        r.stop()


def test_certificate_for_another_name_fails_the_name_check(tmp_path, model, certs):
    r = Router(tmp_path, certgen_settings(certs, certs.wild, certs.wild_key, model, "scoring.example.com"))
    try:
        rc, checks, _ = doctor(url(r), "--cacert", certs.root, "--key", KEY)
        assert rc == 1
        assert checks["tls.chain"]["status"] == "PASS"
        assert checks["tls.name"]["status"] == "FAIL"
        assert "*.example.com" in checks["tls.name"]["message"]
        assert "subjectAltName" in checks["tls.name"]["fix"]
    finally:
        r.stop()


def test_expired_certificate_served_after_a_refused_renewal(tmp_path, model, certs):
    """The router serves a certificate that expires seconds later; its renewal is refused (the
    new certificate comes with the old key), so the expired one stays served: doctor -f sees
    that the served certificate is expired and is not the configured one."""
    # valid for ~10 more seconds: issued "a day minus 10 s ago" for one day
    certs.pki.issue("short", "inter", sans=certs.NAMES, days=1, shift="-86390")
    short = certs.pki.chain("short-chain", "short", "inter")
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    cert.write_bytes(short.read_bytes())
    key.write_bytes(certs.pki.path("short.key").read_bytes())
    expires = time.time() + 10
    r = Router(tmp_path, certgen_settings(certs, cert, key, model))
    try:
        rc, checks, _ = doctor(url(r), "--cacert", certs.root, "-f", r.config)
        assert checks["tls.fingerprint"]["status"] == "PASS", checks["tls.fingerprint"]
        assert checks["tls.expiry"]["status"] == "WARN"  # 0 days left
        failed = lambda: json.loads(r.admin("/status")[1])["reloads"]["failed"]
        # the renewal: a new certificate, but the key file still holds the old key
        renewed = tmp_path / "renewed.pem"
        renewed.write_bytes(certs.good2.read_bytes())
        renewed.replace(cert)
        assert wait_until(lambda: failed() >= 1, timeout=8), r.stderr()
        time.sleep(max(0.0, expires - time.time()) + 1)
        rc, checks, _ = doctor(url(r), "--cacert", certs.root, "-f", r.config)
        assert rc == 1
        assert checks["tls.expiry"]["status"] == "FAIL", checks["tls.expiry"]
        fp = checks["tls.fingerprint"]
        assert fp["status"] == "FAIL" and "not the configured one" in fp["message"], fp
        assert "reloads.last_error" in fp["fix"]
        assert str(cert) not in json.dumps(checks), "a protected path was printed"
        served = openssl_run(["openssl", "x509", "-in", short, "-noout", "-fingerprint", "-sha256"])
        assert served.strip().split("=", 1)[1] in fp["message"]
    finally:
        r.stop()


def test_expect_ip_mismatch_explains_ttl(good):
    rc, checks, _ = doctor(url(good), "--cacert", good.certs.root, "--expect-ip", "10.255.0.1",
                           "--endpoint", "fraud")
    assert rc == 1
    c = checks["dns.address"]
    assert c["status"] == "FAIL" and "127.0.0.1" in c["message"] and "10.255.0.1" in c["message"]
    assert "TTL" in c["fix"] and "10.255.0.1" in c["fix"]


SERVICE = """apiVersion: v1
kind: Service
metadata: {{name: scoregate, namespace: azureml}}
spec:
  type: {type}
  clusterIP: 10.96.0.10
  ports: [{{port: 443, targetPort: 8443}}]
status:
  loadBalancer: {status}
"""


@pytest.mark.parametrize("kind,status,verdict", [
    ("LoadBalancer", "{ingress: [{ip: 127.0.0.1}]}", "PASS"),
    ("LoadBalancer", "{ingress: [{ip: 203.0.113.7}]}", "FAIL"),
    ("LoadBalancer", "{ingress: [{hostname: localhost}]}", "PASS"),
    ("ClusterIP", "{}", "FAIL"),
])
def test_service_manifest(good, tmp_path, kind, status, verdict):
    svc = tmp_path / "svc.yaml"
    svc.write_text(SERVICE.format(type=kind, status=status))
    rc, checks, _ = doctor(url(good), "--cacert", good.certs.root, "--endpoint", "fraud",
                           "--service-manifest", svc)
    assert checks["dns.address"]["status"] == verdict, checks["dns.address"]
    assert rc == (0 if verdict == "PASS" else 1)
    assert "Service 'scoregate'" in checks["dns.address"]["message"]
    if kind == "ClusterIP":
        assert "10.96.0.10" in checks["dns.address"]["message"]
        assert checks["dns.service"]["status"] == "WARN"
        assert "only inside the cluster" in checks["dns.service"]["message"]
    else:
        assert "dns.service" not in checks


def test_service_manifest_list_and_usage_errors(good, tmp_path):
    svc = tmp_path / "list.yaml"
    one = SERVICE.format(type="LoadBalancer", status="{ingress: [{ip: 127.0.0.1}]}")
    svc.write_text("apiVersion: v1\nkind: List\nitems:\n" +
                   "".join("- " + l + "\n" if i == 0 else "  " + l + "\n"
                           for i, l in enumerate(one.splitlines())))
    rc, checks, _ = doctor(url(good), "--cacert", good.certs.root, "--endpoint", "fraud",
                           "--service-manifest", svc)
    assert rc == 0 and checks["dns.address"]["status"] == "PASS"
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Deployment\n")
    rc, _, err = doctor(url(good), "--service-manifest", bad)
    assert rc == 2 and "DOCTOR_MANIFEST_INVALID" in err
    rc, _, err = doctor(url(good), "--service-manifest", tmp_path / "missing.yaml")
    assert rc == 2 and "DOCTOR_MANIFEST_UNREADABLE" in err
    rc, _, err = doctor("http://localhost:1")
    assert rc == 2 and "DOCTOR_URL_INVALID" in err
    rc, _, err = doctor(url(good), "--key", KEY, "--key-file", svc)
    assert rc == 2


@pytest.mark.skipif(not can_unshare(), reason="needs root and mount namespaces (unshare -m) to give "
                    "doctor its own /etc/hosts")
def test_dns_through_a_private_hosts_file(good, tmp_path):
    hosts = tmp_path / "hosts"
    wrapper = tmp_path / "with-hosts.sh"
    wrapper.write_text(f'#!/bin/sh\nmount --bind {hosts} /etc/hosts && exec "$@"\n')
    wrapper.chmod(0o755)
    prefix = ["unshare", "-m", str(wrapper)]
    hosts.write_text("127.0.0.1 a.test\n")
    rc, checks, report = doctor(url(good, "a.test"), "--cacert", good.certs.root, "--endpoint",
                                "fraud", "--key", KEY, "--expect-ip", "127.0.0.1", prefix=prefix)
    assert rc == 0, report
    assert checks["dns.resolve"]["message"] == "a.test resolves to 127.0.0.1"
    assert checks["tls.name"]["status"] == "PASS"
    # the name points elsewhere: the DNS step of the set-up, caught
    hosts.write_text("127.0.0.2 a.test\n")
    rc, checks, _ = doctor(url(good, "a.test"), "--cacert", good.certs.root, "--expect-ip",
                           "127.0.0.1", prefix=prefix)
    assert rc == 1 and checks["dns.address"]["status"] == "FAIL"
    assert "127.0.0.2" in checks["dns.address"]["message"]
    # and a name nobody resolves
    rc, checks, _ = doctor(url(good, "nosuch.invalid"), prefix=prefix)
    assert rc == 1 and checks["dns.resolve"]["status"] == "FAIL"
    assert list(checks) == ["dns.resolve"]


def test_tls_1_1_refused_by_the_router_and_caught_when_accepted(good, certs):
    rc, checks, _ = doctor(url(good), "--cacert", certs.root, "--endpoint", "fraud")
    assert checks["tls.v1.1"]["status"] == "PASS" and "refused" in checks["tls.v1.1"]["message"]
    assert checks["tls.v1.0"]["status"] == "PASS"
    # a TLS terminator that still accepts TLS 1.1 (openssl s_server at security level 0)
    port = closed_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", str(certs.good),
                               "-key", str(certs.good_key), "-min_protocol", "TLSv1.1",
                               "-cipher", "DEFAULT:@SECLEVEL=0", "-www", "-quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket
        assert wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=5)
        rc, checks, _ = doctor(f"https://localhost:{port}", "--cacert", certs.root)
        assert rc == 1
        assert checks["tls.v1.1"]["status"] == "FAIL", checks["tls.v1.1"]
        assert "accepted" in checks["tls.v1.1"]["message"]
        assert checks["tls.v1.2"]["status"] == "PASS"
        assert checks["http.endpoint"]["status"] == "WARN"
    finally:
        server.kill()
        server.wait()
