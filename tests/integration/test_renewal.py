"""Certificate renewal without a failed request (issue 4)."""
import json
import re
import os
import signal
import ssl
import socket
import subprocess
import sys
import threading
import time

import pytest

from certs import KubeletSecretDir, fingerprint_of, leaf, replace_atomically, served_fingerprint, wait_for_fingerprint
from conftest import BIN, HERE, KEY, Router, settings_for, tls_context


def start_load(r, pki, seconds):
    return subprocess.Popen([sys.executable, str(HERE / "load_client.py"), str(r.port), str(pki / "ca.pem"),
                             str(seconds), "/api/v1/endpoint/fraud/score", KEY],
                            stdout=subprocess.PIPE, text=True)


def live_pair(tmp_path, cert_src, key_src):
    """The directory a router reads its PEM pair from, holding these files: (dir, cert, key)."""
    live = tmp_path / "tls"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    replace_atomically(cert_src, cert)
    replace_atomically(key_src, key)
    return live, cert, key


def one_request(ctx, port, session=None):
    """One request on a new TLS connection (resuming `session` if given), answered 200:
    (the connection's session, whether it was resumed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t = ctx.wrap_socket(s, server_hostname="localhost", session=session)
    t.sendall(b"GET /api/v1/endpoint/fraud/health HTTP/1.1\r\nHost: localhost\r\n"
              b"Authorization: Bearer " + KEY.encode() + b"\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := t.recv(65536):
        data += chunk
    assert b"200 OK" in data, data
    result = t.session, t.session_reused
    t.close()
    return result


def pem_settings(pki, model, cert, key):
    s = settings_for(pki, [model.address])
    s["protected"] = {"sslCertPemFile": str(cert), "sslKeyPemFile": str(key)}
    return s


def test_renewal_by_rename_under_load_loses_nothing(pki, model, start_router, tmp_path):
    a, ak = leaf(pki, "renew-a")
    b, bk = leaf(pki, "renew-b")
    live, cert, key = live_pair(tmp_path, a, ak)
    r = start_router(pem_settings(pki, model, cert, key))
    quiet = json.loads(start_load(r, pki, 3).communicate(timeout=30)[0])  # baseline, no rotation
    load = start_load(r, pki, 6)
    time.sleep(0.5)
    swap_times = []
    for i in range(24):
        src, src_key = (b, bk) if i % 2 == 0 else (a, ak)
        replace_atomically(src, cert)
        replace_atomically(src_key, key)
        swap_times.append(wait_for_fingerprint(r.port, fingerprint_of(src)))
        time.sleep(0.1)
    out, _ = load.communicate(timeout=30)
    counts = json.loads(out)
    print("renewal by rename: %s; without rotation %.1f req/s, during rotation %.1f req/s; "
          "swap->served max %.3f s, median %.3f s" % (counts, quiet["requests_per_second"],
          counts["requests_per_second"], max(swap_times), sorted(swap_times)[len(swap_times) // 2]))
    assert counts["requests_failed"] == 0 and counts["handshakes_failed"] == 0, counts["errors"]
    assert counts["requests_ok"] > 50 and counts["handshakes_ok"] > 10
    assert served_fingerprint(r.port) == fingerprint_of(a)  # the 24th swap put A back
    assert max(swap_times) < 1.0, swap_times
    status = json.loads(r.admin("/status")[1])
    assert status["reloads"]["ok"] >= 24 and status["reloads"]["failed"] == 0


def test_renewal_by_kubelet_symlink_swap_under_load(pki, model, start_router, tmp_path):
    a, ak = leaf(pki, "kube-a")
    b, bk = leaf(pki, "kube-b")
    secrets = tmp_path / "secrets"
    vol = KubeletSecretDir(secrets, "scoring-tls")
    vol.publish(a, ak)
    s = settings_for(pki, [model.address])
    del s["protected"]
    s["extension"]["sslSecret"] = "scoring-tls"
    s["router"]["secrets_dir"] = str(secrets)
    r = start_router(s)
    assert served_fingerprint(r.port) == fingerprint_of(a)
    load = start_load(r, pki, 6)
    time.sleep(0.5)
    for i in range(22):
        src, src_key = (b, bk) if i % 2 == 0 else (a, ak)
        vol.publish(src, src_key)
        wait_for_fingerprint(r.port, fingerprint_of(src))
        time.sleep(0.1)
    out, _ = load.communicate(timeout=30)
    counts = json.loads(out)
    print("renewal by ..data swap:", counts)
    assert counts["requests_failed"] == 0 and counts["handshakes_failed"] == 0, counts["errors"]
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{r.port}", "-servername", "localhost"],
                       input=b"", capture_output=True, timeout=10)
    pem = p.stdout.decode()
    cert_pem = pem[pem.index("-----BEGIN CERTIFICATE-----"):pem.index("-----END CERTIFICATE-----") + 25]
    got = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=cert_pem.encode(),
                         capture_output=True, check=True).stdout.decode().strip().split("=", 1)[1]
    assert got == fingerprint_of(a)  # the 22nd swap (odd index) put A back


def test_bad_renewals_keep_the_old_certificate_and_recover(pki, model, start_router, tmp_path):
    a, ak = leaf(pki, "bad-a")
    b, bk = leaf(pki, "bad-b")
    expired, expired_key = leaf(pki, "bad-expired", expired=True)
    _, enc_key = leaf(pki, "bad-enc", passphrase="hunter2")
    live, cert, key = live_pair(tmp_path, a, ak)
    r = start_router(pem_settings(pki, model, cert, key))
    fp_a = fingerprint_of(a)
    # keep-alive connection opened before the bad renewals must keep working throughout
    import http.client
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    conn = http.client.HTTPSConnection("localhost", r.port, context=ctx, timeout=10)

    def score_ok():
        conn.request("POST", "/api/v1/endpoint/fraud/score", body=b'{"data": [[1]]}',
                     headers={"Authorization": f"Bearer {KEY}"})
        resp = conn.getresponse()
        return resp.status == 200 and resp.read() == b'{"result": [1.0]}'

    assert score_ok()
    failed = 0
    cases = [
        ("CERT_EXPIRED", lambda: (replace_atomically(expired, cert), replace_atomically(expired_key, key))),
        ("KEY_MISMATCH", lambda: (replace_atomically(b, cert), replace_atomically(ak, key))),
        ("KEY_ENCRYPTED", lambda: (replace_atomically(a, cert), replace_atomically(enc_key, key))),
        ("CERT_NOT_PEM", lambda: (cert.write_bytes(a.read_bytes()[:300]), replace_atomically(ak, key))),
    ]
    for code, apply in cases:
        apply()
        deadline = time.monotonic() + 6  # the tolerance window for half-written pairs is ~2 s
        while time.monotonic() < deadline:
            status = json.loads(r.admin("/status")[1])
            if status["reloads"]["failed"] > failed:
                break
            time.sleep(0.05)
        failed += 1
        assert status["reloads"]["failed"] == failed, (code, status["reloads"])
        assert code in status["reloads"]["last_error"], status["reloads"]["last_error"]
        r.wait_stderr(code)
        assert served_fingerprint(r.port) == fp_a, code
        assert score_ok(), code
        assert r.proc.poll() is None
    # SIGHUP and the admin endpoint refuse the same way
    r.signal(signal.SIGHUP)
    time.sleep(0.5)
    code, body = r.admin("/-/reload", method="POST")
    assert code == 422 and json.loads(body)["ok"] is False
    assert served_fingerprint(r.port) == fp_a
    # a good pair arrives: recovered
    replace_atomically(b, cert)
    replace_atomically(bk, key)
    wait_for_fingerprint(r.port, fingerprint_of(b))
    assert score_ok()
    assert str(cert) not in r.stderr() and str(key) not in r.stderr()  # protected paths never logged


def test_half_written_pair_is_tolerated_briefly(pki, model, start_router, tmp_path):
    a, ak = leaf(pki, "half-a")
    b, bk = leaf(pki, "half-b")
    live, cert, key = live_pair(tmp_path, a, ak)
    r = start_router(pem_settings(pki, model, cert, key))
    replace_atomically(b, cert)  # the key follows 700 ms later, as a slow copy would do it
    time.sleep(0.7)
    replace_atomically(bk, key)
    wait_for_fingerprint(r.port, fingerprint_of(b))
    status = json.loads(r.admin("/status")[1])
    assert status["reloads"]["failed"] == 0, status["reloads"]
    assert "KEY_MISMATCH" not in r.stderr()


def test_renewal_by_replacing_the_whole_directory(pki, model, start_router, tmp_path):
    """Some tools renew by moving the old directory away and putting a new one in its place.
    A short gap is covered by the half-written tolerance (~2 s of quiet retries); after a longer
    one the failed reload is reported, and the new directory must still be picked up."""
    a, ak = leaf(pki, "dir-a")
    b, bk = leaf(pki, "dir-b")
    live, cert, key = live_pair(tmp_path, a, ak)
    r = start_router(pem_settings(pki, model, cert, key))
    assert served_fingerprint(r.port) == fingerprint_of(a)
    live.rename(tmp_path / "tls.old")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:  # the tolerance window runs out: reported, A kept
        status = json.loads(r.admin("/status")[1])
        if status["reloads"]["failed"]:
            break
        time.sleep(0.1)
    assert status["reloads"]["failed"] == 1, status["reloads"]
    assert "CERT_FILE_UNREADABLE" in status["reloads"]["last_error"]
    assert served_fingerprint(r.port) == fingerprint_of(a)
    fresh = tmp_path / "tls.new"
    fresh.mkdir()
    replace_atomically(b, fresh / "cert.pem")
    replace_atomically(bk, fresh / "key.pem")
    fresh.rename(live)
    wait_for_fingerprint(r.port, fingerprint_of(b), timeout=10.0)  # a 1 s re-watch retry, slow under load
    # the new directory is watched from then on
    replace_atomically(a, cert)
    replace_atomically(ak, key)
    wait_for_fingerprint(r.port, fingerprint_of(a))
    assert str(live) not in r.stderr()  # the directory of a protected path is not logged either


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_resume_across_renewal(pki, model, start_router, tmp_path, version):
    a, ak = leaf(pki, f"res-a-{version.name}")
    b, bk = leaf(pki, f"res-b-{version.name}")
    live, cert, key = live_pair(tmp_path, a, ak)
    r = start_router(pem_settings(pki, model, cert, key), workers=1)
    ctx = tls_context(pki, version)
    session, _ = one_request(ctx, r.port)
    replace_atomically(b, cert)
    replace_atomically(bk, key)
    wait_for_fingerprint(r.port, fingerprint_of(b))
    assert one_request(ctx, r.port, session)[1], "a ticket from before the renewal should still resume"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_replicas_sharing_a_ticket_key_file_resume_each_others_sessions(pki, model, tmp_path, version):
    """inferenceRouterHA runs 3 replicas behind one Service: with router.session_ticket_key_file
    (a shared Secret) a client resumes on whichever replica it reaches. Without it, each process
    has its own keys and the same client pays a full handshake (the control case)."""
    a, ak = leaf(pki, f"replica-{version.name}")
    ticket_key = tmp_path / "ticket.key"
    ticket_key.write_bytes(os.urandom(160))  # two keys: the first seals, both open
    ctx = tls_context(pki, version)

    routers = []
    try:
        for name, shared in (("one", True), ("two", True), ("alone", False)):
            d = tmp_path / name
            d.mkdir()
            s = pem_settings(pki, model, a, ak)
            if shared:
                s["router"]["session_ticket_key_file"] = str(ticket_key)
            routers.append(Router(d, s, workers=1))
        one, two, alone = routers
        session, _ = one_request(ctx, one.port)
        assert one_request(ctx, two.port, session)[1], "a ticket from replica one should resume on two"
        assert not one_request(ctx, alone.port, session)[1], "a process with its own keys cannot open it"
        ids = [json.loads(r.admin("/status")[1])["session_tickets"] for r in routers]
        assert ids[0] == ids[1] and ids[0]["keys"] == "router.session_ticket_key_file", ids
        assert ids[0]["count"] == 2 and ids[2]["encrypting_key_id"] != ids[0]["encrypting_key_id"]
        # the operator rotates: a new key first, the old ones after it; both replicas reload
        old = ticket_key.read_bytes()
        replace = tmp_path / "ticket.key.new"
        replace.write_bytes(os.urandom(80) + old[:80])
        os.replace(replace, ticket_key)
        for r in (one, two):
            deadline = time.monotonic() + 5
            while json.loads(r.admin("/status")[1])["session_tickets"] == ids[0]:
                assert time.monotonic() < deadline, "the new ticket key file was not picked up"
                time.sleep(0.05)
        assert one_request(ctx, two.port, session)[1], "a ticket sealed with the now-older key still opens"
        # a bad file is refused on reload and the keys in use stay
        ticket_key.write_bytes(b"short")
        code, body = one.admin("/-/reload", method="POST")
        assert code == 422 and "TICKET_KEY_FILE_INVALID" in body
        assert one_request(ctx, one.port, session)[1]
    finally:
        for r in routers:
            r.stop()


def test_unreadable_ticket_key_file_refuses_start(pki, model, tmp_path):
    a, ak = leaf(pki, "ticket-missing")
    s = pem_settings(pki, model, a, ak)
    s["router"]["session_ticket_key_file"] = str(tmp_path / "nope.key")
    cfg = tmp_path / "scoregate.yaml"
    cfg.write_text(json.dumps(s))
    p = subprocess.run([BIN, "serve", "-f", str(cfg), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "TICKET_KEY_FILE_UNREADABLE error" in p.stderr, p.stderr


def test_status_never_shows_protected_settings(pki, model, start_router, tmp_path):
    a, ak = leaf(pki, "status-a")
    secrets = tmp_path / "secrets"
    vol = KubeletSecretDir(secrets, "hidden-tls-name")
    vol.publish(a, ak)
    s = settings_for(pki, [model.address])
    s["protected"] = {"sslSecret": "hidden-tls-name", "sslCname": "localhost"}
    del s["extension"]["sslCname"]
    s["router"]["secrets_dir"] = str(secrets)
    r = start_router(s)
    status = r.admin("/status")[1]
    assert "hidden-tls-name" not in status and "(protected)" in status
    cert = json.loads(status)["certificate"]
    assert cert["sslCname"] == "(protected)" and cert["fingerprint_sha256"] == fingerprint_of(a)
    assert "hidden-tls-name" not in r.admin("/metrics")[1]
    assert "hidden-tls-name" not in r.stderr()


def test_renewal_under_http2_load_loses_nothing(pki, model, start_router, tmp_path):
    """The same rotation under HTTP/2 load (README "HTTP/2 and gRPC"): h2load multiplexes
    keep-alive streams while curl opens a new HTTP/2 connection (full handshake) per request.
    Every reload sends the h2load connections the two-step GOAWAY; h2load does not reconnect
    after one, so the curl loop carries on. Every request that reached the router must succeed:
    the router counts exactly h2load's successes plus curl's. h2load may count a few requests
    as failed that never left it: a request it submits while the notice is already in its read
    buffer is cancelled by its own nghttp2 (START_STREAM_NOT_ALLOWED), at most its -m (8) per
    connection — a gRPC client retries those transparently."""
    a, ak = leaf(pki, "renew-h2-a")
    b, bk = leaf(pki, "renew-h2-b")
    live, cert, key = live_pair(tmp_path, a, ak)
    s = pem_settings(pki, model, cert, key)
    s["endpoints"][0]["deployments"][0]["request_settings"] = {
        "max_concurrent_requests_per_instance": 64, "max_queue_length": 1000}
    r = start_router(s)
    body = tmp_path / "body.json"
    body.write_text('{"data": [[1, 2, 3]]}')
    h2load = subprocess.Popen(["h2load", "-D", "5", "-c", "4", "-m", "8", "-d", str(body),
                               "-H", f"authorization: Bearer {KEY}", r.url("/api/v1/endpoint/fraud/score")],
                              stdout=subprocess.PIPE, text=True)
    fresh = {"ok": 0, "failed": []}
    stop = threading.Event()

    def new_connections():
        while not stop.is_set():
            p = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(pki / "ca.pem"), "-o", "/dev/null",
                                "-w", "%{http_code} %{http_version}", "-H", f"Authorization: Bearer {KEY}",
                                r.url("/api/v1/endpoint/fraud/health")], capture_output=True, text=True, timeout=10)
            if p.stdout == "200 2":
                fresh["ok"] += 1
            else:
                fresh["failed"].append(p.stdout + p.stderr)
    t = threading.Thread(target=new_connections)
    t.start()
    time.sleep(0.5)
    for i in range(12):
        src, src_key = (b, bk) if i % 2 == 0 else (a, ak)
        replace_atomically(src, cert)
        replace_atomically(src_key, key)
        wait_for_fingerprint(r.port, fingerprint_of(src))
        time.sleep(0.1)
    out, _ = h2load.communicate(timeout=30)
    stop.set()
    t.join()
    print("renewal under HTTP/2 load:", out.splitlines()[-8:], fresh["ok"], "new connections")
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored",
                  out)
    assert m, out
    succeeded, failed, errored = int(m.group(4)), int(m.group(5)), int(m.group(6))
    assert succeeded > 100 and failed == errored <= 4 * 8, out
    assert re.search(r"status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx", out), out
    assert fresh["failed"] == [] and fresh["ok"] > 5, fresh
    metrics = r.admin("/metrics")[1]
    received = int(re.search(r'scoregate_protocol_requests_total\{protocol="h2"\} (\d+)', metrics).group(1))
    assert received == succeeded + fresh["ok"], (received, succeeded, fresh["ok"], out)
    router_errors = re.findall(r"^scoregate_router_errors_total\S* (\d+)$", metrics, re.M)
    assert router_errors and set(router_errors) == {"0"}, metrics
    status = json.loads(r.admin("/status")[1])
    assert status["reloads"]["ok"] >= 12 and status["reloads"]["failed"] == 0
