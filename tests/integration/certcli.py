"""Shared helpers for the tests that run scoregate's CLI on certificates (test_cert_serve.py,
test_cert_names.py, test_cert_secret.py, test_cert_check.py, test_cert_reload.py; `scoregate`
also for test_settings_cli.py, test_cert_sources.py, test_k8s_render.py): running the binary,
reading problem codes, asserting that no protected value is printed, and a settings file / serve
run for one certificate pair. The `certs` fixture (certgen.material) is in conftest.py."""
import json
import re
import subprocess

from certgen import SECRET_MARK
from conftest import BIN, KEY

ENDPOINT_KEY = "endpoint-key-never-printed-9d41c7"


HIDDEN = "hidden-name-3c9d"


def scoregate(*args, timeout=30):
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
