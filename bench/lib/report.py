"""The markdown summary of a bench run: medians over rounds, their spread (min–max of the
rounds), ratios against nginx; one table per worker count, with the scaling rows."""
import statistics

# (scenario, key, label, format, better: "higher" | "lower" | None)
METRICS = [
    ("a", "rps", "a. keep-alive 1 KB POST: req/s", "{:.0f}", "higher"),
    ("a", "p50_ms", "a. p50 latency, ms", "{:.2f}", "lower"),
    ("a", "p99_ms", "a. p99 latency, ms", "{:.2f}", "lower"),
    ("a", "cpu_us_per_req", "a. proxy CPU per request, µs", "{:.1f}", "lower"),
    ("a", "proxy_cpu_pct", "a. proxy CPU busy, % of one core", "{:.0f}", None),
    ("a", "load_cpu_pct", "a. load CPU busy (wrk + upstream), %", "{:.0f}", None),
    ("a", "capacity", "a. capacity: req per CPU-second of the busiest worker", "{:.0f}", "higher"),
    ("a", "busiest_pct", "a. busiest worker's share of proxy CPU, %", "{:.0f}", None),
    ("a", "scale_capacity", "a. **scaling**: capacity ÷ one worker's (same round)", "{:.2f}", "higher"),
    ("a", "scale_rate", "a. scaling: measured req/s ÷ one worker's (load-bound)", "{:.2f}", None),
    ("b", "hs_per_s", "b. full TLS handshakes (+1 POST) per s", "{:.0f}", "higher"),
    ("b", "cpu_us_per_hs", "b. proxy CPU per handshake + POST, µs", "{:.0f}", "lower"),
    ("b", "session_reused", "b. resumed sessions (must be 0)", "{:.0f}", None),
    ("b", "proxy_cpu_pct", "b. proxy CPU busy, % of one core", "{:.0f}", None),
    ("b", "load_cpu_pct", "b. load CPU busy (sgload + upstream), %", "{:.0f}", None),
    ("b", "capacity", "b. capacity: handshakes per CPU-second of the busiest worker", "{:.0f}", "higher"),
    ("b", "busiest_pct", "b. busiest worker's share of proxy CPU, %", "{:.0f}", None),
    ("b", "scale_capacity", "b. **scaling**: capacity ÷ one worker's (same round)", "{:.2f}", "higher"),
    ("b", "scale_rate", "b. scaling: measured handshakes/s ÷ one worker's (load-bound)", "{:.2f}", None),
    ("c", "mib_s", "c. 8 MiB POST upload: MiB/s", "{:.0f}", "higher"),
    ("c", "cpu_ms_per_gib", "c. proxy CPU per GiB uploaded, ms", "{:.0f}", "lower"),
    ("d", "kib_per_conn", "d. RSS per idle TLS connection, KiB", "{:.1f}", "lower"),
    ("d", "established", "d. idle connections held", "{:.0f}", None),
    ("e", "lat_p50_us", "e. fixed-rate latency p50, µs", "{:.0f}", "lower"),
    ("e", "lat_p99_us", "e. fixed-rate latency p99, µs", "{:.0f}", "lower"),
    ("e", "lat_p999_us", "e. fixed-rate latency p99.9, µs", "{:.0f}", "lower"),
    ("e", "added_p50_us", "e. **added** p50 vs direct, µs", "{:.0f}", "lower"),
    ("e", "added_p99_us", "e. **added** p99 vs direct, µs", "{:.0f}", "lower"),
    ("e", "achieved_rps", "e. achieved rate, req/s", "{:.0f}", None),
    ("f", "rps", "f. HTTP/2 keep-alive 1 KB POST: req/s", "{:.0f}", "higher"),
    ("f", "cpu_us_per_req", "f. proxy CPU per HTTP/2 request, µs", "{:.1f}", "lower"),
    ("f", "proxy_cpu_pct", "f. proxy CPU busy, % of one core", "{:.0f}", None),
    ("f", "load_cpu_pct", "f. load CPU busy (h2load + upstream), %", "{:.0f}", None),
    ("f", "upstream_connects", "f. model connections opened by scoregate (warm-up + run)", "{:.0f}", None),
    ("g", "rps", "g. gRPC unary calls/s, Python grpcio model", "{:.0f}", "higher"),
    ("g", "cpu_us_per_call", "g. proxy CPU per gRPC call, µs", "{:.1f}", "lower"),
    ("g", "proxy_cpu_pct", "g. proxy CPU busy, % of one core", "{:.0f}", None),
    ("g", "model_cpu_us_per_call", "g. model CPU per call, µs", "{:.0f}", None),
    ("g", "load_cpu_pct", "g. load CPU busy (h2load + model), %", "{:.0f}", None),
    ("g", "upstream_connects", "g. model connections opened by scoregate (warm-up + run)", "{:.0f}", None),
    ("h", "rps", "h. gRPC unary calls/s, fast h2c model (nginx)", "{:.0f}", "higher"),
    ("h", "cpu_us_per_call", "h. proxy CPU per gRPC call, µs", "{:.1f}", "lower"),
    ("h", "proxy_cpu_pct", "h. proxy CPU busy, % of one core", "{:.0f}", None),
    ("h", "model_cpu_us_per_call", "h. model CPU per call, µs", "{:.1f}", None),
    ("h", "load_cpu_pct", "h. load CPU busy (h2load + model), %", "{:.0f}", None),
    ("h", "upstream_connects", "h. model connections opened by scoregate (warm-up + run)", "{:.0f}", None),
    ("i", "storm_s", "i. storm: time to serve all {storm} connections, s", "{:.2f}", "lower"),
    ("i", "storm_per_s", "i. storm: connections served per s", "{:.0f}", "higher"),
    ("i", "unserved", "i. storm: connections not served (must be 0)", "{:.0f}", None),
    ("i", "held_at_end", "i. storm: connections still open at the end", "{:.0f}", None),
    ("i", "peak_rss_mib", "i. storm: peak proxy RSS (tree, sampled every 20 ms), MiB", "{:.1f}", "lower"),
    ("i", "rss_fresh_mib", "i. storm: proxy RSS before the storm, MiB", "{:.1f}", None),
    ("i", "peak_kib_per_conn", "i. storm: peak RSS growth per connection, KiB", "{:.1f}", "lower"),
    ("i", "hwm_sum_mib", "i. storm: VmHWM summed over the proxy's processes, MiB", "{:.1f}", None),
    ("i", "cpu_us_per_conn", "i. storm: proxy CPU per connection (handshake, POST, close), µs", "{:.0f}", "lower"),
    ("i", "conn_p50_ms", "i. storm: connect → response p50, ms", "{:.0f}", "lower"),
    ("i", "conn_p99_ms", "i. storm: connect → response p99, ms", "{:.0f}", "lower"),
    ("i", "proxy_cpu_pct", "i. storm: proxy CPU busy, % of one core", "{:.0f}", None),
    ("i", "load_cpu_pct", "i. storm: load CPU busy (sgload + upstream), %", "{:.0f}", None),
    ("i", "capacity", "i. storm: capacity: connections per CPU-second of the busiest worker", "{:.0f}", "higher"),
    ("i", "busiest_pct", "i. storm: busiest worker's share of proxy CPU, %", "{:.0f}", None),
    ("i", "scale_capacity", "i. **scaling**: storm capacity ÷ one worker's (same round)", "{:.2f}", "higher"),
    ("i", "scale_rate", "i. scaling: measured storm connections/s ÷ one worker's (load-bound)", "{:.2f}", None),
]
SCALE_KEYS = ("scale_capacity", "scale_rate")   # only in the tables of more than one worker
RATE_KEY = {"a": "rps", "b": "hs_per_s", "i": "storm_per_s"}


def spread(results, row, workers, sc, key, fmt):
    """min–max over rounds (empty with fewer than two rounds)."""
    vals = [r[key] for r in results if r["row"] == row and r.get("workers", 1) == workers
            and r["scenario"] == sc and r.get(key) is not None]
    if len(vals) < 2:
        return ""
    return f" ({fmt.format(min(vals))}–{fmt.format(max(vals))})"


def add_scaling(results):
    """Per round and proxy: the N-worker capacity and measured rate over the one-worker ones."""
    one = {(r["round"], r["row"], r["scenario"]): r for r in results if r.get("workers", 1) == 1}
    for r in results:
        base = one.get((r["round"], r["row"], r["scenario"]))
        if r.get("workers", 1) == 1 or not base or r["scenario"] not in RATE_KEY:
            continue
        for key, src in (("scale_capacity", "capacity"), ("scale_rate", RATE_KEY[r["scenario"]])):
            a, b = r.get(src), base.get(src)
            r[key] = a / b if a is not None and b else None


def add_direct_deltas(results):
    """Router-added latency: each proxy's scenario-e percentiles minus the direct row's, same round."""
    direct = {r["round"]: r for r in results if r["row"] == "direct" and r["scenario"] == "e"}
    for r in results:
        d = direct.get(r["round"])
        if r["scenario"] != "e" or r["row"] == "direct" or not d:
            continue
        for p in ("p50", "p99"):
            a, b = r.get(f"lat_{p}_us"), d.get(f"lat_{p}_us")
            r[f"added_{p}_us"] = a - b if a is not None and b is not None else None


def medians(results):
    """{(row, workers, scenario, key): median over rounds} for every numeric value."""
    acc = {}
    for r in results:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("round", "workers"):
                acc.setdefault((r["row"], r.get("workers", 1), r["scenario"], k), []).append(v)
    return {k: statistics.median(v) for k, v in acc.items()}


def loads(s):
    """What each scenario sends, for the line above the table."""
    grpc = f"h2load -c{s['grpc_conns']} -m{s['grpc_streams']} gRPC ModelInfer (direct = h2c to the model)"
    return {"a": f"a: wrk -t1 -c{s['conns']} 1 KB JSON POST", "b": f"b: sgload handshake -c{s['hs_conns']}",
            "c": f"c: wrk -t1 -c{s['upload_conns']} 8 MiB POST", "d": f"d: sgload idle -c{s['idle_conns']}",
            "e": f"e: sgload rate -r{s['rate']} -c{s['rate_conns']} (direct = plain HTTP to the upstream, no proxy)",
            "f": f"f: h2load -c{s['h2_conns']} -m{s['h2_streams']} 1 KB POST over h2 (min–max of rounds in parentheses)",
            "g": f"g: {grpc}, Python grpcio model", "h": f"h: {grpc}, nginx h2c stub model",
            "i": f"i: sgload storm -n{s['storm_conns']} -c{s['storm_inflight']} (full handshake + one "
                 "keep-alive 1 KB POST each, all held until the last is served)"}


def table(results, med, rows, workers, scenarios, settings):
    """One markdown table: median (min–max of rounds) per row, ratios against nginx."""
    proxies = [r for r in rows if r != "direct"]
    ref = "nginx" if "nginx" in proxies else (proxies[0] if proxies else None)
    others = [p for p in proxies if p != ref]
    head = ["metric (median of rounds, min–max)"] + rows + [f"{p} ÷ {ref}" for p in others]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sc, key, label, fmt, better in METRICS:
        if sc not in scenarios or (key in SCALE_KEYS and workers == 1):
            continue
        if not any(med.get((row, workers, sc, key)) is not None for row in rows):
            continue
        label = label.replace("fixed-rate", f"fixed {settings['rate']} req/s").replace(
            "{storm}", f"{settings['storm_conns']:,}")
        cells = [label + (" ↑" if better == "higher" else " ↓" if better == "lower" else "")]
        for row in rows:
            v = med.get((row, workers, sc, key))
            rng = spread(results, row, workers, sc, key, fmt) if better or key in SCALE_KEYS else ""
            cells.append(fmt.format(v) + rng if v is not None else "—")
        for p in others:
            a, b = med.get((p, workers, sc, key)), med.get((ref, workers, sc, key))
            cells.append(f"{a / b:.2f}" if better and a is not None and b not in (None, 0) else "")
        lines.append("| " + " | ".join(cells) + " |")
    errs = []
    for row in rows:
        per = []
        for sc in "abcdefghi":
            vals = [r.get("errors") for r in results
                    if r["row"] == row and r["scenario"] == sc and r.get("workers", 1) == workers]
            if vals:
                per.append(f"{sc}:{sum(v for v in vals if v is not None)}"
                           + ("?" if any(v is None for v in vals) else ""))
        errs.append(" ".join(per) or "—")
    lines.append("| errors + non-2xx (sum of rounds) | " + " | ".join(errs) + " |" + " |" * len(others))
    return lines


def summary(results, rows, scenarios, settings, notes, meta):
    add_direct_deltas(results)
    add_scaling(results)
    med = medians(results)
    s = settings
    multi = [sc for sc in s.get("multi_scenarios", []) if sc in scenarios]
    worker_counts = sorted({r.get("workers", 1) for r in results}) or [1]
    out = [f"# scoregate bench {meta['started']}", "",
           f"{s['rounds']} round(s) x {s['duration']} s, cert {s['cert']}"
           f"{' — QUICK smoke run, not a result' if s['quick'] else ''}", "",
           " · ".join(v for k, v in loads(s).items() if k in scenarios), ""]
    for workers in worker_counts:
        if workers == 1:
            out += [f"## One worker: proxy on CPU {s['proxy_cpu']}, load + upstream on CPU {s['load_cpu']}", ""]
            out += table(results, med, rows, 1, scenarios, s)
        else:
            out += ["", f"## {workers} workers (nginx worker_processes {workers} + reuseport, HAProxy nbthread "
                    f"{workers}, scoregate --workers {workers}): proxy on CPUs {s['multi_proxy_cpus']}, "
                    f"load on CPUs {s['multi_load_cpus']}, upstream on CPU {s['load_cpu']}", ""]
            out += table(results, med, [r for r in rows if r != "direct"], workers, multi, s)
            out += ["", "Scaling = this table's value ÷ the one-worker value of the same proxy in the same round. "
                    "Capacity = work per CPU-second of the proxy's busiest thread: the rate at which that "
                    "worker would fill its own core; 2 workers scale fully at 2.00. Measured rates on 2 cores "
                    "are bound by the load side, which shares the cores; \"load CPU busy\" is here the mean of "
                    "the load's CPUs, which the proxy uses too (see bench/README.md)."]
    out.append("")
    tls = {}
    for r in results:
        key = r["row"] + (" (h2load, ALPN " + str(r.get("alpn")) + ")" if r["scenario"] in "fgh" else "")
        if r.get("tls") and key not in tls and "None" not in r["tls"]:
            tls[key] = r["tls"]
    if tls:
        out.append("Negotiated: " + "; ".join(f"{k} {v}" for k, v in tls.items()))
        out.append("")
    v = meta["versions"]
    out.append(f"Versions: {v['nginx']}; {v['haproxy']}; {v.get('h2load', '?')}; {v['openssl']}; scoregate {v['scoregate_git']}; "
               f"kernel {v['kernel']}, {v['cpus']} CPUs")
    if notes:
        out += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"
