"""Certificate checks through the real binary (issue 3): `serve` refuses every bad certificate
with its code and exit 1 and prints no protected value; `cert check`, `cert dev`,
`secret create`; sslSecret layouts that actually serve HTTPS; and "bad input, nothing lost":
a running router keeps its certificate and connections through refused reloads."""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time

import pytest

from certgen import SECRET_MARK, Pki, fingerprint, material
from conftest import BIN, KEY, Router

SCORE = json.dumps({"data": [[1, 2, 3]]}).encode()
ENDPOINT_KEY = "endpoint-key-never-printed-9d41c7"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return material(tmp_path_factory)


def scoregate(*args, timeout=20):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def problem_codes(text):
    """{code: severity} of every 'CODE error:' / 'CODE warning:' line."""
    return {m.group(1): m.group(2)
            for m in re.finditer(r"^\s*(?:\S+ \S+ )?([A-Z][A-Z0-9_]+) (error|warning): ", text, re.M)}


def no_protected_values(*texts):
    for t in texts:
        assert SECRET_MARK not in t, f"a protected path was printed:\n{t}"
        assert ENDPOINT_KEY not in t and KEY not in t, f"an endpoint key was printed:\n{t}"


def settings_file(tmp_path, certs, cert, key, cname="a.test", trusted=True, extra=None):
    s = {"extension": {"sslCname": cname},
         "protected": {"sslCertPemFile": str(cert), "sslKeyPemFile": str(key)},
         "router": {"trusted_ca_file": str(certs.root)} if trusted else {},
         "endpoints": [{"name": "fraud", "keys": {"primary": ENDPOINT_KEY},
                        "deployments": [{"name": "blue", "targets": ["127.0.0.1:5001"]}]}]}
    for k, v in (extra or {}).items():
        s.setdefault(k, {}).update(v)
    f = tmp_path / "scoregate.yaml"
    f.write_text(json.dumps(s))
    return f


def serve_refused(tmp_path, certs, cert, key, *, errors, warnings=(), cname="a.test", trusted=True):
    """Runs serve with these files; it must refuse with exactly these error codes."""
    f = settings_file(tmp_path, certs, cert, key, cname=cname, trusted=trusted)
    p = scoregate("serve", "-f", f, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                  "--workers", "1")
    assert p.returncode == 1, f"exit {p.returncode}:\n{p.stderr}"
    assert "refusing to start" in p.stderr
    found = problem_codes(p.stderr)
    assert {c for c, s in found.items() if s == "error"} == set(errors), p.stderr
    for w in warnings:
        assert found.get(w) == "warning", p.stderr
    no_protected_values(p.stdout, p.stderr)
    return p.stderr


def check(*args):
    return scoregate("cert", "check", *args)


def https_get(port, ca, host="a.test", path="/"):
    """curl with full verification of `host` against `ca`; returns (curl exit, http status)."""
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                        "--cacert", str(ca), "--resolve", f"{host}:{port}:127.0.0.1",
                        f"https://{host}:{port}{path}"], capture_output=True, text=True, timeout=15)
    return p.returncode, p.stdout, p.stderr


def served_fingerprint(port, host="a.test"):
    """The SHA-256 fingerprint of the certificate a fresh TLS connection gets."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", host],
                       input=b"", capture_output=True, timeout=15)
    pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", p.stdout, re.S)
    assert pem, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    x = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem.group(0),
                       capture_output=True, timeout=10)
    return x.stdout.decode().strip().split("=", 1)[1]


# ---------------------------------------------------------------- serve refuses ------

def test_good_chain_serves_https(tmp_path, certs):
    r = Router(tmp_path, json.loads(settings_file(tmp_path, certs, certs.good, certs.good_key).read_text()),
               workers=1)
    try:
        rc, status, err = https_get(r.port, certs.root)
        assert rc == 0 and status == "404", err  # verified TLS; no such endpoint
        assert served_fingerprint(r.port) == fingerprint(certs.good)
        assert not {c for c, s in problem_codes(r.stderr()).items() if s == "error"}
    finally:
        r.stop()
    no_protected_values(r.stderr(), "".join(r.stdout_lines))


def test_missing_certificate_file(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.dir / "nope" / "cert.pem", certs.good_key,
                        errors={"CERT_FILE_UNREADABLE"})
    assert "No such file or directory" in err


def test_unreadable_key_file(tmp_path, certs):
    # (tests may run as root, where chmod 000 does not stop reads: a directory and a FIFO do)
    err = serve_refused(tmp_path, certs, certs.good, certs.dir, errors={"KEY_FILE_UNREADABLE"})
    assert "Is a directory" in err
    fifo = certs.dir / "key.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    err = serve_refused(tmp_path, certs, certs.good, fifo, errors={"KEY_FILE_UNREADABLE"})
    assert "not a regular file" in err


def test_garbage_certificate(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.garbage, certs.good_key, errors={"CERT_NOT_PEM"})


def test_der_certificate_and_key_are_accepted_with_warnings(tmp_path, certs):
    # DER holds one certificate: the intermediate is trusted via trusted_ca_file here.
    ca_bundle = tmp_path / "cas.pem"
    ca_bundle.write_text(certs.root.read_text() + certs.pki.path("inter.crt").read_text())
    s = json.loads(settings_file(tmp_path, certs, certs.der, certs.pki.der_key("good")).read_text())
    s["router"]["trusted_ca_file"] = str(ca_bundle)
    r = Router(tmp_path, s, workers=1)
    try:
        found = problem_codes(r.stderr())
        assert found.get("CERT_DER") == "warning" and found.get("KEY_DER") == "warning", r.stderr()
        assert "openssl x509 -inform der" in r.stderr()
        assert served_fingerprint(r.port) == fingerprint(certs.good)
    finally:
        r.stop()
    no_protected_values(r.stderr())


def test_pkcs12_is_refused_with_the_conversion_command(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.p12, certs.good_key, errors={"CERT_PKCS12"})
    assert "openssl pkcs12 -in bundle.p12 -nokeys -out cert.pem" in err
    assert "openssl pkcs12 -in bundle.p12 -nocerts -nodes -out key.pem" in err
    err = serve_refused(tmp_path, certs, certs.good, certs.p12, errors={"KEY_PKCS12"})


def test_passphrase_key_is_refused_with_the_removal_command(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.good, certs.encrypted_key, errors={"KEY_ENCRYPTED"})
    assert "openssl pkey -in key.pem -out key-nopass.pem" in err
    assert "test-passphrase" not in err


def test_key_mismatch(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.good, certs.other_key, errors={"KEY_MISMATCH"})


def test_swapped_files(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.good_key, certs.good, errors={"CERT_EMPTY", "KEY_EMPTY"})


def test_expired_certificate(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.expired, certs.expired_key, errors={"CERT_EXPIRED"})
    assert "expired on" in err


def test_every_problem_is_listed_in_one_round(tmp_path, certs):
    """A misspelt key, a rule between settings and an expired certificate: all three at once,
    so a user fixes the file once rather than three times."""
    f = settings_file(tmp_path, certs, certs.expired, certs.expired_key,
                      extra={"router": {"max_header_byts": 4096}})
    s = json.loads(f.read_text())
    s["endpoints"][0]["traffic"] = {"blue": 90}
    f.write_text(json.dumps(s))
    p = scoregate("serve", "-f", f, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1, p.stderr
    errors = {c for c, sev in problem_codes(p.stderr).items() if sev == "error"}
    assert errors == {"SETTING_UNKNOWN", "TRAFFIC_SUM", "CERT_EXPIRED"}, p.stderr
    assert "max_header_bytes" in p.stderr  # the nearest known key is suggested
    no_protected_values(p.stdout, p.stderr)


def serve_errors(tmp_path, certs, change):
    f = settings_file(tmp_path, certs, certs.good, certs.good_key)
    s = json.loads(f.read_text())
    change(s)
    f.write_text(json.dumps(s))
    p = scoregate("serve", "-f", f, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1, p.stderr
    no_protected_values(p.stdout, p.stderr)
    return {c for c, sev in problem_codes(p.stderr).items() if sev == "error"}, p.stderr


def test_one_mistake_is_reported_once_not_again_as_missing(tmp_path, certs):
    """A setting that could not be read is not also reported by the rules that need it."""
    def bad_bool(s):
        s["extension"]["allowInsecureConnections"] = "yes"

    def bad_bool_meaning_plain_http(s):
        s["extension"] = {"allowInsecureConnections": "yes"}
        del s["protected"]

    def protected_in_extension(s):
        s["extension"]["sslCertPemFile"] = s["protected"].pop("sslCertPemFile")

    def misspelt_cname(s):
        s["extension"]["sslCnmae"] = s["extension"].pop("sslCname")

    def cname_with_scheme(s):
        s["extension"]["sslCname"] = "https://a.test"

    def misspelt_section(s):
        s["extention"] = s.pop("extension")

    def deployments_not_a_list(s):
        s["endpoints"][0]["deployments"] = "blue"

    cases = [(bad_bool, {"SETTING_INVALID_VALUE"}),
             (bad_bool_meaning_plain_http, {"SETTING_INVALID_VALUE"}),  # not TLS_NO_SOURCE
             (protected_in_extension, {"SETTING_PROTECTED"}),
             (misspelt_cname, {"SETTING_UNKNOWN"}),
             (cname_with_scheme, {"SETTING_INVALID_VALUE"}),  # not also CERT_NAME_MISMATCH
             (misspelt_section, {"SETTING_UNKNOWN"}),  # not TLS_CNAME_MISSING
             (deployments_not_a_list, {"SETTING_INVALID_VALUE"})]
    for change, expected in cases:
        errors, err = serve_errors(tmp_path, certs, change)
        assert errors == expected, (change.__name__, err)


def test_a_broken_certificate_source_stops_the_certificate_checks(tmp_path, certs):
    f = settings_file(tmp_path, certs, certs.expired, certs.expired_key)
    s = json.loads(f.read_text())
    s["extension"]["sslSecret"] = "scoring-tls"  # and the PEM files: which one is meant?
    f.write_text(json.dumps(s))
    p = scoregate("serve", "-f", f, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1, p.stderr
    errors = {c for c, sev in problem_codes(p.stderr).items() if sev == "error"}
    assert errors == {"TLS_SOURCE_CONFLICT"}, p.stderr


def test_not_yet_valid_certificate(tmp_path, certs):
    p = Pki(certs.dir)
    p.issue("future", "inter", sans=certs.NAMES, shift="+30d")
    chain = p.chain("future-chain", "future", "inter")
    err = serve_refused(tmp_path, certs, chain, p.path("future.key"), errors={"CERT_NOT_YET_VALID"})
    assert "date -u" in err


def test_expiring_soon_is_a_warning_only(tmp_path, certs):
    p = Pki(certs.dir)
    p.issue("soon", "inter", sans=certs.NAMES, days=10)
    chain = p.chain("soon-chain", "soon", "inter")
    out = check("--cert", chain, "--key", p.path("soon.key"), "--cname", "a.test",
                "--ca-file", certs.root)
    assert out.returncode == 0, out.stdout
    assert problem_codes(out.stdout) == {"CERT_EXPIRES_SOON": "warning"}, out.stdout


def test_cname_not_covered_lists_the_names(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.good, certs.good_key, cname="scoring.example.com",
                        errors={"CERT_NAME_MISMATCH"})
    assert "it covers: a.test, localhost, IP:127.0.0.1" in err


@pytest.mark.parametrize("cname,covered", [
    ("a.example.com", True), ("scoring.example.com", True),
    ("example.com", False), ("a.b.example.com", False), ("aexample.com", False)])
def test_wildcard_covers_exactly_one_label(certs, cname, covered):
    p = check("--cert", certs.wild, "--key", certs.wild_key, "--cname", cname, "--ca-file", certs.root)
    assert p.returncode == (0 if covered else 1), p.stdout
    if not covered:
        assert problem_codes(p.stdout) == {"CERT_NAME_MISMATCH": "error"}, p.stdout
        assert "it covers: *.example.com" in p.stdout


def test_wildcard_refused_by_serve(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.wild, certs.wild_key, cname="a.b.example.com",
                  errors={"CERT_NAME_MISMATCH"})


@pytest.mark.parametrize("cname,covered", [("127.0.0.1", True), ("127.0.0.2", False),
                                           ("a.test,localhost,127.0.0.1", True),
                                           ("a.test,b.test", False)])
def test_ip_and_several_names(certs, cname, covered):
    p = check("--cert", certs.good, "--key", certs.good_key, "--cname", cname, "--ca-file", certs.root)
    assert p.returncode == (0 if covered else 1), p.stdout


def test_missing_intermediate_vs_complete_chain(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.leaf_only, certs.good_key,
                        errors={"CERT_CHAIN_INCOMPLETE"})
    assert "CN=scoregate test intermediate CA" in err  # names the missing issuer
    # the same leaf with its intermediate: fine
    p = check("--cert", certs.good, "--key", certs.good_key, "--cname", "a.test", "--ca-file", certs.root)
    assert p.returncode == 0 and "no problems found" in p.stdout, p.stdout
    # with the root in the file but no trusted root: only a warning (private PKI)
    p = check("--cert", certs.good_full, "--key", certs.good_key, "--cname", "a.test")
    assert p.returncode == 0, p.stdout
    assert problem_codes(p.stdout) == {"CERT_UNTRUSTED_ROOT": "warning"}, p.stdout
    # without root in file and without --ca-file: complete up to a private root (a warning)
    p = check("--cert", certs.good, "--key", certs.good_key, "--cname", "a.test")
    assert p.returncode == 0, p.stdout
    assert problem_codes(p.stdout) == {"CERT_CHAIN_PRIVATE_ROOT": "warning"}, p.stdout


def test_out_of_order_chain(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.out_of_order, certs.good_key,
                        errors={"CERT_CHAIN_ORDER"})
    assert "1. 'CN=good', 2. 'CN=scoregate test intermediate CA'" in err  # the right order


def test_rsa_1024_is_weak(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.rsa1024, certs.rsa1024_key, errors={"KEY_WEAK"})
    assert "RSA 1024" in err


def test_sha1_signature(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.sha1, certs.sha1_key, errors={"CERT_WEAK_SIGNATURE"})
    assert "sha1" in err.lower()


def test_client_auth_only_certificate(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.client_only, certs.client_only_key,
                        errors={"CERT_NOT_SERVER_AUTH"})
    assert "clientAuth" in err


def test_self_signed_starts_with_a_warning(tmp_path, certs):
    p = Pki(certs.dir)
    cert = p.self_signed("selfsigned", sans=certs.NAMES)
    r = Router(tmp_path, json.loads(settings_file(tmp_path, certs, cert, p.path("selfsigned.key"),
                                                  trusted=False).read_text()), workers=1)
    try:
        assert problem_codes(r.stderr()).get("CERT_SELF_SIGNED") == "warning", r.stderr()
        rc, status, err = https_get(r.port, cert)
        assert rc == 0 and status == "404", err
    finally:
        r.stop()


def test_every_problem_at_once(tmp_path, certs):
    # expired + SHA-1 + not covered + mismatched key, one run
    p = Pki(certs.dir)
    p.issue("multi", "inter", sans=("DNS:x.test",), md="sha1", days=30, shift="-400d")
    chain = p.chain("multi-chain", "multi", "inter")
    serve_refused(tmp_path, certs, chain, certs.other_key,
                  errors={"CERT_EXPIRED", "CERT_WEAK_SIGNATURE", "CERT_NAME_MISMATCH", "KEY_MISMATCH"})


# ---------------------------------------------------------------- sslSecret ------------

def secret_dir_layout(d, name, certs, kubelet=False, files=("cert.pem", "key.pem")):
    src = {"cert.pem": certs.good, "key.pem": certs.good_key}
    top = d / name
    top.mkdir(parents=True)
    if not kubelet:
        for f in files:
            shutil.copy(src[f], top / f)
        return top
    # the kubelet's atomic writer: a timestamped dir, ..data -> it, files -> ..data/file
    stamp = top / "..2024_01_01_00_00_00.000000001"
    stamp.mkdir()
    for f in files:
        shutil.copy(src[f], stamp / f)
    os.symlink(stamp.name, top / "..data")
    for f in files:
        os.symlink(f"..data/{f}", top / f)
    return top


def manifest(name, certs, namespace="azureml", keys=("cert.pem", "key.pem")):
    src = {"cert.pem": certs.good, "key.pem": certs.good_key}
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}",
             f"  namespace: {namespace}", "type: Opaque", "data:"]
    for k in keys:
        lines.append(f"  {k}: {base64.b64encode(src[k].read_bytes()).decode()}")
    return "\n".join(lines) + "\n"


def serve_secret(tmp_path, certs, secrets, name="scoring-tls"):
    s = {"extension": {"sslSecret": name, "sslCname": "a.test"},
         "router": {"trusted_ca_file": str(certs.root)}}
    return Router(tmp_path, s, extra_args=("--secrets-dir", str(secrets)), workers=1)


@pytest.mark.parametrize("layout", ["directory", "kubelet", "manifest", "manifest-yml"])
def test_secret_layouts_serve_https(tmp_path, certs, layout):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    if layout == "directory":
        secret_dir_layout(secrets, "scoring-tls", certs)
    elif layout == "kubelet":
        secret_dir_layout(secrets, "scoring-tls", certs, kubelet=True)
    else:
        ext = ".yaml" if layout == "manifest" else ".yml"
        (secrets / f"scoring-tls{ext}").write_text(manifest("scoring-tls", certs))
    r = serve_secret(tmp_path, certs, secrets)
    try:
        rc, status, err = https_get(r.port, certs.root)
        assert rc == 0 and status == "404", err
        assert served_fingerprint(r.port) == fingerprint(certs.good)
        _, body = r.admin("/status")
        assert json.loads(body)["certificate"]["source"] == "sslSecret scoring-tls"
    finally:
        r.stop()
    # cert check reads the same secret
    p = check("--secret", "scoring-tls", "--secrets-dir", secrets, "--cname", "a.test",
              "--ca-file", certs.root)
    assert p.returncode == 0 and "no problems found" in p.stdout, p.stdout + p.stderr
    assert fingerprint(certs.good) in p.stdout


def secret_refused(tmp_path, certs, secrets, *errors, name="scoring-tls"):
    s = tmp_path / "scoregate.yaml"
    s.write_text(json.dumps({"extension": {"sslSecret": name, "sslCname": "a.test"}}))
    p = scoregate("serve", "-f", s, "--secrets-dir", secrets, "--listen", "127.0.0.1:0",
                  "--admin", "127.0.0.1:0", "--workers", "1")
    assert p.returncode == 1, p.stderr
    assert {c for c, sev in problem_codes(p.stderr).items() if sev == "error"} == set(errors), p.stderr
    return p.stderr


def test_secret_in_wrong_namespace(tmp_path, certs):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "scoring-tls.yaml").write_text(manifest("scoring-tls", certs, namespace="default"))
    err = secret_refused(tmp_path, certs, secrets, "SECRET_NAMESPACE")
    assert "'default'" in err and "-n azureml" in err


@pytest.mark.parametrize("layout", ["directory", "kubelet", "manifest"])
def test_secret_without_key_pem(tmp_path, certs, layout):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    if layout == "manifest":
        (secrets / "scoring-tls.yaml").write_text(manifest("scoring-tls", certs, keys=("cert.pem",)))
    else:
        secret_dir_layout(secrets, "scoring-tls", certs, kubelet=layout == "kubelet", files=("cert.pem",))
    err = secret_refused(tmp_path, certs, secrets, "SECRET_KEY_MISSING")
    assert "key.pem" in err


def test_secret_with_neither_pair_names_both(tmp_path, certs):
    # tls.crt/tls.key is served (test_cert_sources.py); other names are explained
    secrets = tmp_path / "secrets"
    (secrets / "scoring-tls").mkdir(parents=True)
    shutil.copy(certs.good, secrets / "scoring-tls" / "server.crt")
    shutil.copy(certs.good_key, secrets / "scoring-tls" / "server.key")
    err = secret_refused(tmp_path, certs, secrets, "SECRET_KEY_MISSING")
    assert "tls.crt" in err and "cert.pem" in err and "server.crt" in err


def test_secret_not_found(tmp_path, certs):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    err = secret_refused(tmp_path, certs, secrets, "SECRET_NOT_FOUND")
    assert "scoring-tls.yaml" in err


# ---------------------------------------------------------------- cert check -----------

def test_cert_check_summary_matches_openssl(certs):
    p = check("--cert", certs.good, "--key", certs.good_key, "--cname", "a.test,127.0.0.1",
              "--ca-file", certs.root)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert re.search(r"subject:\s+CN=good\n", out)
    assert re.search(r"issuer:\s+CN=scoregate test intermediate CA\n", out)
    assert re.search(r"names:\s+a\.test localhost 127\.0\.0\.1\n", out)
    assert re.search(r"key:\s+ECDSA P-256\n", out)
    assert re.search(r"valid:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ to \d{4}-", out)
    assert f"SHA-256:     {fingerprint(certs.good)}\n" in out
    assert "[0] CN=good\n" in out and "[1] CN=scoregate test intermediate CA\n" in out
    assert "no problems found" in out


def test_cert_check_prints_summary_and_every_problem_on_errors(certs):
    p = check("--cert", certs.expired, "--key", certs.other_key, "--cname", "b.test",
              "--ca-file", certs.root)
    assert p.returncode == 1
    assert f"SHA-256:     {fingerprint(certs.expired)}" in p.stdout  # summary despite errors
    assert "subject:     CN=expired" in p.stdout
    assert problem_codes(p.stdout) == {"CERT_EXPIRED": "error", "KEY_MISMATCH": "error",
                                       "CERT_NAME_MISMATCH": "error"}, p.stdout


def test_cert_check_rsa_key_description(certs):
    p = check("--cert", certs.rsa1024, "--key", certs.rsa1024_key, "--ca-file", certs.root)
    assert p.returncode == 1
    assert re.search(r"key:\s+RSA 1024\n", p.stdout)
    assert problem_codes(p.stdout) == {"KEY_WEAK": "error"}, p.stdout


def test_cert_check_unreadable_and_unparsable_input(certs, tmp_path):
    p = check("--cert", tmp_path / "missing.pem", "--key", certs.good_key)
    assert p.returncode == 1 and "CERT_FILE_UNREADABLE" in p.stdout
    p = check("--cert", certs.garbage, "--key", certs.good_key)
    assert p.returncode == 1 and "CERT_NOT_PEM" in p.stdout
    assert "subject:" not in p.stdout  # no certificate, no summary
    p = check("--cert", certs.good, "--key", certs.good_key, "--ca-file", tmp_path / "none.pem")
    assert p.returncode == 1 and "CERT_CA_FILE_INVALID" in p.stdout


def test_cert_check_secret_not_found_in_default_volume(certs):
    p = check("--secret", "no-such-secret-for-tests")
    assert p.returncode == 1 and "SECRET_NOT_FOUND" in p.stdout
    assert "/etc/scoregate/secrets/no-such-secret-for-tests" in p.stdout


# ---------------------------------------------------------------- cert dev -------------

def test_cert_dev_makes_a_ca_and_a_certificate_openssl_accepts(tmp_path):
    out = tmp_path / "dev"
    p = scoregate("cert", "dev", "--cname", "a.test,127.0.0.1", "--out", out)
    assert p.returncode == 0, p.stderr
    assert "development only" in p.stdout and "never production" in p.stdout
    assert "created" in p.stdout
    v = subprocess.run(["openssl", "verify", "-CAfile", out / "dev-ca.pem", out / "cert.pem"],
                       capture_output=True, text=True)
    assert v.returncode == 0 and ": OK" in v.stdout, v.stdout + v.stderr
    for flag, name in (("-checkhost", "a.test"), ("-checkip", "127.0.0.1")):
        c = subprocess.run(["openssl", "x509", "-in", out / "cert.pem", "-noout", flag, name],
                           capture_output=True, text=True)
        assert "does match certificate" in c.stdout, c.stdout
    c = subprocess.run(["openssl", "x509", "-in", out / "cert.pem", "-noout", "-checkhost", "b.test"],
                       capture_output=True, text=True)
    assert "does NOT match" in c.stdout
    assert oct(os.stat(out / "key.pem").st_mode & 0o777) == "0o600"
    # the pair passes scoregate's own checks when the dev CA is trusted
    p = check("--cert", out / "cert.pem", "--key", out / "key.pem", "--cname", "a.test,127.0.0.1",
              "--ca-file", out / "dev-ca.pem")
    assert p.returncode == 0 and "no problems found" in p.stdout, p.stdout
    # a second run reuses it
    again = scoregate("cert", "dev", "--cname", "a.test,127.0.0.1", "--out", out)
    assert again.returncode == 0 and "reused" in again.stdout


def test_cert_dev_refuses_a_bad_name(tmp_path):
    p = scoregate("cert", "dev", "--cname", "a b", "--out", tmp_path / "dev")
    assert p.returncode != 0 and "neither a DNS name nor an IP address" in p.stderr


# ---------------------------------------------------------------- secret create --------

def parse_manifest(text):
    data, meta, top = {}, {}, {}
    section = None
    for line in text.splitlines():
        if not line.startswith(" "):
            k, _, v = line.partition(":")
            section, top[k] = k, v.strip()
        else:
            k, _, v = line.strip().partition(": ")
            (data if section == "data" else meta)[k] = v
    return top, meta, data


def test_secret_create_prints_a_manifest_that_decodes_to_the_input(certs, tmp_path):
    p = scoregate("secret", "create", "--name", "scoring-tls", "--cert", certs.good,
                  "--key", certs.good_key, "--ca-file", certs.root, "--cname", "a.test")
    assert p.returncode == 0, p.stderr
    top, meta, data = parse_manifest(p.stdout)
    assert top["apiVersion"] == "v1" and top["kind"] == "Secret" and top["type"] == "Opaque"
    assert meta == {"name": "scoring-tls", "namespace": "azureml"}
    assert base64.b64decode(data["cert.pem"]) == certs.good.read_bytes()
    assert base64.b64decode(data["key.pem"]) == certs.good_key.read_bytes()
    no_protected_values(p.stdout, p.stderr)
    # and serve reads that manifest back
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "scoring-tls.yaml").write_text(p.stdout)
    c = check("--secret", "scoring-tls", "--secrets-dir", secrets, "--ca-file", certs.root)
    assert c.returncode == 0, c.stdout


def test_secret_create_refuses_a_mismatched_pair(certs):
    p = scoregate("secret", "create", "--name", "scoring-tls", "--cert", certs.good,
                  "--key", certs.other_key, "--ca-file", certs.root)
    assert p.returncode == 1
    assert p.stdout == ""  # no manifest
    assert "KEY_MISMATCH" in p.stderr and "no manifest written" in p.stderr


def test_secret_create_other_namespace_warns(certs):
    p = scoregate("secret", "create", "--name", "scoring-tls", "--cert", certs.good,
                  "--key", certs.good_key, "--ca-file", certs.root, "--namespace", "prod")
    assert p.returncode == 0
    assert "namespace: prod" in p.stdout and "azureml" in p.stderr


# ---------------------------------------------------------------- bad input, nothing lost

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


# ---------------------------------------------------------------- protected sslSecret / sslCname

HIDDEN = "hidden-name-3c9d"


def test_protected_secret_name_is_never_printed(tmp_path, certs):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    p = scoregate("serve", "--config-protected", f"sslSecret={HIDDEN}", "--config", "sslCname=a.test",
                  "--secrets-dir", secrets, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1 and "SECRET_NOT_FOUND" in p.stderr, p.stderr
    assert HIDDEN not in p.stdout + p.stderr, p.stderr
    (secrets / f"{HIDDEN}.yaml").write_text(manifest(HIDDEN, certs, namespace="default"))
    p = scoregate("serve", "--config-protected", f"sslSecret={HIDDEN}", "--config", "sslCname=a.test",
                  "--secrets-dir", secrets, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1 and "SECRET_NAMESPACE" in p.stderr, p.stderr
    assert HIDDEN not in p.stdout + p.stderr, p.stderr


def test_protected_cname_is_never_printed(tmp_path, certs):
    p = scoregate("serve", "--config-protected", f"sslCname={HIDDEN}.example.com",
                  "--config-protected", f"sslCertPemFile={certs.good}",
                  "--config-protected", f"sslKeyPemFile={certs.good_key}",
                  "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1 and "CERT_NAME_MISMATCH" in p.stderr, p.stderr
    assert "sslCname (protected)" in p.stderr
    assert HIDDEN not in p.stdout + p.stderr, p.stderr
    no_protected_values(p.stdout, p.stderr)


def test_secret_create_writes_der_input_as_pem(certs, tmp_path):
    # a DER file may hold several certificates back to back: leaf and intermediate here
    der_chain = tmp_path / "chain.der"
    der_chain.write_bytes(certs.der.read_bytes() + certs.pki.der("inter").read_bytes())
    p = scoregate("secret", "create", "--name", "scoring-tls", "--cert", der_chain,
                  "--key", certs.pki.der_key("good"), "--ca-file", certs.root)
    assert p.returncode == 0, p.stderr
    assert "CERT_DER" in p.stderr and "KEY_DER" in p.stderr
    _, _, data = parse_manifest(p.stdout)
    cert = base64.b64decode(data["cert.pem"])
    key = base64.b64decode(data["key.pem"])
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----") and key.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert cert == certs.good.read_bytes()  # openssl writes the same PEM: leaf, intermediate
    same = subprocess.run(["openssl", "pkey", "-pubout"], input=key, capture_output=True)
    want = subprocess.run(["openssl", "pkey", "-in", str(certs.good_key), "-pubout"], capture_output=True)
    assert same.stdout == want.stdout and same.stdout


def test_secret_create_refuses_a_bad_namespace(certs):
    p = scoregate("secret", "create", "--name", "scoring-tls", "--cert", certs.good,
                  "--key", certs.good_key, "--namespace", "Not_A_Namespace")
    assert p.returncode == 2 and p.stdout == ""


@pytest.mark.parametrize("form", ["pkcs8-pem", "traditional-pem", "pkcs8-der"])
def test_every_passphrase_key_form_is_refused(tmp_path, certs, form):
    out = tmp_path / f"key.{form}"
    src = str(certs.good_key)
    if form == "pkcs8-pem":
        cmd = ["openssl", "pkey", "-in", src, "-aes256", "-passout", "pass:pw", "-out", out]
    elif form == "traditional-pem":
        cmd = ["openssl", "ec", "-in", src, "-aes256", "-passout", "pass:pw", "-out", out]
    else:
        cmd = ["openssl", "pkcs8", "-topk8", "-in", src, "-v2", "aes256", "-passout", "pass:pw",
               "-outform", "der", "-out", out]
    subprocess.run(list(map(str, cmd)), check=True, capture_output=True)
    p = check("--cert", certs.good, "--key", out, "--ca-file", certs.root)
    assert p.returncode == 1
    assert problem_codes(p.stdout) == {"KEY_ENCRYPTED": "error"}, p.stdout
    assert "openssl pkey" in p.stdout and "key-nopass.pem" in p.stdout


def test_extra_unrelated_certificate_is_a_warning(certs, tmp_path):
    chain = tmp_path / "chain.pem"
    chain.write_text(certs.good.read_text() + certs.pki.path("wild.crt").read_text())
    p = check("--cert", chain, "--key", certs.good_key, "--cname", "a.test", "--ca-file", certs.root)
    assert p.returncode == 0, p.stdout
    assert problem_codes(p.stdout) == {"CERT_EXTRA_CERTS": "warning"}, p.stdout
    assert "CN=wild" in p.stdout


def test_key_usage_without_digital_signature(certs):
    p = Pki(certs.dir)
    p.issue("nodsig", "inter", sans=certs.NAMES, key_usage="critical,nonRepudiation")
    chain = p.chain("nodsig-chain", "nodsig", "inter")
    out = check("--cert", chain, "--key", p.path("nodsig.key"), "--ca-file", certs.root)
    assert out.returncode == 1
    assert problem_codes(out.stdout) == {"CERT_NOT_SERVER_AUTH": "error"}, out.stdout
    assert "digitalSignature" in out.stdout
