"""The markdown summary of a bench run: medians over rounds, ratios against nginx."""
import statistics

# (scenario, key, label, format, better: "higher" | "lower" | None)
METRICS = [
    ("a", "rps", "a. keep-alive 1 KB POST: req/s", "{:.0f}", "higher"),
    ("a", "p50_ms", "a. p50 latency, ms", "{:.2f}", "lower"),
    ("a", "p99_ms", "a. p99 latency, ms", "{:.2f}", "lower"),
    ("a", "cpu_us_per_req", "a. proxy CPU per request, µs", "{:.1f}", "lower"),
    ("a", "proxy_cpu_pct", "a. proxy CPU busy, % of one core", "{:.0f}", None),
    ("a", "load_cpu_pct", "a. load CPU busy (wrk + upstream), %", "{:.0f}", None),
    ("b", "hs_per_s", "b. full TLS handshakes (+1 POST) per s", "{:.0f}", "higher"),
    ("b", "cpu_us_per_hs", "b. proxy CPU per handshake + POST, µs", "{:.0f}", "lower"),
    ("b", "session_reused", "b. resumed sessions (must be 0)", "{:.0f}", None),
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
]


def spread(results, row, sc, key, fmt):
    """min–max over rounds, for the rows where rounds disagree most (f, g, h)."""
    vals = [r[key] for r in results if r["row"] == row and r["scenario"] == sc and r.get(key) is not None]
    if len(vals) < 2:
        return ""
    return f" ({fmt.format(min(vals))}–{fmt.format(max(vals))})"



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
    """{(row, scenario, key): median over rounds} for every numeric value."""
    acc = {}
    for r in results:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "round":
                acc.setdefault((r["row"], r["scenario"], k), []).append(v)
    return {k: statistics.median(v) for k, v in acc.items()}


def loads(s):
    """What each scenario sends, for the line above the table."""
    grpc = f"h2load -c{s['grpc_conns']} -m{s['grpc_streams']} gRPC ModelInfer (direct = h2c to the model)"
    return {"a": f"a: wrk -t1 -c{s['conns']} 1 KB JSON POST", "b": f"b: sgload handshake -c{s['hs_conns']}",
            "c": f"c: wrk -t1 -c{s['upload_conns']} 8 MiB POST", "d": f"d: sgload idle -c{s['idle_conns']}",
            "e": f"e: sgload rate -r{s['rate']} -c{s['rate_conns']} (direct = plain HTTP to the upstream, no proxy)",
            "f": f"f: h2load -c{s['h2_conns']} -m{s['h2_streams']} 1 KB POST over h2 (min–max of rounds in parentheses)",
            "g": f"g: {grpc}, Python grpcio model", "h": f"h: {grpc}, nginx h2c stub model"}


def summary(results, rows, scenarios, settings, notes, meta):
    add_direct_deltas(results)
    med = medians(results)
    proxies = [r for r in rows if r != "direct"]
    ref = "nginx" if "nginx" in proxies else (proxies[0] if proxies else None)
    others = [p for p in proxies if p != ref]
    head = ["metric (median of rounds)"] + rows + [f"{p} ÷ {ref}" for p in others]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sc, key, label, fmt, better in METRICS:
        if sc not in scenarios:
            continue
        if sc == "e":
            label = label.replace("fixed-rate", f"fixed {settings['rate']} req/s")
        cells = [label + (" ↑" if better == "higher" else " ↓" if better == "lower" else "")]
        for row in rows:
            v = med.get((row, sc, key))
            rng = spread(results, row, sc, key, fmt) if sc in "fgh" and better else ""
            cells.append(fmt.format(v) + rng if v is not None else "—")
        for p in others:
            a, b = med.get((p, sc, key)), med.get((ref, sc, key))
            cells.append(f"{a / b:.2f}" if better and a is not None and b not in (None, 0) else "")
        lines.append("| " + " | ".join(cells) + " |")
    errs = []
    for row in rows:
        per = []
        for sc in "abcdefgh":
            vals = [r.get("errors") for r in results if r["row"] == row and r["scenario"] == sc]
            if vals:
                per.append(f"{sc}:{sum(v for v in vals if v is not None)}"
                           + ("?" if any(v is None for v in vals) else ""))
        errs.append(" ".join(per) or "—")
    lines.append("| errors + non-2xx (sum of rounds) | " + " | ".join(errs) + " |" + " |" * len(others))

    tls = {}
    for r in results:
        key = r["row"] + (" (h2load, ALPN " + str(r.get("alpn")) + ")" if r["scenario"] in "fgh" else "")
        if r.get("tls") and key not in tls and "None" not in r["tls"]:
            tls[key] = r["tls"]
    s = settings
    out = [f"# scoregate bench {meta['started']}", "",
           f"{s['rounds']} round(s) x {s['duration']} s, cert {s['cert']}, proxy on CPU {s['proxy_cpu']}, "
           f"load + upstream on CPU {s['load_cpu']}{' — QUICK smoke run, not a result' if s['quick'] else ''}", "",
           " · ".join(v for k, v in loads(s).items() if k in scenarios),
           "", *lines, ""]
    if tls:
        out.append("Negotiated: " + "; ".join(f"{k} {v}" for k, v in tls.items()))
        out.append("")
    v = meta["versions"]
    out.append(f"Versions: {v['nginx']}; {v['haproxy']}; {v.get('h2load', '?')}; {v['openssl']}; scoregate {v['scoregate_git']}; "
               f"kernel {v['kernel']}, {v['cpus']} CPUs")
    if notes:
        out += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"
