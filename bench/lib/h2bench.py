"""HTTP/2 and gRPC scenarios of bench/run.sh (f, g, h), driven by h2load (nghttp2-client).

f: keep-alive HTTP/2 POSTs over TLS (ALPN h2) of the 1 KiB JSON body, to the same HTTP/1.1
   upstream as scenario a.
g: gRPC unary ModelInfer calls to a Python grpcio model (tests/integration/grpc_model.py, h2c).
h: the same calls to a fast h2c "model" (nginx answering a fixed framed response + trailers),
   so the router's own cost is not hidden behind the Python model's.
The `direct` row sends g and h over h2c straight to the model, with no proxy.
See bench/README.md."""
import re
import subprocess
import sys

import benchlib as bl

GRPC_PATH = "/inference.GRPCInferenceService/ModelInfer"
REST_PATH = "/api/v1/service/demo/score"
GRPC_ENDPOINT = {"g": "grpc-py", "h": "grpc-fast"}
GRPC_PROXIES = ("scoregate", "nginx", "haproxy")   # h2o 2.2 cannot proxy to an HTTP/2 model


def _integration():
    """tests/integration (oip_v2.py, grpc_model.py): the same messages the gRPC tests use."""
    path = str(bl.ROOT / "tests" / "integration")
    if path not in sys.path:
        sys.path.insert(0, path)
    import oip_v2
    return oip_v2


def make_grpc_files(out):
    """The framed ModelInferRequest h2load sends (-d) and the framed answer of the h2c stub."""
    oip = _integration()
    req = oip.infer_request("demo", [[0.1 * i for i in range(16)]], id="bench")
    resp = oip.ModelInferResponse(model_name="demo", model_version="1", id="bench")
    t = resp.outputs.add(name="sum", datatype="FP32", shape=[1, 1])
    t.contents.fp32_contents.append(12.0)
    (out / "grpc-request.bin").write_bytes(oip.grpc_frame(req))
    (out / "grpc-answer.bin").write_bytes(oip.grpc_frame(resp))
    return out / "grpc-request.bin", out / "grpc-answer.bin"


def check_grpc(port, endpoint, ca=None):
    """One real grpcio ModelInfer call (TLS verified against our CA unless ca is None);
    None if it answered OK with the request's id, else what went wrong."""
    import grpc
    oip = _integration()
    target = f"127.0.0.1:{port}"
    if ca:
        creds = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
        channel = grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", "localhost")])
    else:
        channel = grpc.insecure_channel(target)
    try:
        req = oip.infer_request("demo", [[1.0, 2.0]], id="check")
        resp = oip.stub(channel, "ModelInfer")(req, metadata=[("azureml-endpoint", endpoint)], timeout=10)
    except grpc.RpcError as e:
        return f"gRPC ModelInfer via {target} ({endpoint}): {e.code()} {e.details()}"
    finally:
        channel.close()
    if resp.model_name != "demo":
        return f"gRPC ModelInfer via {target} ({endpoint}): unexpected answer {resp}"
    return None


def start_models(s, out, answer_file):
    """The Python gRPC model (g) and the nginx h2c stub (h), pinned to the load CPU."""
    rundir = out / "run" / "grpc-models"
    rundir.mkdir(parents=True, exist_ok=True)
    py = bl.Proc("grpc-model", ["/usr/bin/python3", bl.ROOT / "tests" / "integration" / "grpc_model.py",
                                "--port", s["ports"]["grpc-py"], "--name", "bench-model"],
                 rundir / "grpc-model.log", cpu=s["load_cpu"])
    conf = bl.render("h2c-stub.nginx.conf", rundir / "h2c-stub.nginx.conf", {
        "echo_module": bl.ECHO_MODULE, "rundir": rundir, "answer_file": answer_file,
        "listen": f"127.0.0.1:{s['ports']['grpc-fast']}"})
    stub = bl.Proc("h2c-stub", ["nginx", "-p", rundir, "-c", conf, "-e", rundir / "error.log",
                                "-g", "daemon off;"], rundir / "h2c-stub.log", cpu=s["load_cpu"])
    for proc, port, ep in ((py, s["ports"]["grpc-py"], "grpc-py"), (stub, s["ports"]["grpc-fast"], "grpc-fast")):
        err = bl.wait_listening(proc, port) or check_grpc(port, ep)
        if err:
            sys.exit(f"bench: the gRPC model {proc.name} did not come up: {err}")
    return {"g": py, "h": stub}


def h2load_cmd(s, url, conns, streams, seconds, body, headers):
    cmd = ["h2load", "-t1", f"-c{conns}", f"-m{streams}", "-D", str(seconds), "-d", body]
    for h in headers:
        cmd += ["-H", h]
    return cmd + [url]


def parse_h2load(text):
    """requests done / succeeded / failed, req/s, 2xx and other statuses, negotiated TLS."""
    out = {}
    m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", text)
    if m:
        out["seconds"], out["rps"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    if m:
        out["done"], out["succeeded"], out["failed"] = int(m.group(3)), int(m.group(4)), int(m.group(5))
        out["errored"], out["timeout"] = int(m.group(6)), int(m.group(7))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        out["s2xx"], out["non2xx"] = int(m.group(1)), sum(int(m.group(i)) for i in (2, 3, 4))
    m = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", text)
    if m:
        out["mean_latency"] = m.group(1)
    tls = [re.search(rf"{k}: (.+)", text) for k in ("TLS Protocol", "Cipher", "Server Temp Key")]
    if all(tls):
        out["tls"] = " ".join(x.group(1).split(" ")[0] for x in tls)
    m = re.search(r"Application protocol: (\S+)", text)
    out["alpn"] = m.group(1) if m else None
    return out


def scoregate_counters(s):
    """Counters of scoregate's /metrics (admin listener) that h2load cannot see: the router's own
    answers (a gRPC refusal is HTTP 200 + grpc-status, which h2load counts as a success), the
    gRPC calls received and the model connections opened."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", s["ports"]["scoregate-admin"], timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException):
        return {}
    finally:
        conn.close()
    out = {}
    for key, pattern in (("router_errors", r"^scoregate_router_errors_total\{[^}]*\} (\d+)"),
                         ("grpc_calls", r'^scoregate_protocol_requests_total\{protocol="grpc"\} (\d+)'),
                         ("upstream_connects", r"^scoregate_upstream_connects_total (\d+)")):
        out[key] = sum(int(v) for v in re.findall(pattern, text, re.M))
    return out


def _measure(s, cmd, proc, raw, extra_pids=()):
    """A warm-up run, then the measured run with the proxy's (and models') CPU sampled."""
    warm = cmd[:cmd.index("-D") + 1] + [str(s["warmup"])] + cmd[cmd.index("-D") + 2:]
    bl.run_tool(warm, s["load_cpu"], s["warmup"] + 30, raw.with_suffix(".warmup.txt"))
    others = [bl.Window(p) for p in extra_pids]
    for w in others:
        w.__enter__()
    with bl.Window(proc.pid if proc else None) as w:
        r = parse_h2load(bl.run_tool(cmd, s["load_cpu"], s["duration"] + 30, raw))
    for o in others:
        o.__exit__(None, None, None)
    return r, w, others


def _result(r, w, s, unit_key, proc):
    """Keeps only successful 2xx calls as work done; h2load's failures and non-2xx as errors."""
    n = r.get("s2xx", 0)
    m = {"rps": n / r["seconds"] if r.get("seconds") else None,
         unit_key: w.cpu * 1e6 / n if n and proc else None,
         "proxy_cpu_pct": 100 * w.cpu / w.wall if proc else None,
         "load_cpu_pct": w.busy_pct.get(s["load_cpu"]),
         # no summary at all (h2load crashed or was killed): unknown, shown as "?" in the table
         "errors": r["failed"] + r["non2xx"] if "s2xx" in r and "failed" in r else None,
         "alpn": r.get("alpn")}
    if r.get("tls"):
        m["tls"] = r["tls"]
    return m


def add_counters(s, m, before):
    """scoregate only: its own refusals count as errors; model connections opened are kept."""
    if before is None:
        return
    after = scoregate_counters(s)
    if not before or not after:
        m["note"] = "could not read scoregate's /metrics"
        return
    d = {k: after[k] - before.get(k, 0) for k in after}
    m["router_errors"], m["upstream_connects"] = d["router_errors"], d["upstream_connects"]
    if m["errors"] is not None:
        m["errors"] += d["router_errors"]


def scenario_f(s, ctx, proc, port, raw):
    cmd = h2load_cmd(s, f"https://127.0.0.1:{port}{REST_PATH}", s["h2_conns"], s["h2_streams"],
                     s["duration"], ctx["body_1k"], ["content-type: application/json"])
    before = scoregate_counters(s) if ctx.get("row") == "scoregate" else None
    r, w, _ = _measure(s, cmd, proc, raw)
    m = _result(r, w, s, "cpu_us_per_req", proc)
    add_counters(s, m, before)
    if m["alpn"] != "h2":
        m["errors"] = (m["errors"] or 0) + 1   # an HTTP/1.1 run is not scenario f
        m["note"] = f"negotiated {m['alpn']}, not h2"
    return m


def scenario_grpc(which):
    def run(s, ctx, proc, port, raw, name=None):
        if name is not None and name not in GRPC_PROXIES:
            return None
        model = ctx["grpc_models"][which]
        scheme = "https" if proc else "http"
        cmd = h2load_cmd(s, f"{scheme}://127.0.0.1:{port}{GRPC_PATH}", s["grpc_conns"], s["grpc_streams"],
                         s["duration"], ctx["grpc_request"],
                         ["content-type: application/grpc", "te: trailers",
                          f"azureml-endpoint: {GRPC_ENDPOINT[which]}"])
        before = scoregate_counters(s) if ctx.get("row") == "scoregate" else None
        r, w, (mw,) = _measure(s, cmd, proc, raw, extra_pids=[model.pid])
        m = _result(r, w, s, "cpu_us_per_call", proc)
        add_counters(s, m, before)
        n = r.get("s2xx", 0)
        m["model_cpu_us_per_call"] = mw.cpu * 1e6 / n if n else None
        m["model_cpu_pct"] = 100 * mw.cpu / mw.wall
        return m
    return run


def check_proxy_grpc(name, port, ca):
    """Before a proxy's gRPC scenarios: one real call to each model through it."""
    if name not in GRPC_PROXIES:
        return None
    for ep in GRPC_ENDPOINT.values():
        err = check_grpc(port, ep, ca=ca)
        if err:
            return err
    return None


def tool_version():
    try:
        r = subprocess.run(["h2load", "--version"], capture_output=True, text=True, timeout=10)
        return r.stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"
