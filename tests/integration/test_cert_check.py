"""The certificate CLI: `scoregate cert check` (its summary matches openssl, every problem is
listed, warnings such as expiring soon or an extra certificate, every passphrase key form,
keyUsage), `scoregate cert dev` (a development CA and certificate openssl accepts) and
`scoregate secret create` (a manifest that decodes to the input and that serve reads back,
DER written as PEM, refusals and namespace checks)."""
import base64
import os
import re
import subprocess

import pytest

from certgen import Pki, fingerprint
from certcli import check, no_protected_values, problem_codes, scoregate


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


def test_expiring_soon_is_a_warning_only(tmp_path, certs):
    p = Pki(certs.dir)
    p.issue("soon", "inter", sans=certs.NAMES, days=10)
    chain = p.chain("soon-chain", "soon", "inter")
    out = check("--cert", chain, "--key", p.path("soon.key"), "--cname", "a.test",
                "--ca-file", certs.root)
    assert out.returncode == 0, out.stdout
    assert problem_codes(out.stdout) == {"CERT_EXPIRES_SOON": "warning"}, out.stdout


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
