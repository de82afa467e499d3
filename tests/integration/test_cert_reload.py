"""Bad input, nothing lost: a running router given bad certificates (through its certificate
watch, SIGHUP and POST /-/reload) and bad settings refuses every reload with its code, keeps
serving its old certificate, keeps an open keep-alive connection and an in-flight request, and
takes a good new certificate at the next reload."""
import http.client
import json
import os
import signal
import ssl
import threading
import time

from certgen import SECRET_MARK, fingerprint
from certcli import no_protected_values
from certs import served_fingerprint
from conftest import KEY, Router


SCORE = json.dumps({"data": [[1, 2, 3]]}).encode()


class KeepAlive:
    """One TLS connection kept open across reloads."""

    def __init__(self, port, ca):
        ctx = ssl.create_default_context(cafile=str(ca))
        self.conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        self.conn.connect()
        self.sock = self.conn.sock

    def score(self):
        self.conn.request("POST", "/api/v1/endpoint/fraud/score", body=SCORE,
                          headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        resp = self.conn.getresponse()
        body = resp.read()
        assert self.conn.sock is self.sock, "the connection was dropped and reopened"
        return resp.status, body


def replace(path, source_bytes):
    """Atomically replaces a file, as a deploy tool or the kubelet would."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(source_bytes)
    os.replace(tmp, path)


def test_bad_certificate_on_reload_keeps_serving_the_old_one(tmp_path, certs, model):
    live = tmp_path / SECRET_MARK
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    replace(cert, certs.good.read_bytes())
    replace(key, certs.good_key.read_bytes())
    settings = {"extension": {"sslCname": "localhost"},
                "protected": {"sslCertPemFile": str(cert), "sslKeyPemFile": str(key)},
                "router": {"trusted_ca_file": str(certs.root)},
                "endpoints": [{"name": "fraud", "keys": {"primary": KEY},
                               "deployments": [{"name": "blue", "targets": [model.address],
                                                "request_settings": {"max_concurrent_requests_per_instance": 8}}]}]}
    r = Router(tmp_path, settings, workers=2)
    old = fingerprint(certs.good)
    try:
        assert served_fingerprint(r.port, "localhost") == old
        kept = KeepAlive(r.port, certs.root)
        assert kept.score() == (200, b'{"result": [6.0]}')

        # a slow request in flight through all the refused reloads below
        in_flight = {}

        def slow():
            c = http.client.HTTPSConnection("localhost", r.port, timeout=30,
                                            context=ssl.create_default_context(cafile=str(certs.root)))
            c.request("GET", "/api/v1/endpoint/fraud/sleep?ms=2500", headers={"Authorization": f"Bearer {KEY}"})
            resp = c.getresponse()
            in_flight["r"] = (resp.status, resp.read())

        t = threading.Thread(target=slow)
        t.start()

        def failed_count():
            return json.loads(r.admin("/status")[1])["reloads"]["failed"]

        def still_serving():
            assert r.proc.poll() is None, "scoregate exited:\n" + r.stderr()
            assert served_fingerprint(r.port, "localhost") == old
            assert kept.score()[0] == 200

        bad = [("expired", certs.expired.read_bytes(), certs.expired_key.read_bytes(), "CERT_EXPIRED"),
               ("mismatch", certs.good2.read_bytes(), certs.good_key.read_bytes(), "KEY_MISMATCH"),
               ("garbage", certs.garbage.read_bytes(), certs.good_key.read_bytes(), "CERT_NOT_PEM"),
               ("deleted", None, certs.good_key.read_bytes(), "CERT_FILE_UNREADABLE")]
        for i, (what, cert_bytes, key_bytes, code) in enumerate(bad):
            watched = failed_count()
            if cert_bytes is None:
                cert.unlink()
            else:
                replace(cert, cert_bytes)
            replace(key, key_bytes)
            # the certificate watch sees the change first and refuses it by itself (after its
            # ~2 s tolerance for half-written pairs when the problem could be one)
            deadline = time.time() + 6
            while failed_count() == watched and time.time() < deadline:
                time.sleep(0.05)
            assert failed_count() == watched + 1, what
            before = failed_count()
            if i % 2 == 0:  # alternate the two triggers: SIGHUP and the admin endpoint
                r.signal(signal.SIGHUP)
                deadline = time.time() + 10
                while failed_count() == before and time.time() < deadline:
                    time.sleep(0.05)
            else:
                status, body = r.admin("/-/reload", method="POST")
                assert status == 422, body
                j = json.loads(body)
                assert j["ok"] is False and j["generation"] == 1 and code in j["problems"], body
                no_protected_values(body)
            assert failed_count() == before + 1, what
            st = json.loads(r.admin("/status")[1])
            assert st["generation"] == 1 and code in st["reloads"]["last_error"], st
            r.wait_stderr(code)
            still_serving()

        # a settings file that is not YAML any more
        good_settings = r.config.read_text()
        r.config.write_text("extension: [unclosed\n")
        status, body = r.admin("/-/reload", method="POST")
        assert status == 422 and "CONFIG_YAML_SYNTAX" in body, body
        # settings that read cleanly but break a rule, with a protected path in the wrong place
        wrong = json.loads(good_settings)
        wrong["extension"]["sslCertPemFile"] = wrong["protected"].pop("sslCertPemFile")
        r.config.write_text(json.dumps(wrong))
        r.signal(signal.SIGHUP)
        status, body = r.admin("/-/reload", method="POST")
        assert status == 422 and "SETTING_PROTECTED" in body, body
        no_protected_values(body, r.admin("/status")[1])
        r.config.write_text(good_settings)
        still_serving()

        t.join(30)
        assert in_flight.get("r", (None,))[0] == 200, in_flight

        # a good new certificate: taken at the next reload, the old connection lives on
        replace(cert, certs.good2.read_bytes())
        replace(key, certs.good2_key.read_bytes())
        status, body = r.admin("/-/reload", method="POST")
        assert status == 200 and json.loads(body)["ok"] is True, body
        assert served_fingerprint(r.port, "localhost") == fingerprint(certs.good2)
        assert kept.score()[0] == 200
        st = json.loads(r.admin("/status")[1])
        # the watch may have taken the good pair before the explicit reload: one or two reloads
        assert st["generation"] in (2, 3) and st["reloads"]["ok"] == st["generation"] - 1
        assert st["reloads"]["last_error"] == ""
        assert st["certificate"]["fingerprint_sha256"] == fingerprint(certs.good2)
        no_protected_values(json.dumps(st))
    finally:
        r.stop()
    assert r.proc.returncode == 0
    no_protected_values(r.stderr(), "".join(r.stdout_lines))
