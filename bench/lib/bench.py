#!/usr/bin/env python3
"""scoregate bench: scoregate vs nginx vs haproxy on one machine, one upstream, one certificate,
one load (`run`), and the admission-control measure (`admission`). See bench/README.md."""
import datetime
import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402
import h2bench as h2b  # noqa: E402
from benchlib import log  # noqa: E402

PATH = "/api/v1/service/demo/score"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def settings():
    quick = os.environ.get("QUICK", "0") not in ("", "0")
    s = {
        "quick": quick,
        "rounds": env_int("ROUNDS", 1 if quick else 3),
        "duration": env_int("DURATION", 3 if quick else 10),
        "warmup": env_int("WARMUP", 1 if quick else 2),
        "conns": env_int("CONNS", 64),
        "hs_conns": env_int("HS_CONNS", 32),
        "upload_conns": env_int("UPLOAD_CONNS", 4),
        "rate": env_int("RATE", 2000),
        "rate_conns": env_int("RATE_CONNS", 16),
        "idle_conns": env_int("IDLE_CONNS", 500 if quick else 2000),
        "h2_conns": env_int("H2_CONNS", 64),
        "h2_streams": env_int("H2_STREAMS", 16),
        "grpc_conns": env_int("GRPC_CONNS", 16),
        "grpc_streams": env_int("GRPC_STREAMS", 16),
        "cert": os.environ.get("CERT", "ecdsa"),
        "proxies": os.environ.get("PROXIES", "scoregate nginx haproxy").split(),
        "scenarios": os.environ.get("SCENARIOS", "a b c d e f g h i").split(),
        "workers": [int(w) for w in os.environ.get("WORKERS", "1 2").split()],
        "multi_scenarios": os.environ.get("MULTI_SCENARIOS", "a b d i").split(),
        "storm_conns": env_int("STORM_CONNS", 10000),
        "storm_inflight": env_int("STORM_INFLIGHT", 1000),
        "scoregate_bin": os.environ.get("SCOREGATE_BIN", str(bl.ROOT / "build" / "scoregate")),
        # the row scoregate-boringssl: the BoringSSL build (README "TLS library")
        "scoregate_boringssl_bin": os.environ.get("SCOREGATE_BORINGSSL_BIN",
                                                  str(bl.ROOT / "build-boring" / "scoregate")),
        # the row scoregate-io_uring: the io_uring build (README "I/O backend")
        "scoregate_io_uring_bin": os.environ.get("SCOREGATE_IO_URING_BIN",
                                                 str(bl.ROOT / "build-uring" / "scoregate")),
        # the row scoregate-base: any other build to compare with (a change's A/B: the build
        # before it), SCOREGATE_BASE_BIN
        "scoregate_base_bin": os.environ.get("SCOREGATE_BASE_BIN", ""),
        "proxy_cpu": env_int("PROXY_CPU", 0),
        "load_cpu": env_int("LOAD_CPU", 1),
        "multi_proxy_cpus": os.environ.get("MULTI_PROXY_CPUS", ",".join(map(str, range(os.cpu_count() or 1)))),
        "multi_load_cpus": os.environ.get("MULTI_LOAD_CPUS", ",".join(map(str, range(os.cpu_count() or 1)))),
        "port_base": env_int("PORT_BASE", 18440),
    }
    if s["cert"] not in ("ecdsa", "rsa"):
        sys.exit("bench: CERT must be ecdsa or rsa")
    unknown = [p for p in s["proxies"] if p not in SCOREGATES + ("nginx", "haproxy", "h2o")]
    unknown += [x for x in s["scenarios"] + s["multi_scenarios"] if x not in ALL_SCENARIOS or len(x) != 1]
    unknown += [x for x in s["multi_scenarios"] if x not in MULTI_OK]
    if not s["workers"] or any(not 1 <= w <= 16 for w in s["workers"]) or len(set(s["workers"])) != len(s["workers"]):
        unknown.append(f"WORKERS={s['workers']} (distinct counts 1..16)")
    if unknown:
        sys.exit(f"bench: unknown PROXIES/SCENARIOS/MULTI_SCENARIOS/WORKERS entries: {unknown}")
    if not 1 <= s["idle_conns"] <= 9000:
        sys.exit("bench: IDLE_CONNS must be 1..9000 (HAProxy's maxconn and the fd limit)")
    if not 1 <= s["storm_conns"] <= 10000 or not 1 <= s["storm_inflight"] <= 4000:
        sys.exit("bench: STORM_CONNS must be 1..10000 (HAProxy's maxconn 10500, the fd limit), "
                 "STORM_INFLIGHT 1..4000 (below the listen backlogs, 4096)")
    if (os.cpu_count() or 1) < 2:
        log("bench: fewer than 2 CPUs: running unpinned (numbers mix proxy and load)")
        s["proxy_cpu"] = s["load_cpu"] = s["multi_proxy_cpus"] = s["multi_load_cpus"] = None
    b = s["port_base"]
    s["ports"] = {"upstream": b, "scoregate": b + 1, "nginx": b + 2, "haproxy": b + 3,
                  "h2o": b + 4, "grpc-py": b + 5, "grpc-fast": b + 6, "scoregate-boringssl": b + 7,
                  "scoregate-io_uring": b + 8, "scoregate-admin": b + 9,
                  "scoregate-base": b + 30}  # one admin port: the proxies run one at a time
    return s


# scoregate's rows: the default build and the variants built beside it
SCOREGATES = ("scoregate", "scoregate-boringssl", "scoregate-io_uring", "scoregate-base")


def scoregate_bin(s, name):
    return s[name.replace("-", "_") + "_bin"]


def preflight(s, need_proxies):
    missing = [t for t in ("openssl", "taskset", "wrk", "nginx") if not shutil.which(t)]
    missing += [p for p in ("haproxy", "h2o") if p in need_proxies and not shutil.which(p)]
    if set("fgh") & set(s["scenarios"]) and not shutil.which("h2load"):
        missing.append("h2load (nghttp2-client)")
    if not Path(bl.ECHO_MODULE).exists():
        missing.append("libnginx-mod-http-echo")
    if missing:
        sys.exit(f"bench: missing: {' '.join(missing)} — `scripts/deps.sh bench` installs them")
    how = {"scoregate": "build it (`make build`) or set SCOREGATE_BIN",
           "scoregate-boringssl": "`make build TLS=boringssl` or set SCOREGATE_BORINGSSL_BIN",
           "scoregate-io_uring": "`make build IO=io_uring` or set SCOREGATE_IO_URING_BIN",
           "scoregate-base": "set SCOREGATE_BASE_BIN to the build to compare with"}
    for name in set(SCOREGATES) & set(need_proxies):
        if not os.access(scoregate_bin(s, name), os.X_OK):
            sys.exit(f"bench: no {name} binary at {scoregate_bin(s, name)} — {how[name]}")
    r = subprocess.run([str(bl.BENCH / "build-tools.sh")], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"bench: building sgload failed:\n{r.stdout}{r.stderr}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # inherited by the proxies; HAProxy wants 2 x maxconn (10500) + a few descriptors, more than
    # the usual hard limit of 20000: raise it where we may (root), else keep what we have
    want = max(hard, 32768) if hard != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def versions(s):
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    git = subprocess.run(["git", "-C", str(bl.ROOT), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    return {"nginx": first_line(["nginx", "-v"]), "haproxy": first_line(["haproxy", "-v"]),
            "h2o": first_line(["h2o", "--version"]),
            "wrk": first_line(["wrk", "-v"]), "h2load": h2b.tool_version(), "openssl": first_line(["openssl", "version"]),
            "kernel": os.uname().release, "cpus": os.cpu_count(), "scoregate_git": git,
            "scoregate_bin": s["scoregate_bin"]}


# ---- servers -----------------------------------------------------------------------------

def start_upstream(s, out, ports, delay_ms=0):
    rundir = out / "run" / "upstream"
    rundir.mkdir(parents=True, exist_ok=True)
    conf = bl.render("upstream.nginx.conf", rundir / "upstream.nginx.conf", {
        "echo_module": bl.ECHO_MODULE, "rundir": rundir,
        "listen_lines": "\n".join(f"        listen 127.0.0.1:{p} backlog=4096;" for p in ports),
        "delay_line": f"            echo_sleep {delay_ms / 1000:.3f};" if delay_ms else ""})
    proc = bl.Proc("upstream", ["nginx", "-p", rundir, "-c", conf, "-e", rundir / "error.log",
                                "-g", "daemon off;"], rundir / "upstream.log", cpu=s["load_cpu"])
    for p in ports:
        err = bl.wait_listening(proc, p) or bl.check_post(p, "/score")
        if err:
            sys.exit(f"bench: the upstream did not come up: {err}")
    return proc


def grpc_targets(s):
    return {"grpc_py": f"127.0.0.1:{s['ports']['grpc-py']}", "grpc_fast": f"127.0.0.1:{s['ports']['grpc-fast']}"}


def scoregate_values(s, certs, rundir, targets, max_concurrent=1000, queue_wait_ms=1000, queue_length=10000,
                     workers=1, name="scoregate"):
    return {**certs, "listen": f"127.0.0.1:{s['ports'][name]}", **grpc_targets(s), "workers": workers,
            "admin": f"127.0.0.1:{s['ports']['scoregate-admin']}",
            "targets": ", ".join(f'"{t}"' for t in targets), "max_concurrent": max_concurrent,
            "max_queue_wait_ms": queue_wait_ms, "max_queue_length": queue_length}


def start_proxy(s, name, certs, rundir, sg_values=None, workers=1):
    """Starts one proxy with `workers` workers (nginx worker processes, HAProxy threads,
    scoregate worker threads), pinned to s["proxy_cpu"]; returns (Proc, None) or (None, reason).
    With more than one worker nginx listens with `reuseport`, so the kernel spreads connections
    over its workers as it does over scoregate's (one SO_REUSEPORT acceptor per worker);
    HAProxy's threads share one listener and balance accepts themselves."""
    rundir.mkdir(parents=True, exist_ok=True)
    port, upstream = s["ports"][name], f"127.0.0.1:{s['ports']['upstream']}"
    values = {**certs, "rundir": rundir, "listen": f"127.0.0.1:{port}", "port": port,
              "upstream": upstream, **grpc_targets(s), "workers": workers,
              "listen_opts": " reuseport" if workers > 1 else ""}
    if name == "nginx":
        conf = bl.render("nginx.conf", rundir / "nginx.conf", values)
        cmd = ["nginx", "-p", rundir, "-c", conf, "-e", rundir / "error.log", "-g", "daemon off;"]
    elif name == "haproxy":
        conf = bl.render("haproxy.cfg", rundir / "haproxy.cfg", values)
        cmd = ["haproxy", "-db", "-f", conf]
    elif name == "h2o":
        conf = bl.render("h2o.conf", rundir / "h2o.conf",
                         {**values, "user": pwd.getpwuid(os.getuid()).pw_name})
        cmd = ["h2o", "-c", conf]
    else:
        conf = bl.render("scoregate.yaml", rundir / "scoregate.yaml",
                         sg_values or scoregate_values(s, certs, rundir, [upstream], workers=workers, name=name))
        cmd = [scoregate_bin(s, name), "serve", "-f", conf, "--workers", str(workers)]
    proc = bl.Proc(name, cmd, rundir / f"{name}.log", cpu=s["proxy_cpu"], cwd=rundir)
    err = bl.wait_listening(proc, port) or bl.check_post(port, PATH, ca=certs["ca"])
    if err:
        proc.stop()
        return None, f"{name} did not start or answer correctly: {err}"
    return proc, None


# ---- scenarios ---------------------------------------------------------------------------

def wrk_cmd(s, port, conns, seconds, body, timeout="10s", script="post.lua"):
    return ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", timeout,
            "-s", bl.CONF / script, f"https://127.0.0.1:{port}{PATH}"], {"BENCH_BODY": str(body)}


def scenario_a(s, ctx, proc, port, raw):
    cmd, env = wrk_cmd(s, port, s["conns"], s["warmup"], ctx["body_1k"])
    bl.run_tool(cmd, s["load_cpu"], s["warmup"] + 20, raw.with_suffix(".warmup.txt"), env)
    cmd, env = wrk_cmd(s, port, s["conns"], s["duration"], ctx["body_1k"])
    with bl.Window(proc.pid) as w:
        r = bl.parse_wrk(bl.run_tool(cmd, s["load_cpu"], s["duration"] + 30, raw, env))
    n = r.get("requests", 0)
    return {"rps": r.get("rps"), "p50_ms": r.get("p50_ms"), "p99_ms": r.get("p99_ms"),
            "cpu_us_per_req": w.cpu * 1e6 / n if n else None, "proxy_cpu_pct": 100 * w.cpu / w.wall,
            "load_cpu_pct": w.busy(s["load_cpu"]), "errors": r["socket_errors"] + r["non2xx"],
            **capacity(w, n)}


def capacity(w, n):
    """Work per CPU-second of the busiest proxy thread: the rate at which that worker would fill
    its own core (with one worker, ~1 / CPU per unit). Comparing it across worker counts gives
    the scaling the proxy allows, whatever the load side could drive on this machine."""
    return {"capacity": n / w.busiest if n and w.busiest else None,
            "busiest_pct": 100 * w.busiest_share if w.busiest_share is not None else None}


def sgload_cmd(s, mode, port, certs, extra, plain=False, path=PATH):
    cmd = [bl.SGLOAD, mode, "--port", port, "--path", path] + [str(x) for x in extra]
    return cmd + (["--plain"] if plain else ["--cafile", certs["ca"], "--sni", "localhost"])


def scenario_b(s, ctx, proc, port, raw):
    cmd = sgload_cmd(s, "handshake", port, ctx["certs"], ["-c", s["hs_conns"], "-d", s["duration"],
                                                          "--body-file", ctx["body_1k"]])
    with bl.Window(proc.pid) as w:
        r = bl.parse_sgload(bl.run_tool(cmd, s["load_cpu"], s["duration"] + 30, raw)) or {}
    ok = r.get("ok", 0)
    return {"hs_per_s": r.get("per_sec"), "cpu_us_per_hs": w.cpu * 1e6 / ok if ok else None,
            "proxy_cpu_pct": 100 * w.cpu / w.wall, "session_reused": r.get("session_reused"),
            "load_cpu_pct": w.busy(s["load_cpu"]), **capacity(w, ok),
            "errors": r.get("errors", 0) + r.get("non2xx", 0) if r else None,
            "tls": f"{r.get('protocol')} {r.get('cipher')} {r.get('group')}" if r else "?"}


def scenario_c(s, ctx, proc, port, raw):
    cmd, env = wrk_cmd(s, port, s["upload_conns"], s["warmup"], ctx["body_8m"], timeout="20s")
    bl.run_tool(cmd, s["load_cpu"], s["warmup"] + 30, raw.with_suffix(".warmup.txt"), env)
    cmd, env = wrk_cmd(s, port, s["upload_conns"], s["duration"], ctx["body_8m"], timeout="20s")
    with bl.Window(proc.pid) as w:
        r = bl.parse_wrk(bl.run_tool(cmd, s["load_cpu"], s["duration"] + 40, raw, env))
    n = r.get("requests", 0)
    gib = n * 8 / 1024
    return {"mib_s": r["rps"] * 8 if "rps" in r else None,
            "cpu_ms_per_gib": w.cpu * 1e3 / gib if gib else None,
            "proxy_cpu_pct": 100 * w.cpu / w.wall, "errors": r["socket_errors"] + r["non2xx"]}


def scenario_d(s, ctx, proc, port, raw):
    rss0 = bl.tree_rss_kib(proc.pid)
    cmd = sgload_cmd(s, "idle", port, ctx["certs"], ["-c", s["idle_conns"], "-d", 120])
    p, established = bl.hold_idle(cmd, s["load_cpu"], raw, timeout=90)
    try:
        time.sleep(1.0)       # let the proxy finish its own bookkeeping for the last ones
        rss1 = bl.tree_rss_kib(proc.pid)
    finally:
        r = bl.finish_idle(p) or {}
    n = r.get("open_at_end") or 0
    return {"kib_per_conn": (rss1 - rss0) / n if n else None, "rss_fresh_kib": rss0,
            "rss_held_kib": rss1, "established": established, "closed_by_peer": r.get("closed_by_peer"),
            "errors": r.get("errors"),
            "tls": f"{r.get('protocol')} {r.get('cipher')} {r.get('group')}" if r else "?"}


def scenario_e(s, ctx, proc, port, raw, direct=False):
    extra = ["-r", s["rate"], "-c", s["rate_conns"], "-d", s["warmup"], "--body-file", ctx["body_1k"]]
    path = "/score" if direct else PATH
    bl.run_tool(sgload_cmd(s, "rate", port, ctx["certs"], extra, plain=direct, path=path),
                s["load_cpu"], s["warmup"] + 30, raw.with_suffix(".warmup.txt"))
    extra[5] = s["duration"]
    cmd = sgload_cmd(s, "rate", port, ctx["certs"], extra, plain=direct, path=path)
    with bl.Window(proc.pid if proc else None):
        r = bl.parse_sgload(bl.run_tool(cmd, s["load_cpu"], s["duration"] + 30, raw)) or {}
    return {"lat_p50_us": r.get("p50_us"), "lat_p99_us": r.get("p99_us"), "lat_p999_us": r.get("p999_us"),
            "lat_max_us": r.get("max_us"), "achieved_rps": r.get("per_sec"),
            "errors": r.get("errors", 0) + r.get("non2xx", 0) if r else None}


def scenario_i(s, ctx, proc, port, raw):
    """Connection storm: STORM_CONNS new TLS connections, at most STORM_INFLIGHT in progress at
    once, each a full handshake and one keep-alive POST, then held until all are served; the
    proxy's RSS tree is sampled every 20 ms throughout (peak), its CPU across the whole storm
    (handshakes, requests, and the close of every connection at the end)."""
    n = s["storm_conns"]
    rss0 = bl.tree_rss_kib(proc.pid)
    cmd = sgload_cmd(s, "storm", port, ctx["certs"], ["-n", n, "-c", s["storm_inflight"], "-d", 120,
                                                      "--hold-ms", 1000, "--body-file", ctx["body_1k"]])
    with bl.PeakRss(proc.pid) as peak, bl.Window(proc.pid) as w:
        r = bl.parse_sgload(bl.run_tool(cmd, s["load_cpu"], 200, raw)) or {}
    hwm = bl.tree_status_kib(proc.pid, "VmHWM")
    ok = r.get("ok", 0)
    closed = r.get("closed_by_peer") or 0
    note = f"the proxy closed {closed} of the connections it had served before the storm ended" if closed else None
    return {"note": note, "storm_s": r.get("seconds"), "storm_per_s": r.get("per_sec"), "served": ok, "unserved": n - ok,
            "held_at_end": r.get("open_at_end"), "closed_by_peer": r.get("closed_by_peer"),
            "rss_fresh_mib": rss0 / 1024, "peak_rss_mib": peak.peak_kib / 1024, "hwm_sum_mib": hwm / 1024,
            "peak_kib_per_conn": (peak.peak_kib - rss0) / ok if ok else None,
            "cpu_us_per_conn": w.cpu * 1e6 / ok if ok else None, "proxy_cpu_pct": 100 * w.cpu / w.wall,
            "load_cpu_pct": w.busy(s["load_cpu"]), **capacity(w, ok),
            "conn_p50_ms": r["p50_us"] / 1000 if ok else None, "conn_p99_ms": r["p99_us"] / 1000 if ok else None,
            "errors": (r.get("errors", 0) + r.get("non2xx", 0)) if r else None,
            "tls": f"{r.get('protocol')} {r.get('cipher')} {r.get('group')}" if r else "?"}


SCENARIOS = {"a": scenario_a, "b": scenario_b, "c": scenario_c, "d": scenario_d, "e": scenario_e,
             "f": h2b.scenario_f, "g": h2b.scenario_grpc("g"), "h": h2b.scenario_grpc("h"), "i": scenario_i}
ALL_SCENARIOS = "abcdefghi"
# Each phase runs on its own fresh start of the proxy: the storm alone (its peak RSS from a fresh
# process), then the rest with d first (its RSS baseline before any load).
PHASES = ("i", "dabcefgh")
DIRECT = "egh"       # the scenarios that also run with no proxy (the `direct` row)
MULTI_OK = "abcdi"   # the scenarios that run with more than one worker (MULTI_SCENARIOS)


# ---- the comparison run -----------------------------------------------------------------

def new_outdir():
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(os.environ.get("OUTDIR") or bl.BENCH / "results" / stamp)
    (out / "raw").mkdir(parents=True, exist_ok=False)
    bl.set_command_log(out / "commands.txt")
    return out


def brief(m):
    return ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items() if k != "tls")


def run_row(s, ctx, rnd, row, out, record, notes, workers=1):
    """Runs the scenarios of one proxy with `workers` workers, one fresh start per PHASE."""
    todo = s["scenarios"] if workers == 1 else [x for x in s["multi_scenarios"] if x in s["scenarios"]]
    for phase in PHASES:
        scenarios = [sc for sc in phase if sc in todo]
        if scenarios:
            run_phase(s, ctx, rnd, row, out, record, notes, workers, scenarios)


def run_phase(s, ctx, rnd, row, out, record, notes, workers, scenarios):
    """Starts one proxy, runs `scenarios` on it in order, stops it; notes crashes and errors."""
    tag = f"{row}" + (f"-w{workers}" if workers != 1 else "")
    rundir = out / "run" / (f"r{rnd}-{tag}" + ("-storm" if scenarios == ["i"] else ""))
    proc, err = start_proxy(s, row, ctx["certs"], rundir, workers=workers)
    if err:
        notes.append(f"round {rnd}: {err}")
        log(f"  {err}")
        return
    ctx["row"] = row
    rec = record
    record = lambda rnd, row, sc, m: rec(rnd, row, sc, m, workers)   # noqa: E731
    row_label = row if workers == 1 else f"{row} ({workers} workers)"
    try:
        grpc = [sc for sc in "gh" if sc in scenarios] if row in h2b.GRPC_PROXIES else []
        err = grpc and h2b.check_proxy_grpc(row, s["ports"][row], ctx["certs"]["ca"])
        if err:
            notes.append(f"round {rnd}: {row} does not proxy gRPC correctly, g/h skipped: {err}")
        for sc in scenarios:
            if sc in "gh" and (sc not in grpc or err):
                continue
            raw = out / "raw" / f"r{rnd}-{tag}-{sc}.txt"
            m = SCENARIOS[sc](s, ctx, proc, s["ports"][row], raw)
            record(rnd, row, sc, m)
            if m.get("note"):
                notes.append(f"round {rnd} {row_label} scenario {sc}: {m['note']} — see {raw}")
            if m.get("errors"):
                notes.append(f"round {rnd} {row_label} scenario {sc}: {m['errors']} errors/non-2xx — see {raw}")
            elif sc in "fghi" and m.get("errors") is None:
                notes.append(f"round {rnd} {row_label} scenario {sc}: the load tool printed no summary — see {raw}")
            if not proc.alive():
                notes.append(f"round {rnd}: {row_label} DIED during scenario {sc} (exit status "
                             f"{proc.popen.returncode}); log {proc.log_path}:\n{proc.log_tail()}")
                log(f"  {row_label} died during scenario {sc}")
                return
    finally:
        was_alive = proc.alive()
        status = proc.stop()
        if proc.killed:
            notes.append(f"round {rnd}: {row_label} did not stop within 8 s of SIGTERM and was killed")
        elif was_alive and status not in (0, -15):
            notes.append(f"round {rnd}: {row_label} exited with status {status} on SIGTERM; log {proc.log_path}")


def run_direct(s, ctx, rnd, out, scenarios, record):
    """The no-proxy row: e as plain HTTP/1.1 to the upstream, g and h as h2c to the models."""
    ctx["row"] = "direct"
    for sc in scenarios:
        raw = out / "raw" / f"r{rnd}-direct-{sc}.txt"
        if sc == "e":
            m = scenario_e(s, ctx, None, s["ports"]["upstream"], raw, direct=True)
        else:
            m = SCENARIOS[sc](s, ctx, None, s["ports"]["grpc-py" if sc == "g" else "grpc-fast"], raw)
        record(rnd, "direct", sc, m)


def run():
    s = settings()
    preflight(s, s["proxies"])
    bl.install_cleanup()
    need = {"upstream": s["ports"]["upstream"]}
    for p in s["proxies"]:
        need[p] = s["ports"][p]
    if set("gh") & set(s["scenarios"]):
        need.update({"grpc-py": s["ports"]["grpc-py"], "grpc-fast": s["ports"]["grpc-fast"]})
    if set(SCOREGATES) & set(s["proxies"]):
        need["scoregate-admin"] = s["ports"]["scoregate-admin"]
    bl.require_free_ports(need)
    out = new_outdir()
    meta = {"started": datetime.datetime.now().isoformat(timespec="seconds"), "versions": versions(s),
            "settings": {k: v for k, v in s.items()}}
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    log(f"bench: results in {out}")
    ctx = {"certs": bl.make_certs(out / "certs", s["cert"]),
           "body_1k": bl.make_json_body(out / "body-1k.json", 1024),
           "body_8m": bl.make_json_body(out / "body-8m.json", 8 * 1024 * 1024)}
    upstream = start_upstream(s, out, [s["ports"]["upstream"]])
    if set("gh") & set(s["scenarios"]):
        ctx["grpc_request"], answer = h2b.make_grpc_files(out)
        ctx["grpc_models"] = h2b.start_models(s, out, answer)
    direct = [sc for sc in DIRECT if sc in s["scenarios"]]
    rows = list(s["proxies"]) + (["direct"] if direct else [])
    multi = [sc for sc in s["multi_scenarios"] if sc in s["scenarios"]]
    results, notes = [], []
    raw_jsonl = open(out / "raw.jsonl", "a")

    def record(rnd, row, sc, m, workers=1):
        r = {"round": rnd, "row": row, "workers": workers, "scenario": sc, **m}
        results.append(r)
        raw_jsonl.write(json.dumps(r) + "\n")
        raw_jsonl.flush()
        log(f"  r{rnd} {row:9} w{workers} {sc}: {brief(m)}")

    # with more than one worker the proxy may use every CPU, and so may the load (see README)
    s_multi = {**s, "proxy_cpu": s["multi_proxy_cpus"], "load_cpu": s["multi_load_cpus"]}
    t0 = time.monotonic()
    for rnd in range(1, s["rounds"] + 1):
        forward = rnd % 2 == 1
        for workers in (s["workers"] if forward else list(reversed(s["workers"]))):
            if workers != 1 and not multi:
                continue
            wrows = rows if workers == 1 else [r for r in rows if r != "direct"]
            order = wrows if forward else list(reversed(wrows))
            log(f"round {rnd}/{s['rounds']}, {workers} worker(s): {' '.join(order)}")
            for row in order:
                if not upstream.alive():
                    sys.exit(f"bench: the upstream died:\n{upstream.log_tail()}")
                if row == "direct":
                    run_direct(s, ctx, rnd, out, direct, record)
                else:
                    run_row(s if workers == 1 else s_multi, ctx, rnd, row, out, record, notes, workers)
    upstream.stop()
    for model in ctx.get("grpc_models", {}).values():
        model.stop()
    import report
    text = report.summary(results, rows, s["scenarios"], s, notes, meta)
    (out / "summary.md").write_text(text)
    log(f"\n{text}\n(took {time.monotonic() - t0:.0f} s; summary, raw outputs and configs in {out})")


# ---- admission: max_concurrent_requests_per_instance 1 vs 100 ----------------------------

def admission():
    s = settings()
    delay = env_int("DELAY_MS", 5)
    levels = [int(x) for x in os.environ.get("LEVELS", "1 100").split()]
    queue_wait, queue_len = env_int("QUEUE_WAIT_MS", 500), env_int("QUEUE_LENGTH", 0)
    preflight(s, ["scoregate"])
    bl.install_cleanup()
    targets = [s["port_base"] + 10 + i for i in range(env_int("TARGETS", 4))]
    need = {f"model-{i}": p for i, p in enumerate(targets)}
    need.update({"scoregate": s["ports"]["scoregate"], "scoregate-admin": s["ports"]["scoregate-admin"]})
    bl.require_free_ports(need)
    out = new_outdir()
    log(f"admission: results in {out}")
    certs = bl.make_certs(out / "certs", s["cert"])
    body = bl.make_json_body(out / "body-1k.json", 1024)
    upstream = start_upstream(s, out, targets, delay_ms=delay)
    rows = []
    for level in levels:
        rundir = out / "run" / f"max{level}"
        values = scoregate_values(s, certs, rundir, [f"127.0.0.1:{p}" for p in targets],
                                  max_concurrent=level, queue_wait_ms=queue_wait, queue_length=queue_len)
        proc, err = start_proxy(s, "scoregate", certs, rundir, sg_values=values)
        if err:
            sys.exit(f"admission: {err}")
        try:
            cmd, env = wrk_cmd(s, s["ports"]["scoregate"], s["conns"], s["duration"], body,
                               script="post_count.lua")
            raw = out / "raw" / f"max{level}.txt"
            with bl.Window(proc.pid) as w:
                r = bl.parse_wrk(bl.run_tool(cmd, s["load_cpu"], s["duration"] + 30, raw, env))
        finally:
            status = proc.stop()
        st = r["statuses"]
        secs = s["duration"]
        rows.append((level, r.get("rps"), st.get(200, 0) / secs, st.get(429, 0),
                     sum(n for c, n in st.items() if c not in (200, 429)), r["socket_errors"], r.get("p99_ms"),
                     100 * w.cpu / w.wall, w.busy_pct.get(s["load_cpu"]), status))
    upstream.stop()
    lines = [f"# admission: {len(targets)} targets x {delay} ms per request, wrk -t1 -c{s['conns']} "
             f"{s['duration']} s, max_queue_wait_ms {queue_wait}, max_queue_length {queue_len or '2 x slots'}"
             + (" — QUICK smoke run, not a result" if s["quick"] else ""), "",
             "| max_concurrent_requests_per_instance | responses/s | 200/s | 429s | other non-2xx "
             "| socket errors | p99 ms | scoregate CPU % | load CPU % | exit |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for level, rps, ok, n429, other, sock, p99, sg_cpu, load_cpu, status in rows:
        lines.append(f"| {level} | {rps or 0:.0f} | {ok:.0f} | {n429} | {other} | {sock} | "
                     f"{p99 if p99 is not None else '—'} | {sg_cpu:.0f} | {load_cpu or 0:.0f} | {status} |")
    ideal = ", ".join(f"{lv}: {len(targets) * lv * 1000 / delay:.0f}" for lv in levels)
    lines += ["", f"Upper bound from the model alone (targets x slots / {delay} ms), req/s: {ideal}",
              "wrk retries every 429 at once (the connection is kept): with few slots the router's CPU "
              "goes to rejections, so read 200/s together with the CPU columns."]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    log("\n" + text)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "run"
    if cmd == "run":
        run()
    elif cmd == "admission":
        admission()
    else:
        sys.exit("usage: bench.py run|admission   (settings come from the environment; see bench/README.md)")
