"""`make run` / dev mode: a generated development CA, the built-in sample model, a printed
curl line that works when pasted (issue 2, user story 1)."""
import re
import signal
import subprocess
import threading
import time

from conftest import BIN


def start_dev(state_dir, cwd):
    p = subprocess.Popen([BIN, "serve", "--state-dir", str(state_dir), "--listen", "127.0.0.1:0",
                          "--admin", "127.0.0.1:0", "--workers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    out, err = [], []
    threading.Thread(target=lambda: [err.append(l) for l in p.stderr], daemon=True).start()
    lines = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Ctrl-C"):
            break
    return p, "".join(lines), err


def test_dev_mode_prints_a_curl_line_that_works(tmp_path):
    state = tmp_path / "state"
    p, banner, err = start_dev(state, tmp_path)
    try:
        assert "DEVELOPMENT MODE" in banner, banner + "".join(err)
        assert "development only" in banner
        # the curl command as printed, continuation lines joined, run by a shell as if pasted
        m = re.search(r"^  (curl .*?)\n\n", banner, re.S | re.M)
        assert m, banner
        command = m.group(1).replace("\\\n", " ")
        r = subprocess.run(["sh", "-c", command + " -sS --max-time 10"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        # the sample model: 0.5 + sum(w_i * i) for the printed input [1..10]
        assert re.fullmatch(r'\{"result":\[[0-9.]+\]\}', r.stdout.strip()), r.stdout
        expected = 0.5 + sum(w * x for w, x in zip([0.5, -0.25, 1.0, 0.75, -0.5, 0.1, 0.2, -0.3, 0.05, 1.5],
                                                   range(1, 11)))
        assert abs(float(r.stdout.split("[")[1].split("]")[0]) - expected) < 1e-9
        assert "self-made" in banner or "development CA" in banner
        assert any("development mode" in l for l in err)
        key = re.search(r"endpoint key: (\S+)", banner).group(1)
    finally:
        p.send_signal(signal.SIGINT)
        assert p.wait(15) == 0
    # the second start reuses the CA, the certificate and the key
    ca_before = (state / "tls" / "dev-ca.pem").read_bytes()
    p, banner, err = start_dev(state, tmp_path)
    try:
        assert re.search(r"endpoint key: (\S+)", banner).group(1) == key
        assert (state / "tls" / "dev-ca.pem").read_bytes() == ca_before
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0


def test_help_is_useful():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    for word in ("serve", "cert", "secret", "settings"):
        assert word in out
    out = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True).stdout
    for flag in ("--config", "--config-protected", "--listen", "--admin", "--workers", "--secrets-dir", "--state-dir"):
        assert flag in out
    r = subprocess.run([BIN, "serve", "--no-such-flag"], capture_output=True, text=True)
    assert r.returncode == 2
