"""sslSecret with the cert.pem/key.pem layout through the real binary: as a plain directory, a
kubelet volume (..data symlinks) and a manifest (.yaml/.yml) in --secrets-dir, each serving
HTTPS; a Secret in the wrong namespace, without key.pem, with other key names, or not there at
all is refused with its code; a protected sslSecret name is never printed. (The
kubernetes.io/tls layout and private CAs are in test_cert_sources.py.)"""
import base64
import json
import os
import shutil

import pytest

from certgen import fingerprint
from certcli import HIDDEN, check, https_get, problem_codes, scoregate
from certs import served_fingerprint
from conftest import Router


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
