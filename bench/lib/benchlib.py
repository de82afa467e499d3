"""Plumbing for bench/: processes we start (and only those), ports, certificates, config
rendering, /proc sampling and the parsers for wrk and sgload output. Python 3 stdlib only."""
import json
import os
import re
import select
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
CONF = BENCH / "conf"
SGLOAD = BENCH / ".bin" / "sgload"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

_started = []          # every Proc this run started, stopped by stop_all()
_command_log = None    # file every executed command line is appended to


def log(msg):
    print(msg, flush=True)


def set_command_log(path):
    global _command_log
    _command_log = open(path, "a")


def note_command(cmd):
    if _command_log:
        _command_log.write(" ".join(shlex.quote(str(c)) for c in cmd) + "\n")
        _command_log.flush()


def pinned(cmd, cpu):
    return (["taskset", "-c", str(cpu)] if cpu is not None else []) + [str(c) for c in cmd]


class Proc:
    """A long-running process we started: its own session (so its group is ours alone),
    output to a log file, pinned to a CPU when asked."""

    def __init__(self, name, cmd, log_path, cpu=None, cwd=None):
        self.name, self.log_path = name, Path(log_path)
        full = pinned(cmd, cpu)
        note_command(full)
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(full, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        self.pid = self.popen.pid
        self.killed = False
        _started.append(self)

    def alive(self):
        return self.popen.poll() is None

    def log_tail(self, lines=15):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace=8.0):
        """SIGTERM to the process group we created for it, SIGKILL after `grace` seconds.
        Returns the exit status (self.killed tells whether SIGKILL was needed)."""
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"  {self.name} (pid {self.pid}) ignored SIGTERM for {grace:.0f} s: SIGKILL")
                self.killed = True
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        else:
            # the leader is gone; children in its group (nginx workers) may not be
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._log.close()
        if self in _started:
            _started.remove(self)
        return self.popen.returncode


def stop_all():
    for p in list(reversed(_started)):
        p.stop(grace=3.0)


def install_cleanup():
    """Stops what we started on normal exit, on exceptions and on SIGINT/SIGTERM/SIGHUP."""
    def on_signal(sig, _frame):
        log(f"bench: signal {sig}: stopping everything it started")
        raise SystemExit(128 + sig)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    import atexit
    atexit.register(stop_all)


def port_is_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the servers do
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def require_free_ports(ports):
    busy = [f"{name} 127.0.0.1:{port}" for name, port in ports.items() if not port_is_free(port)]
    if busy:
        sys.exit("bench: port(s) already in use: " + ", ".join(busy) +
                 "\n  find the owner with `ss -ltnp`, or move every bench port with PORT_BASE=<n>")


def wait_listening(proc, port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            return f"{proc.name} exited with status {proc.popen.returncode}:\n{proc.log_tail()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return None
        except OSError:
            time.sleep(0.1)
    return f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s"


def check_post(port, path, ca=None, body=b'{"data":[[1,2,3,4,5,6,7,8,9,10]]}', expect=b'{"result":[0.5]}'):
    """One real POST (HTTPS verified against our CA unless ca is None); None if it is right."""
    import http.client
    try:
        if ca:
            ctx = ssl.create_default_context(cafile=str(ca))
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        got = r.read()
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        return f"POST {path} failed: {e}"
    if r.status != 200 or got != expect:
        return f"POST {path}: status {r.status}, body {got[:200]!r} (want 200 {expect!r})"
    return None


# ---- certificates and bodies ------------------------------------------------------------

def run_quiet(cmd, **kw):
    note_command(cmd)
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit(f"bench: command failed: {' '.join(map(str, cmd))}\n{r.stderr}")
    return r.stdout


def make_certs(d, kind):
    """A throw-away test CA and one leaf for localhost/127.0.0.1 (ECDSA P-256 or RSA 2048)."""
    d.mkdir(parents=True, exist_ok=True)
    run_quiet(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
               "-nodes", "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "365",
               "-subj", "/CN=scoregate bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    run_quiet(["openssl", "req", "-new", *newkey, "-nodes", "-keyout", d / "leaf.key",
               "-out", d / "leaf.csr", "-subj", "/CN=localhost"])
    (d / "leaf.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                "keyUsage=critical,digitalSignature,keyEncipherment\n")
    run_quiet(["openssl", "x509", "-req", "-in", d / "leaf.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
               "-CAcreateserial", "-out", d / "leaf.crt", "-days", "90", "-sha256", "-extfile", d / "leaf.ext"])
    chain = (d / "leaf.crt").read_text() + (d / "ca.pem").read_text()
    (d / "fullchain.pem").write_text(chain)
    (d / "combined.pem").write_text(chain + (d / "leaf.key").read_text())   # HAProxy's crt
    return {"ca": d / "ca.pem", "fullchain": d / "fullchain.pem", "key": d / "leaf.key",
            "combined_pem": d / "combined.pem"}


def make_json_body(path, size):
    """A model-input-like JSON document of exactly `size` bytes: {"data":[[x, x, ...]]}."""
    head, tail, item = b'{"data":[[', b']]}', b"0.1234567,"
    n = max(0, (size - len(head) - len(tail)) // len(item))
    inner = (item * n)[:-1] if n else b"0"
    pad = size - len(head) - len(tail) - len(inner)
    doc = head + inner + (b" " * pad) + tail    # JSON allows spaces before ']'
    path.write_bytes(doc)
    return path


# ---- configuration rendering ------------------------------------------------------------

def render(template, out, values):
    """Fills {{name}} placeholders; every placeholder must be known."""
    text = (CONF / template).read_text()

    def sub(m):
        if m.group(1) not in values:
            sys.exit(f"bench: {template}: unknown placeholder {{{{{m.group(1)}}}}}")
        return str(values[m.group(1)])
    out.write_text(re.sub(r"\{\{(\w+)\}\}", sub, text))
    return out


# ---- /proc sampling ---------------------------------------------------------------------

def tree_pids(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def tree_cpu_seconds(pid):
    """utime + stime of the process and its descendants (all threads), in seconds."""
    ticks = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])   # utime, stime (fields 14, 15)
        except (OSError, IndexError):
            pass
    return ticks / CLK_TCK


def tree_task_cpu(pid):
    """{(pid, tid): utime + stime seconds} of every thread of the process tree: the busiest one
    tells whether a multi-worker proxy spreads its work (nginx workers are processes, HAProxy's
    and scoregate's are threads)."""
    out = {}
    for p in tree_pids(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                out[(p, int(tid))] = (int(fields[11]) + int(fields[12])) / CLK_TCK
            except (OSError, IndexError, ValueError):
                pass
    return out


def tree_status_kib(pid, field):
    """Sum of one /proc/<pid>/status field (VmRSS, VmHWM) over the process tree, KiB."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
                        break
        except (OSError, IndexError, ValueError):
            pass
    return total


class PeakRss:
    """Samples the RSS of a process tree every `interval` s in a thread; .peak_kib is the highest
    sum seen (a tree's true peak: per-process VmHWM peaks need not coincide in time)."""

    def __init__(self, pid, interval=0.02):
        import threading
        self.pid, self.interval, self.peak_kib, self.samples = pid, interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
        return False


def tree_rss_kib(pid):
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KIB
        except (OSError, IndexError):
            pass
    return total


def cpu_busy_ticks():
    """{cpu index: (busy, total)} from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+)\s+(.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                idle = v[3] + v[4]
                out[int(m.group(1))] = (sum(v[:8]) - idle, sum(v[:8]))
    return out


class Window:
    """CPU time of one process tree and busy % of each CPU across a measured window; .busiest is
    the CPU time of the busiest thread of the tree (the worker that saturates first)."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        self.t0, self.s0 = time.monotonic(), cpu_busy_ticks()
        self.c0 = tree_cpu_seconds(self.pid) if self.pid else 0.0
        self.k0 = tree_task_cpu(self.pid) if self.pid else {}
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.cpu = (tree_cpu_seconds(self.pid) - self.c0) if self.pid else 0.0
        k1 = tree_task_cpu(self.pid) if self.pid else {}
        deltas = [v - self.k0.get(k, 0.0) for k, v in k1.items()]
        self.busiest = max(deltas or [0.0])
        self.busiest_share = self.busiest / sum(deltas) if sum(deltas) > 0 else None
        s1 = cpu_busy_ticks()
        self.busy_pct = {c: 100.0 * (s1[c][0] - self.s0[c][0]) / max(1, s1[c][1] - self.s0[c][1])
                         for c in s1 if c in self.s0}
        return False

    def busy(self, cpus):
        """Mean busy % of the CPUs in a taskset list ("1", "0,1", "0-1"); None if unknown."""
        vals = [self.busy_pct.get(c) for c in cpu_list(cpus)]
        return sum(vals) / len(vals) if vals and None not in vals else None


def cpu_list(spec):
    if spec is None:
        return []
    out = []
    for part in str(spec).split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


# ---- load tools -------------------------------------------------------------------------

def run_tool(cmd, cpu, timeout, raw_path, env=None):
    """Runs a bounded load tool pinned to `cpu`; output kept in raw_path. Returns stdout."""
    full = pinned(cmd, cpu)
    note_command(full)
    try:
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})})
        out, err, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = f"killed after {timeout} s", -9
    Path(raw_path).write_text(f"$ {' '.join(shlex.quote(c) for c in full)}\n{out}\n--- stderr (rc {rc})\n{err}")
    return out


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(text):
    """requests, req/s, p50/p99 (ms), socket errors, non-2xx, per-status counts."""
    out = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        if m:
            out[f"p{pct}_ms"] = float(m.group(1)) * _UNIT[m.group(2)]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    out["statuses"] = {int(c): int(n) for c, n in re.findall(r"^STATUS (\d+) (\d+)$", text, re.M)}
    return out


def parse_sgload(text):
    for line in reversed(text.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return None


def hold_idle(cmd, cpu, raw_path, timeout):
    """Starts `sgload idle`, waits for its ESTABLISHED line; returns (Popen, established) so the
    caller can sample, then finish_idle() stops it."""
    full = pinned(cmd, cpu)
    note_command(full)
    p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    deadline, lines, established = time.monotonic() + timeout, [], None
    while time.monotonic() < deadline and established is None:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ESTABLISHED "):
                established = int(line.split()[1])
    p._bench_lines, p._bench_raw = lines, raw_path
    return p, established


def finish_idle(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        rest, _ = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        rest, _ = p.communicate()
    text = "".join(p._bench_lines) + (rest or "")
    Path(p._bench_raw).write_text(text)
    return parse_sgload(text)
