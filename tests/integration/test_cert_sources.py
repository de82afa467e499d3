"""sslSecret as clusters have it, through the real binary: the kubernetes.io/tls layout
(tls.crt/tls.key/ca.crt) in a kubelet volume and as a manifest, renewal of that layout by the
kubelet's ..data swap, a private CA's root in ca.crt as a trust anchor, `secret create --ca-file`
writing ca.crt, and the chain rule (a forgotten intermediate is an error, a complete chain to an
unknown private root a warning that names the root)."""
import base64
import json
import os
import re
import subprocess
import sys
import time

import pytest

from certcli import scoregate
from certgen import SECRET_MARK, Pki, fingerprint
from certs import served_fingerprint, wait_for_fingerprint
from conftest import HERE, KEY, settings_for

ROOT_CN = "sources private root CA"
INTER_CN = "sources issuing CA"
NAMES = ("DNS:localhost", "DNS:a.test", "IP:127.0.0.1")


class Certs:
    """A private root, an intermediate under it, and leaves a and b issued by the
    intermediate (as cert-manager's CA issuer or a company PKI hands them out)."""

    def __init__(self, base):
        self.pki = p = Pki(base / SECRET_MARK)
        self.root = p.root("root", cn=ROOT_CN)
        p.issue("inter", "root", cn=INTER_CN, ca=True, days=1000)
        for name in ("a", "b"):
            p.issue(name, "inter", sans=NAMES)
        self.a, self.a_key = p.chain("a-chain", "a", "inter"), p.path("a.key")
        self.b, self.b_key = p.chain("b-chain", "b", "inter"), p.path("b.key")
        self.a_leaf_only = p.chain("a-leaf", "a")

    def tls_secret(self, leaf="a", ca=True):
        """The keys of a kubernetes.io/tls Secret holding leaf + intermediate: {key: bytes}."""
        keys = {"tls.crt": getattr(self, leaf).read_bytes(),
                "tls.key": getattr(self, f"{leaf}_key").read_bytes()}
        if ca:
            keys["ca.crt"] = self.root.read_bytes()
        return keys


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("sources"))


class KubeletVolume:
    """A Secret volume as the kubelet writes it: every key a symlink through ..data to a
    timestamped directory; an update writes a new directory and renames a symlink over ..data
    (keys that disappear leave a dangling link, as the kubelet's old links do)."""

    def __init__(self, root, name):
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.generation = 0

    def publish(self, keys):
        self.generation += 1
        ts = self.dir / f"..2026_11_28_00_00_00.{self.generation:06d}"
        ts.mkdir()
        for k, data in keys.items():
            (ts / k).write_bytes(data)
        tmp = self.dir / "..data_tmp"
        os.symlink(ts.name, tmp)
        os.replace(tmp, self.dir / "..data")
        for k in keys:
            if not (self.dir / k).is_symlink():
                os.symlink(f"..data/{k}", self.dir / k)


def tls_manifest(name, keys, kind="kubernetes.io/tls"):
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}", "  namespace: azureml",
             f"type: {kind}", "data:"]
    lines += [f"  {k}: {base64.b64encode(v).decode()}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def secret_settings(pki, model, secrets, name="scoring-tls"):
    """Settings serving sslSecret `name` from --secrets-dir, with no router.trusted_ca_file:
    the only trust anchors are the system store and the Secret's own ca.crt."""
    s = settings_for(pki, [model.address])
    del s["protected"]
    del s["router"]["trusted_ca_file"]
    s["extension"]["sslSecret"] = name
    s["router"]["secrets_dir"] = str(secrets)
    return s


def codes(text):
    """{code: severity} of every 'CODE error:' / 'CODE warning:' in text."""
    return {m.group(1): m.group(2) for m in re.finditer(r"\b([A-Z][A-Z0-9_]+) (error|warning): ", text)}


def curl_score(port, root):
    """A scoring request with curl, verifying the server against `root` only."""
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                        "--cacert", str(root), "--resolve", f"localhost:{port}:127.0.0.1",
                        "-H", f"Authorization: Bearer {KEY}", "-H", "Content-Type: application/json",
                        "--data-binary", json.dumps({"data": [[1, 2, 3]]}),
                        f"https://localhost:{port}/api/v1/endpoint/fraud/score"],
                       capture_output=True, text=True, timeout=15)
    return p.returncode, p.stdout, p.stderr


def no_secret_material(text, certs):
    assert "PRIVATE KEY" not in text and SECRET_MARK not in text, text
    assert KEY not in text, text
    key_body = certs.a_key.read_text().splitlines()[1]
    assert key_body not in text, text


def test_serve_from_a_kubelet_tls_secret_with_a_private_root(pki, model, start_router, tmp_path, certs):
    secrets = tmp_path / "secrets"
    KubeletVolume(secrets, "scoring-tls").publish(certs.tls_secret())
    r = start_router(secret_settings(pki, model, secrets))
    rc, status, err = curl_score(r.port, certs.root)
    assert rc == 0 and status == "200", err
    assert served_fingerprint(r.port) == fingerprint(certs.a)
    # ca.crt makes the root known: a clean start, no chain warning
    assert not {c for c in codes(r.stderr()) if c.startswith("CERT_")}, r.stderr()
    # cert check reads the same layout
    p = scoregate("cert", "check", "--secret", "scoring-tls", "--secrets-dir", secrets,
                  "--cname", "localhost")
    assert p.returncode == 0 and "no problems found" in p.stdout, p.stdout + p.stderr
    assert fingerprint(certs.a) in p.stdout


def test_renewal_of_a_tls_secret_by_data_swap(pki, model, start_router, tmp_path, certs):
    secrets = tmp_path / "secrets"
    vol = KubeletVolume(secrets, "scoring-tls")
    vol.publish(certs.tls_secret("a"))
    r = start_router(secret_settings(pki, model, secrets))
    assert served_fingerprint(r.port) == fingerprint(certs.a)
    load = subprocess.Popen([sys.executable, str(HERE / "load_client.py"), str(r.port), str(certs.root),
                             "4", "/api/v1/endpoint/fraud/score", KEY], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    for i in range(10):
        leaf = "b" if i % 2 == 0 else "a"
        vol.publish(certs.tls_secret(leaf))
        wait_for_fingerprint(r.port, fingerprint(getattr(certs, leaf)))
        time.sleep(0.1)
    counts = json.loads(load.communicate(timeout=30)[0])
    assert counts["requests_failed"] == 0 and counts["handshakes_failed"] == 0, counts["errors"]
    assert counts["requests_ok"] > 10, counts
    assert served_fingerprint(r.port) == fingerprint(certs.a)  # the 10th swap put a back
    status = json.loads(r.admin("/status")[1])
    assert status["reloads"]["ok"] >= 10 and status["reloads"]["failed"] == 0, status["reloads"]


def test_reload_follows_the_chain_rule(pki, model, start_router, tmp_path, certs):
    secrets = tmp_path / "secrets"
    vol = KubeletVolume(secrets, "scoring-tls")
    vol.publish(certs.tls_secret("a"))
    r = start_router(secret_settings(pki, model, secrets))
    # b without its intermediate: refused, a keeps serving
    vol.publish({"tls.crt": certs.pki.path("b.crt").read_bytes(), "tls.key": certs.b_key.read_bytes(),
                 "ca.crt": certs.root.read_bytes()})
    r.wait_stderr("CERT_CHAIN_INCOMPLETE error", timeout=10)
    assert served_fingerprint(r.port) == fingerprint(certs.a)
    # b with its intermediate but no ca.crt: a complete chain to a private root, served
    vol.publish(certs.tls_secret("b", ca=False))
    wait_for_fingerprint(r.port, fingerprint(certs.b), timeout=10)
    log = r.wait_stderr("CERT_CHAIN_PRIVATE_ROOT warning")
    line = next(l for l in log.splitlines() if "CERT_CHAIN_PRIVATE_ROOT warning" in l)
    assert f"clients must trust 'CN={ROOT_CN}'" in line, line
    assert "ca.crt" in line and "router.trusted_ca_file" in line and "--ca-file" in line, line
    no_secret_material(log, certs)
    rc, status, err = curl_score(r.port, certs.root)
    assert rc == 0 and status == "200", err


def test_tls_secret_manifest_in_secrets_dir(pki, model, start_router, tmp_path, certs):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "scoring-tls.yaml").write_text(tls_manifest("scoring-tls", certs.tls_secret()))
    r = start_router(secret_settings(pki, model, secrets))
    rc, status, err = curl_score(r.port, certs.root)
    assert rc == 0 and status == "200", err
    assert not {c for c in codes(r.stderr()) if c.startswith(("CERT_", "SECRET_"))}, r.stderr()
    p = scoregate("cert", "check", "--secret", "scoring-tls", "--secrets-dir", secrets,
                  "--cname", "localhost")
    assert p.returncode == 0 and "no problems found" in p.stdout, p.stdout + p.stderr


def test_secret_create_ca_file_writes_ca_crt_that_serve_accepts(pki, model, start_router, tmp_path, certs):
    # a CA file with a stray private key: only the certificate goes into ca.crt
    ca_file = tmp_path / "ca-bundle.pem"
    ca_file.write_bytes(certs.root.read_bytes() + certs.pki.path("root.key").read_bytes())
    p = scoregate("secret", "create", "--name", "scoring-tls", "--cert", certs.a, "--key", certs.a_key,
                  "--ca-file", ca_file, "--cname", "localhost")
    assert p.returncode == 0, p.stderr
    data = dict(re.findall(r"^  (\S+): (\S+)$", p.stdout.split("\ndata:\n", 1)[1], re.M))
    assert set(data) == {"cert.pem", "key.pem", "ca.crt"}, p.stdout
    ca = base64.b64decode(data["ca.crt"]).decode()
    assert "PRIVATE KEY" not in ca
    assert ca.replace("\n", "") == certs.root.read_text().replace("\n", "")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "scoring-tls.yaml").write_text(p.stdout)
    r = start_router(secret_settings(pki, model, secrets))
    assert "CERT_CHAIN_PRIVATE_ROOT" not in r.stderr(), r.stderr()
    rc, status, err = curl_score(r.port, certs.root)
    assert rc == 0 and status == "200", err


def test_private_root_warning_in_cert_check_and_serve(pki, model, start_router, tmp_path, certs):
    # cert check on files: leaf + intermediate without --ca-file warns (exit 0); with it, clean
    p = scoregate("cert", "check", "--cert", certs.a, "--key", certs.a_key, "--cname", "localhost")
    assert p.returncode == 0 and codes(p.stdout) == {"CERT_CHAIN_PRIVATE_ROOT": "warning"}, p.stdout
    assert f"clients must trust 'CN={ROOT_CN}'" in p.stdout
    no_secret_material(p.stdout + p.stderr, certs)
    p = scoregate("cert", "check", "--cert", certs.a, "--key", certs.a_key, "--cname", "localhost",
                  "--ca-file", certs.root)
    assert p.returncode == 0 and "no problems found" in p.stdout, p.stdout
    # the leaf alone: the forgotten intermediate is an error, in cert check and in serve
    p = scoregate("cert", "check", "--cert", certs.a_leaf_only, "--key", certs.a_key)
    assert p.returncode == 1 and codes(p.stdout)["CERT_CHAIN_INCOMPLETE"] == "error", p.stdout
    assert f"CN={INTER_CN}" in p.stdout
    # serve with a protected sslSecret name and no ca.crt: starts, warns, names neither the
    # Secret nor any key
    secrets = tmp_path / "secrets"
    KubeletVolume(secrets, "hidden-name-4k2").publish(certs.tls_secret(ca=False))
    s = secret_settings(pki, model, secrets, name="hidden-name-4k2")
    del s["extension"]["sslSecret"]
    s["protected"] = {"sslSecret": "hidden-name-4k2"}
    r = start_router(s)
    log = r.wait_stderr("CERT_CHAIN_PRIVATE_ROOT warning")
    assert f"clients must trust 'CN={ROOT_CN}'" in log
    assert "sslSecret (protected) tls.crt" in log and "hidden-name-4k2" not in log, log
    no_secret_material(log, certs)
    rc, status, err = curl_score(r.port, certs.root)
    assert rc == 0 and status == "200", err


def test_secret_with_both_pairs_serves_cert_pem_and_says_so(pki, model, start_router, tmp_path, certs):
    secrets = tmp_path / "secrets"
    keys = certs.tls_secret("b") | {"cert.pem": certs.a.read_bytes(), "key.pem": certs.a_key.read_bytes()}
    KubeletVolume(secrets, "scoring-tls").publish(keys)
    r = start_router(secret_settings(pki, model, secrets))
    assert served_fingerprint(r.port) == fingerprint(certs.a)
    assert "SECRET_TWO_LAYOUTS warning" in r.stderr(), r.stderr()


def test_secret_holding_neither_pair_lists_its_keys(pki, model, tmp_path, certs):
    secrets = tmp_path / "secrets"
    KubeletVolume(secrets, "scoring-tls").publish({"certificate.pem": certs.a.read_bytes(),
                                                   "private.key": certs.a_key.read_bytes()})
    s = secret_settings(pki, model, secrets)
    cfg = tmp_path / "scoregate.yaml"
    cfg.write_text(json.dumps(s))
    p = scoregate("serve", "-f", cfg, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1")
    assert p.returncode == 1
    assert codes(p.stderr) == {"SECRET_KEY_MISSING": "error"}, p.stderr
    assert "neither cert.pem and key.pem nor tls.crt and tls.key" in p.stderr
    assert "its keys: certificate.pem, private.key" in p.stderr
    assert "kubectl create secret tls scoring-tls" in p.stderr
    no_secret_material(p.stderr, certs)
