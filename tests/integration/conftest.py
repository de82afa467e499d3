"""Fixtures for integration tests: a test PKI made with openssl, the controllable model
server, and the real scoregate binary started on free ports."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SCOREGATE_BIN", str(ROOT / "build" / "scoregate"))
HERE = Path(__file__).resolve().parent


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def make_pki(d: Path):
    """A test CA and ECDSA + RSA leaves for localhost/127.0.0.1, written as PEM files."""
    d.mkdir(parents=True, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "90",
         "-subj", "/CN=scoregate test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    for kind, newkey in (("ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                         ("rsa", ["-newkey", "rsa:2048"])):
        run(["openssl", "req", "-new", *newkey, "-nodes", "-keyout", d / f"{kind}.key",
             "-out", d / f"{kind}.csr", "-subj", "/CN=localhost"])
        ext = d / f"{kind}.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                       "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
        run(["openssl", "x509", "-req", "-in", d / f"{kind}.csr", "-CA", d / "ca.pem",
             "-CAkey", d / "ca.key", "-CAcreateserial", "-out", d / f"{kind}.crt", "-days", "60",
             "-sha256", "-extfile", ext])
        (d / f"{kind}.fullchain.pem").write_text((d / f"{kind}.crt").read_text() + (d / "ca.pem").read_text())
    return d


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """certgen's certificate material (good, expired, wildcard, DER, PKCS#12, ...), made once per
    module; test_cert_sources.py overrides it with its own private-CA set."""
    from certgen import material
    return material(tmp_path_factory)


class ModelServer:
    def __init__(self, host="127.0.0.1", port=0):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "model_server.py"), host, str(port)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("LISTENING"), line
        self.port = int(line.split()[1])
        self.host = host
        self.address = f"{host}:{self.port}"

    def get(self, path):
        import urllib.request
        with urllib.request.urlopen(urllib.request.Request(f"http://{self.address}{path}",
                                    method="POST" if path.startswith("/control") else "GET"), timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def model():
    m = ModelServer()
    yield m
    m.stop()


def closed_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def plain_http(port, path, method="GET"):
    """(status, body text) of one plain-HTTP request to 127.0.0.1:port, error statuses included."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_until(fn, timeout=5.0, every=0.02):
    """True as soon as fn() is true, False if it is not within `timeout` seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if fn():
            return True
        time.sleep(every)
    return False


def can_unshare():
    """Whether mount namespaces (unshare -m) are available, to give a test its own /etc/hosts."""
    import shutil
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def tls_context(pki, version=None):
    """A client context trusting the test CA (pki/ca.pem); `version` (an ssl.TLSVersion) pins
    the protocol version."""
    import ssl
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class Router:
    """The real scoregate binary, started with a JSON (= YAML) settings file."""

    def __init__(self, tmp: Path, settings: dict, extra_args=(), workers=2, env=None, prefix=()):
        self.tmp = tmp
        self.config = tmp / "scoregate.yaml"
        self.config.write_text(json.dumps(settings, indent=2))
        self.stderr_lines, self.stdout_lines = [], []
        self.cmd = [*prefix, BIN, "serve", "-f", str(self.config), "--listen", "127.0.0.1:0",
                    "--admin", "127.0.0.1:0", "--workers", str(workers), *extra_args]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self._ready = threading.Event()
        self.port = self.admin_port = None
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines, False), daemon=True).start()
        if not self._ready.wait(20) or self.port is None:
            self.stop()
            raise AssertionError("scoregate did not start:\n" + self.stderr())
        self.host = "localhost"

    def _pump(self, stream, sink, watch):
        for line in stream:
            sink.append(line)
            if watch:
                m = re.search(r"serving .* on [\d.]+:(\d+) .*admin on [\d.]+:(\d+)", line)
                if m:
                    self.port, self.admin_port = int(m.group(1)), int(m.group(2))
                    self._ready.set()
        self._ready.set()

    def stderr(self):
        return "".join(self.stderr_lines)

    def wait_stderr(self, text, timeout=5.0):
        """The log so far once it contains text (a thread reads the pipe: a line the router
        has written may not be here yet); fails after timeout."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            assert time.monotonic() < deadline, f"{text!r} not logged:\n{self.stderr()}"
            time.sleep(0.02)
        return self.stderr()

    def access_log(self):
        return [json.loads(l) for l in self.stdout_lines if l.startswith("{")]

    def url(self, path, scheme="https"):
        return f"{scheme}://{self.host}:{self.port}{path}"

    def admin(self, path, method="GET"):
        return plain_http(self.admin_port, path, method)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=30):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def settings_for(pki, targets, *, key="test-primary-key-0123456789", secondary="test-secondary-key-0123456789",
                 auth_mode="key", insecure=False, request_settings=None, router=None, endpoints=None,
                 kind="ecdsa"):
    s = {"extension": {"allowInsecureConnections": insecure}, "router": {"access_log": True}}
    if not insecure:
        s["extension"]["sslCname"] = "localhost"
        s["protected"] = {"sslCertPemFile": str(pki / f"{kind}.fullchain.pem"),
                          "sslKeyPemFile": str(pki / f"{kind}.key")}
        s["router"]["trusted_ca_file"] = str(pki / "ca.pem")
    if router:
        s["router"].update(router)
    ep = {"name": "fraud", "auth_mode": auth_mode,
          "deployments": [{"name": "blue", "targets": targets,
                           "request_settings": request_settings or {"max_concurrent_requests_per_instance": 50}}]}
    if auth_mode == "key":
        ep["keys"] = {"primary": key, "secondary": secondary}
    s["endpoints"] = endpoints if endpoints is not None else [ep]
    return s


@pytest.fixture
def start_router(tmp_path):
    routers = []

    def start(settings, **kw):
        r = Router(tmp_path, settings, **kw)
        routers.append(r)
        return r

    yield start
    for r in routers:
        r.stop()


KEY = "test-primary-key-0123456789"
SECONDARY = "test-secondary-key-0123456789"


def curl(router, path, *args, key=KEY, tls=None, pki=None, data=None, headers=(), timeout=20):
    """Runs real curl with hostname verification against the test CA; returns
    (status, body bytes, response headers dict)."""
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-o", "-", "-D", "/dev/stderr",
           "--cacert", str(pki / "ca.pem")]
    if tls == "1.2":
        cmd += ["--tlsv1.2", "--tls-max", "1.2"]
    elif tls == "1.3":
        cmd += ["--tlsv1.3"]
    if key:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["--data-binary", "@-"]
    cmd += list(args) + [router.url(path)]
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout + 5)
    head = p.stderr.decode(errors="replace")
    status = 0
    hdrs = {}
    for line in head.splitlines():
        if line.startswith("HTTP/"):
            status = int(line.split()[1])
            hdrs = {}
        elif ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return status, p.stdout, hdrs, p.returncode


def start_peer(script, *args, timeout=15):
    """Starts a test peer of this folder that prints "LISTENING <port>" (grpc_model.py,
    h2c_model.py, ...) with this interpreter; returns a namespace with proc, port, address
    ("127.0.0.1:port") and stop() (kills it if it still runs)."""
    import select
    import tempfile
    import types
    err = tempfile.TemporaryFile()  # a file, not a pipe: a chatty peer must never block on it
    proc = subprocess.Popen([sys.executable, str(HERE / script), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=err, text=True)
    ready = select.select([proc.stdout], [], [], timeout)[0]
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("LISTENING"):
        proc.kill()
        proc.wait()
        err.seek(0)
        raise AssertionError(f"{script} did not start: {line!r} {err.read()[-2000:].decode(errors='replace')}")
    port = int(line.split()[1])

    def stop():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return types.SimpleNamespace(proc=proc, port=port, address=f"127.0.0.1:{port}", stop=stop)


def cpu_seconds(pid):
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_kib(pid):
    """A process's resident set size now, KiB, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")
