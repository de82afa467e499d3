"""The image `make image` builds, run as a pod runs it (README "Container image"): non-root,
read-only root, no capabilities, Secret volumes in the kubelet's `..data` layout, the image's
own sample model as the upstream. Loopback only, offline."""
import http.client
import json
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.request

import pytest

from certs import fingerprint_of, leaf, served_fingerprint
from conftest import HARDENED, IMAGE, ROOT, VERSION, make_pki_dir, podman, readable_tree
from kubelet import KubeletVolume

SECRET_MOUNT = "/etc/scoregate/secrets/scoring-tls"  # where a pod mounts sslSecret (docs/kubernetes.md)
KEYS_MOUNT = "/etc/scoregate/keys/fraud"
PRIMARY, SECONDARY = "image-test-primary-key-0123456789", "image-test-secondary-key-0123456789"
BODY = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})
SCORE = "/api/v1/endpoint/fraud/score"


def tls_files(pki, name, layout):
    """The Secret's keys in one of the two layouts scoregate reads: `secret create`'s
    cert.pem/key.pem (full chain), or kubernetes.io/tls + cert-manager's tls.crt/tls.key with
    the private CA as ca.crt (the trust anchor)."""
    chain, key = leaf(pki, name)
    if layout == "cert.pem":
        return {"cert.pem": chain.read_bytes(), "key.pem": key.read_bytes()}
    return {"tls.crt": (pki / f"{name}.crt").read_bytes(), "tls.key": key.read_bytes(),
            "ca.crt": (pki / "ca.pem").read_bytes()}


def settings(model_port, keys):
    return {"extension": {"sslSecret": "scoring-tls", "sslCname": "localhost"},
            "router": {"shutdown_delay_ms": 0, "drain_timeout_ms": 5000},
            "endpoints": [{"name": "fraud", "keys": keys,
                           "deployments": [{"name": "blue", "targets": [f"127.0.0.1:{model_port}"],
                                            # the load below runs 4 requests at once (default 1)
                                            "request_settings": {"max_concurrent_requests_per_instance": 50}}]}]}


def start_router(containers, tmp, s, tls_vol, keys_vol=None, opts=HARDENED):
    config = tmp / "config"
    config.mkdir()
    (config / "scoregate.yaml").write_text(json.dumps(s, indent=2))
    readable_tree(config)
    mounts = ["-v", f"{config}:/etc/scoregate/config:ro", "-v", f"{tls_vol.dir}:{SECRET_MOUNT}:ro"]
    if keys_vol:
        mounts += ["-v", f"{keys_vol.dir}:{KEYS_MOUNT}:ro"]
    c = containers("serve", "-f", "/etc/scoregate/config/scoregate.yaml", "--listen", "127.0.0.1:0",
                   "--admin", "127.0.0.1:0", opts=[*opts, *mounts])
    m = c.wait_log(r"serving HTTPS on [\d.]+:(\d+) .*admin on [\d.]+:(\d+)")
    c.port, c.admin_port = int(m.group(1)), int(m.group(2))
    return c


def score(port, cafile, key):
    """(status, body) of one scoring request over TLS verified against cafile for localhost."""
    conn = http.client.HTTPSConnection("localhost", port, timeout=10,
                                       context=ssl.create_default_context(cafile=str(cafile)))
    try:
        conn.request("POST", SCORE, body=BODY,
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


class Load:
    """Threads sending scoring requests until stop(): half open a new TLS connection (a full
    handshake) per request, half reuse one keep-alive connection."""

    def __init__(self, port, cafile, key, threads=4):
        self.port, self.cafile, self.key = port, str(cafile), key
        self.ok, self.failed, self.errors = 0, 0, []
        self.lock, self.done = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i % 2 == 0,)) for i in range(threads)]
        for t in self.threads:
            t.start()

    def _record(self, ok, err=""):
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.failed += 1
                if len(self.errors) < 10:
                    self.errors.append(err)

    def _run(self, fresh):
        conn = None
        while not self.done.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection(
                        "localhost", self.port, timeout=10,
                        context=ssl.create_default_context(cafile=self.cafile))
                conn.request("POST", SCORE, body=BODY, headers={"Authorization": f"Bearer {self.key}",
                                                               "Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                self._record(r.status == 200 and data.startswith(b'{"result"'), f"{r.status} {data[:80]!r}")
            except Exception as e:  # noqa: BLE001
                self._record(False, repr(e))
                conn = None
            if fresh and conn is not None:
                conn.close()
                conn = None

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(30)
        return self


def admin_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------------------------------------

def test_image_metadata_user_labels_and_contents(image, tmp_path):
    config = image["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/usr/bin/scoregate"]
    labels = config["Labels"]
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.revision"].startswith(revision), labels
    assert "org.opencontainers.image.source" in labels
    source = labels["org.opencontainers.image.source"]
    assert source == "" or (source.startswith("https://") and "@" not in source), source
    # only the binary, its libraries and the trust store: a few MB, not a Debian system
    assert image["Size"] < 40_000_000, image["Size"]

    # `scoregate version` reports the revision the image was built from (no .git in the build)
    out = podman("run", "--rm", *HARDENED, IMAGE, "version").stdout
    assert f"scoregate {VERSION}\n" in out
    assert f"revision: {labels['org.opencontainers.image.revision']}\n" in out
    assert "openssl: OpenSSL 3." in out and "openssl built with: OpenSSL 3." in out
    assert "build type: RelWithDebInfo" in out
    # mimalloc serves malloc() in the image too (README "Memory allocator"): the library shipped
    assert re.search(r"^allocator: mimalloc 2\.\d+\.\d+$", out, re.M), out

    # no shell, no package manager: the files are absent (not merely failing to start)
    for tool in ("/bin/sh", "/usr/bin/apt-get"):
        r = podman("run", "--rm", "--entrypoint", tool, IMAGE, check=False)
        assert r.returncode != 0, f"{tool} runs in the image"
        assert "no such file" in (r.stdout + r.stderr).lower(), (tool, r.stdout, r.stderr)

    # the binary is stripped (its debug info stays in the build stage) and the trust store is there
    name = f"sg-test-cp-{os.getpid()}"
    podman("create", "--name", name, IMAGE)
    try:
        podman("cp", f"{name}:/usr/bin/scoregate", tmp_path / "scoregate")
        podman("cp", f"{name}:/etc/ssl/certs/ca-certificates.crt", tmp_path / "ca-certificates.crt")
        # the licence of every package whose files ship, the C and C++ runtime included
        for pkg in ("libc6", "libstdc++6", "libgcc-s1", "libssl3", "libmimalloc2.0", "ca-certificates"):
            podman("cp", f"{name}:/usr/share/doc/{pkg}/copyright", tmp_path / f"{pkg}.copyright")
            assert "Copyright" in (tmp_path / f"{pkg}.copyright").read_text(errors="replace"), pkg
    finally:
        podman("rm", "-f", name, check=False)
    sections = subprocess.run(["readelf", "-S", "-W", str(tmp_path / "scoregate")], capture_output=True,
                              text=True, check=True).stdout
    assert ".debug_info" not in sections and ".symtab" not in sections
    assert ".gnu_debuglink" in sections
    assert (tmp_path / "scoregate").stat().st_size < 20_000_000
    assert (tmp_path / "ca-certificates.crt").read_text().count("BEGIN CERTIFICATE") > 100


@pytest.mark.parametrize("layout", ["cert.pem", "tls.crt"])
def test_serves_kubelet_secret_and_renews_under_load(layout, containers, model, tmp_path):
    """sslSecret from a kubelet-layout volume, a scoring request verified against the private CA,
    then a `..data` swap to a new certificate while requests run: none fails."""
    pki = make_pki_dir(tmp_path / "pki")
    vol = KubeletVolume(tmp_path / "secrets", "scoring-tls")
    vol.publish(tls_files(pki, "first", layout))
    r = start_router(containers, tmp_path, settings(model.port, {"primary": PRIMARY, "secondary": SECONDARY}), vol)

    status, body = score(r.port, pki / "ca.pem", PRIMARY)
    assert status == 200 and body.startswith('{"result"'), (status, body)
    assert served_fingerprint(r.port) == fingerprint_of(pki / "first.crt")
    assert score(r.port, pki / "ca.pem", "wrong-key-0123456789")[0] == 401

    load = Load(r.port, pki / "ca.pem", PRIMARY)
    try:
        time.sleep(1)
        vol.publish(tls_files(pki, "second", layout))
        want = fingerprint_of(pki / "second.crt")
        deadline = time.monotonic() + 20
        while served_fingerprint(r.port) != want:
            assert time.monotonic() < deadline, "renewed certificate not served:\n" + r.logs()
            time.sleep(0.2)
        time.sleep(1)
    finally:
        load.stop()
    assert load.failed == 0, load.errors
    assert load.ok > 20, load.ok
    logs = r.logs()
    assert PRIMARY not in logs and "BEGIN" not in logs
    assert r.running()


def test_key_secret_swap_rotates_the_key(containers, model, tmp_path):
    """Endpoint keys from files in a kubelet-layout Secret volume: a `..data` swap to a new
    primary key is in force within seconds: the new key is accepted, the old one refused."""
    pki = make_pki_dir(tmp_path / "pki")
    tls = KubeletVolume(tmp_path / "secrets", "scoring-tls")
    tls.publish(tls_files(pki, "leaf", "cert.pem"))
    keys = KubeletVolume(tmp_path / "keys", "fraud")
    keys.publish({"primary": PRIMARY.encode(), "secondary": SECONDARY.encode()})
    s = settings(model.port, {"primary_file": f"{KEYS_MOUNT}/primary", "secondary_file": f"{KEYS_MOUNT}/secondary"})
    r = start_router(containers, tmp_path, s, tls, keys)
    ca = pki / "ca.pem"
    assert score(r.port, ca, PRIMARY)[0] == 200
    assert score(r.port, ca, SECONDARY)[0] == 200

    new = "image-test-rotated-primary-0123456789"
    assert score(r.port, ca, new)[0] == 401
    keys.publish({"primary": new.encode(), "secondary": SECONDARY.encode()})
    deadline = time.monotonic() + 10
    while score(r.port, ca, new)[0] != 200:
        assert time.monotonic() < deadline, "rotated key not accepted within 10 s:\n" + r.logs()
        time.sleep(0.25)
    assert score(r.port, ca, PRIMARY)[0] == 401
    assert score(r.port, ca, SECONDARY)[0] == 200
    logs = r.logs()
    for secret in (PRIMARY, SECONDARY, new):
        assert secret not in logs


def test_sigterm_as_pid_1_drains_and_exits_0(containers, model, tmp_path):
    """In a pod scoregate is PID 1 (no init): SIGTERM from the runtime must still drain and end
    the process with status 0, with requests in flight."""
    pki = make_pki_dir(tmp_path / "pki")
    vol = KubeletVolume(tmp_path / "secrets", "scoring-tls")
    vol.publish(tls_files(pki, "leaf", "cert.pem"))
    r = start_router(containers, tmp_path, settings(model.port, {"primary": PRIMARY, "secondary": SECONDARY}), vol)
    pid1 = podman("top", r.name, "pid", "args").stdout
    assert any(l.split()[:2] == ["1", "/usr/bin/scoregate"] for l in pid1.splitlines()), pid1
    load = Load(r.port, pki / "ca.pem", PRIMARY, threads=2)
    try:
        time.sleep(1)
        t0 = time.monotonic()
        podman("kill", "--signal", "TERM", r.name)
        assert r.exit_code(timeout=30) == 0, r.logs()
        assert time.monotonic() - t0 < 15
    finally:
        load.stop()
    assert load.ok > 0
    logs = r.logs()
    assert "SIGTERM: draining" in logs and "scoregate stopped" in logs, logs


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 or more cores to tell a CPU limit apart")
def test_cpus_1_gives_one_worker(containers, model, tmp_path):
    """`--cpus 1` (a CPU quota in the container's cgroup, as a pod's CPU limit is): the default
    worker count follows the quota, not the host's cores."""
    pki = make_pki_dir(tmp_path / "pki")
    vol = KubeletVolume(tmp_path / "secrets", "scoring-tls")
    vol.publish(tls_files(pki, "leaf", "cert.pem"))
    r = start_router(containers, tmp_path, settings(model.port, {"primary": PRIMARY, "secondary": SECONDARY}),
                     vol, opts=[*HARDENED, "--cpus", "1"])
    assert admin_json(r.admin_port, "/status")["workers"] == 1
    assert score(r.port, pki / "ca.pem", PRIMARY)[0] == 200
