"""What a pod needs from the router (README "Readiness", "Endpoint key rotation", "Workers and
limits"): /readyz that waits for the models but not for initial_delay, endpoint keys that
rotate with a Secret update, and a worker count and open-files limit that fit the container."""
import http.client
import json
import os
import re
import resource
import shutil
import socket
import threading
import time

import pytest

from conftest import ModelServer, Router, can_unshare, plain_http, settings_for, wait_until

KEY_A, KEY_B, KEY_C, KEY_D = (f"rotation-key-{c}-0123456789abcdef" for c in "abcd")


def probe(**over):
    p = {"path": "/health", "period_ms": 10000, "timeout_ms": 2000, "initial_delay": 30,
         "success_threshold": 1, "failure_threshold": 3}
    p.update(over)
    return p


def probed_settings(pki, targets, router=None, **probe_over):
    s = settings_for(pki, targets, router={"probe_listen": "127.0.0.1:0", **(router or {})})
    s["endpoints"][0]["deployments"][0]["readiness_probe"] = probe(**probe_over)
    return s


def probe_port(r):
    m = re.search(r"probes on [\d.]+:(\d+)", r.stderr())
    return int(m.group(1))


def readyz(r):
    return r.admin("/readyz")[0], plain_http(probe_port(r), "/readyz")[0]


class BlackHole:
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.sock.close()


@pytest.fixture
def blackhole():
    b = BlackHole()
    yield b
    b.close()


def score(r, pki, key="test-primary-key-0123456789"):
    import ssl
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    c = http.client.HTTPSConnection("localhost", r.port, context=ctx, timeout=10)
    c.request("POST", "/api/v1/endpoint/fraud/score", body=b'{"data": [[1, 2]]}',
              headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    resp = c.getresponse()
    return resp.status, resp.read()


# --- readiness ---------------------------------------------------------------------------

def test_readyz_flips_after_the_first_probe_not_after_initial_delay(pki, model, start_router):
    r = start_router(probed_settings(pki, [model.address], initial_delay=30))
    t0 = time.monotonic()
    assert wait_until(lambda: readyz(r) == (200, 200), timeout=5), r.stderr()
    assert time.monotonic() - t0 < 5 < 30  # initial_delay is 30 s
    status, body = score(r, pki)  # the moment it is ready, scoring works
    assert status == 200 and json.loads(body) == {"result": [3.0]}
    assert json.loads(r.admin("/status")[1])["ready"] is True
    assert "ready after" in r.stderr()


def test_readyz_waits_for_the_first_round_of_a_model_that_does_not_answer(pki, blackhole, start_router):
    # The probe times out after 1.5 s: until then the router does not know, and is not ready.
    r = start_router(probed_settings(pki, [blackhole.address], timeout_ms=1500,
                                     router={"readiness_wait_ms": 20000}))
    t0 = time.monotonic()
    assert readyz(r) == (503, 503)
    assert json.loads(r.admin("/status")[1])["ready"] is False
    assert wait_until(lambda: readyz(r) == (200, 200), timeout=8), r.stderr()
    took = time.monotonic() - t0
    assert took < 8, took
    # the first round ended with the probe's timeout (the router's own clock, not this loaded one)
    waited = int(re.search(r"ready after (\d+) ms", r.wait_stderr("ready after")).group(1))
    assert 1400 <= waited < 5000, waited
    assert score(r, pki)[0] == 503  # no ready target: every replica would answer the same
    assert "READY_WITHOUT_TARGETS" not in r.stderr()


def test_readiness_wait_bounds_the_wait_and_names_the_deployment(pki, blackhole, start_router):
    r = start_router(probed_settings(pki, [blackhole.address], timeout_ms=20000,
                                     router={"readiness_wait_ms": 1000}))
    t0 = time.monotonic()
    assert readyz(r) == (503, 503)
    assert wait_until(lambda: readyz(r) == (200, 200), timeout=8), r.stderr()
    assert time.monotonic() - t0 < 8
    log = r.wait_stderr("READY_WITHOUT_TARGETS warning")
    assert re.search(r"READY_WITHOUT_TARGETS warning: .*fraud/blue", log)
    waited = int(re.search(r"ready after (\d+) ms", log).group(1))
    assert 950 <= waited < 4000, waited  # the bound, by the router's own clock


def test_mirrors_and_zero_weight_deployments_do_not_hold_readiness(pki, model, blackhole, start_router):
    s = probed_settings(pki, [model.address], router={"readiness_wait_ms": 20000})
    ep = s["endpoints"][0]
    for name in ("green", "gray"):
        ep["deployments"].append({"name": name, "targets": [blackhole.address],
                                  "readiness_probe": probe(timeout_ms=20000)})
    ep["traffic"] = {"blue": 100, "green": 0, "gray": 0}
    ep["mirror_traffic"] = {"green": 10}
    r = start_router(s)
    assert wait_until(lambda: readyz(r) == (200, 200), timeout=5), r.stderr()


def test_a_reload_adding_a_deployment_does_not_make_a_ready_router_unready(pki, model, blackhole, start_router):
    s = probed_settings(pki, [model.address], router={"readiness_wait_ms": 20000})
    r = start_router(s)
    assert wait_until(lambda: readyz(r) == (200, 200), timeout=5)
    s["endpoints"][0]["deployments"].append({"name": "green", "targets": [blackhole.address],
                                             "readiness_probe": probe(timeout_ms=20000)})
    s["endpoints"][0]["traffic"] = {"blue": 50, "green": 50}
    r.config.write_text(json.dumps(s))
    assert r.admin("/-/reload", "POST")[0] == 200
    for _ in range(10):
        assert readyz(r) == (200, 200)
        time.sleep(0.05)


@pytest.mark.skipif(not can_unshare(), reason="needs root and mount namespaces (unshare -m) to give "
                    "scoregate its own /etc/hosts")
def test_a_dns_target_that_appears_later_waits_initial_delay(pki, model, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    s = settings_for(pki, [f"dns:late-model.test:{model.port}"],
                     router={"dns_refresh_ms": 100, "readiness_wait_ms": 300})
    s["endpoints"][0]["deployments"][0]["readiness_probe"] = probe(period_ms=100, initial_delay_ms=2500)
    wrapper = tmp_path / "in-ns.sh"
    wrapper.write_text(f'#!/bin/sh\nmount --bind {hosts} /etc/hosts && exec "$@"\n')
    wrapper.chmod(0o755)
    r = Router(tmp_path, s, prefix=["unshare", "-m", str(wrapper)])
    try:
        # no target yet: ready once readiness_wait_ms is over, naming the deployment
        r.wait_stderr("READY_WITHOUT_TARGETS warning", timeout=5)
        assert r.admin("/readyz")[0] == 200
        with open(hosts, "r+") as f:  # same inode: the bind mount sees the change
            f.write("127.0.0.1 localhost\n127.0.0.1 late-model.test\n")
        r.wait_stderr("discovered 1 target(s)", timeout=5)
        t0 = time.monotonic()
        r.wait_stderr(f"target 127.0.0.1:{model.port} is ready", timeout=8)
        assert time.monotonic() - t0 > 2.0, "a target that appeared later skipped initial_delay"
    finally:
        r.stop()


# --- endpoint key rotation ---------------------------------------------------------------

class KubeletVolume:
    """A directory laid out as the kubelet mounts a Secret: `primary -> ..data/primary`,
    `..data -> ..2026_...` (a timestamped directory); an update writes a new timestamped
    directory, points `..data_tmp` at it and renames that over `..data`."""

    def __init__(self, root, files):
        self.root = root
        root.mkdir()
        self.n = 0
        self.current = self._write(files)
        os.symlink(self.current, root / "..data")
        for name in files:
            os.symlink(f"..data/{name}", root / name)

    def _write(self, files):
        self.n += 1
        d = f"..2026_01_01_00_00_{self.n:02d}.{os.getpid()}"
        (self.root / d).mkdir()
        for name, value in files.items():
            (self.root / d / name).write_text(value)
        return d

    def update(self, files):
        new = self._write(files)
        os.symlink(new, self.root / "..data_tmp")
        os.rename(self.root / "..data_tmp", self.root / "..data")
        shutil.rmtree(self.root / self.current)
        self.current = new


def key_status(port, key, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/api/v1/endpoint/fraud/score", body=b'{"data": [[1]]}',
              headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    resp = c.getresponse()
    resp.read()
    return resp.status


def test_endpoint_keys_rotate_from_a_kubelet_secret_volume(pki, model, tmp_path):
    vol = KubeletVolume(tmp_path / "keys", {"primary": KEY_A + "\n", "secondary": KEY_B + "\n"})
    s = settings_for(pki, [model.address], insecure=True)
    s["endpoints"][0]["keys"] = {"primary_file": str(vol.root / "primary"),
                                 "secondary_file": str(vol.root / "secondary")}
    r = Router(tmp_path, s)
    try:
        assert [key_status(r.port, k) for k in (KEY_A, KEY_B, KEY_C)] == [200, 200, 401]

        # light load with the key that stays, on keep-alive connections, during the swap
        failures, done, stop = [], [0], threading.Event()

        def load():
            conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=10)
            while not stop.is_set():
                st = key_status(r.port, KEY_A, conn)
                done[0] += 1
                if st != 200:
                    failures.append(st)
                time.sleep(0.01)

        t = threading.Thread(target=load)
        t.start()
        time.sleep(0.3)
        vol.update({"primary": KEY_A, "secondary": KEY_C})  # step 1: a new secondary
        assert wait_until(lambda: key_status(r.port, KEY_C) == 200, timeout=10), r.stderr()
        assert key_status(r.port, KEY_B) == 401  # both keys switched together
        time.sleep(0.5)
        stop.set()
        t.join()
        assert failures == [] and done[0] >= 10, (failures, done)

        # a bad update (empty primary) keeps the keys in use and is reported
        vol.update({"primary": "", "secondary": KEY_D})
        r.wait_stderr("KEY_ROTATION_REFUSED warning", timeout=10)
        assert [key_status(r.port, k) for k in (KEY_A, KEY_C, KEY_D)] == [200, 200, 401]
        status = json.loads(r.admin("/status")[1])
        assert status["reloads"]["failed"] >= 1
        assert "KEY_ROTATION_REFUSED" in status["reloads"]["last_error"]
        assert "AUTH_KEY_FILE_UNREADABLE" in status["reloads"]["last_error"]

        # an invalid key (a space: cannot be sent in a header) is refused too
        vol.update({"primary": "has a space in it 0123456789", "secondary": KEY_D})
        assert wait_until(lambda: r.stderr().count("KEY_ROTATION_REFUSED warning") >= 2, timeout=10)
        assert [key_status(r.port, k) for k in (KEY_A, KEY_C, KEY_D)] == [200, 200, 401]

        # step 2 of the procedure: the new key becomes primary, the old one goes
        vol.update({"primary": KEY_C, "secondary": KEY_D})
        assert wait_until(lambda: key_status(r.port, KEY_D) == 200, timeout=10), r.stderr()
        assert [key_status(r.port, k) for k in (KEY_A, KEY_C)] == [401, 200]

        # never a key or the key files' directory in the log or /status
        seen = r.stderr() + "".join(r.stdout_lines) + r.admin("/status")[1]
        for secret in (KEY_A, KEY_B, KEY_C, KEY_D, "has a space", str(vol.root)):
            assert secret not in seen
    finally:
        r.stop()


# --- workers and limits ------------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("taskset") or os.cpu_count() < 2, reason="needs taskset and 2 CPUs")
def test_default_workers_follow_the_affinity_mask(pki, model, tmp_path):
    s = settings_for(pki, [model.address], insecure=True)
    r = Router(tmp_path, s, workers=0, prefix=["taskset", "-c", "0"])
    try:
        assert json.loads(r.admin("/status")[1])["workers"] == 1
        assert re.search(r"workers: 1 \(router.workers unset: from the affinity mask", r.stderr())
    finally:
        r.stop()
    r = Router(tmp_path, s, workers=0)  # without the mask: every CPU of this machine
    try:
        assert json.loads(r.admin("/status")[1])["workers"] == len(os.sched_getaffinity(0))
    finally:
        r.stop()


@pytest.mark.skipif(not shutil.which("prlimit"), reason="needs prlimit")
def test_the_open_files_soft_limit_is_raised_to_the_hard_limit(pki, model, tmp_path):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("hard limit too low to lower the soft one")
    s = settings_for(pki, [model.address], insecure=True)
    r = Router(tmp_path, s, prefix=["prlimit", "--nofile=256:"])  # soft 256, hard unchanged
    try:
        limits = (open(f"/proc/{r.proc.pid}/limits").read())
        row = next(l for l in limits.splitlines() if l.startswith("Max open files"))
        soft, hard_seen = row.split()[3:5]
        assert soft == hard_seen == str(hard), row
        assert f"open files: soft limit {hard} (= the hard limit; it was 256)" in r.stderr()
    finally:
        r.stop()
