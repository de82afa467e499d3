"""Fixtures for the image tests (scripts/test.sh stage `image`): the image `make image` builds,
run with podman as the kubelet would run it: non-root, read-only root, no capabilities, Secret
volumes in the kubelet's `..data` layout. Loopback only (`--network host`, 127.0.0.1), offline.
podman reads scripts/containers.conf (runc, ulimits), never the machine's global config."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # certs.py, make_pki

VERSION = re.search(r"project\(scoregate VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
IMAGE = os.environ.get("SCOREGATE_IMAGE", f"localhost/scoregate:{VERSION}")
ENV = {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))}
# what the rendered Deployment's securityContext asks of the kubelet (docs/kubernetes.md);
# --read-only-tmpfs=false: a pod's read-only root has no writable /tmp or /run either
HARDENED = ["--read-only", "--read-only-tmpfs=false", "--cap-drop=ALL",
            "--security-opt=no-new-privileges", "--user", "65532:65532"]


def podman(*args, check=True, timeout=120, input=None):
    r = subprocess.run(["podman", *map(str, args)], env=ENV, capture_output=True, text=True,
                       timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(map(str, args))} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def readable_tree(path: Path):
    """The kubelet writes Secret volumes world-readable (defaultMode 0644); pytest's tmp dirs
    are 0700 root, which the container's user 65532 could not enter."""
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)


class Container:
    def __init__(self, name, *args, opts=()):
        self.name = name
        podman("run", "-d", "--name", name, "--network", "host", *opts, IMAGE, *args)

    def logs(self):
        r = podman("logs", self.name, check=False)
        return r.stdout + r.stderr

    def wait_log(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.logs())
            if m:
                return m
            assert time.monotonic() < deadline and self.running(), \
                f"{pattern!r} not logged by {self.name} (running: {self.running()}):\n{self.logs()}"
            time.sleep(0.1)

    def running(self):
        return podman("inspect", "--format", "{{.State.Running}}", self.name).stdout.strip() == "true"

    def exit_code(self, timeout=60):
        r = podman("wait", self.name, timeout=timeout)
        return int(r.stdout.strip().splitlines()[-1])

    def remove(self):
        podman("rm", "-f", "-t", "0", self.name, check=False)


@pytest.fixture(scope="session")
def image():
    r = podman("image", "inspect", IMAGE, check=False)
    assert r.returncode == 0, f"{IMAGE} is not built: run `make image` (scripts/image.sh) first"
    return json.loads(r.stdout)[0]


@pytest.fixture
def containers(image):
    started = []

    def start(*args, opts=()):
        c = Container(f"sg-test-{uuid.uuid4().hex[:10]}", *args, opts=opts)
        started.append(c)
        return c

    yield start
    for c in started:
        c.remove()


@pytest.fixture
def model(containers):
    """The image's own sample model (`scoregate model-server`), hardened like the router."""
    port = free_port()
    c = containers("model-server", "--listen", f"127.0.0.1:{port}", opts=HARDENED)
    wait_port(port)
    c.port = port
    return c


def make_pki_dir(d):
    """The integration tests' test CA and leaves (make_pki of tests/integration/conftest.py,
    loaded under another module name: this file is `conftest` here). The directory stays
    private (0700); only what a test publishes into a volume is readable by the container."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("integration_conftest", ROOT / "tests" / "integration" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_pki(d)
