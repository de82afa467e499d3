"""Descriptor exhaustion under load (README "Overload and attacks"): scoregate with
`ulimit -n 512` and max_connections above it (so the process really runs out of descriptors),
slowhttptest opening 1,500 slowloris connections while a legitimate client keeps using the
kept-alive connections it opened before: those are served throughout, the router spends little
CPU while it refuses, its RSS stays under the documented bound, and once the flood stops new
connections are served again. (tests/integration/test_connection_limits.py checks the same
with a small Python flood; this is the heavy one.)"""
import os
import re
import time

from integration_conftest import settings_for, wait_until
from loadlib import (LegitClient, RssSampler, cpu_seconds, raise_nofile, serves_new_connection,
                     slowhttptest, wait_connections)
from test_slow_clients import BASE_KIB, P99_BOUND_MS, PER_CONN_KIB, SANITIZED

NOFILE = 512
FLOOD = 1500
# While refusing, each connection in the backlog is taken with the spare descriptor and closed
# (README "Workers and limits"); the rest is the legitimate client's ~300 requests a second and
# slowhttptest's few bytes every 4 s on the connections it holds. A busy accept loop would
# take a whole core.
CPU_BOUND = 0.2


def metric(router, pattern):
    _, text = router.admin("/metrics")
    m = re.search(pattern, text, re.M)
    return int(m.group(1)) if m else 0


def test_descriptor_flood(pki, model, start_router):
    raise_nofile()
    s = settings_for(pki, [model.address], insecure=True,
                     router={"max_connections": 100000, "header_timeout_ms": 60000,
                             "keepalive_timeout_ms": 60000, "access_log": False})
    router = start_router(s, workers=1, prefix=("prlimit", f"--nofile={NOFILE}:{NOFILE}"))
    # plain HTTP, kept alive, ~100 requests a second each: the CPU measured is the refusing
    legit = LegitClient(router.port, None, keepalive=3, fresh=0, pause=0.01)
    url = f"http://127.0.0.1:{router.port}/api/v1/endpoint/fraud/score"
    attack = slowhttptest("-H", url, FLOOD, rate=500, seconds=20, interval=4)
    try:
        # the descriptors run out within the first seconds of the flood (the admin listener
        # has none left either: its requests wait in its backlog, so the log tells)
        router.wait_stderr("accept failed", timeout=10)
        held = wait_connections(router.port, NOFILE - 100, timeout=5)
        time.sleep(1.5)  # the flood goes on: slowhttptest keeps connecting to 1,500
        rss = None if SANITIZED else RssSampler(router.proc.pid)
        cpu0, t0 = cpu_seconds(router.proc.pid), time.monotonic()
        time.sleep(5)
        cpu = (cpu_seconds(router.proc.pid) - cpu0) / (time.monotonic() - t0)
        refused_new = not serves_new_connection(router.port)
        if rss:
            rss.stop()
        opened = wait_connections(router.port, FLOOD, timeout=0.5)  # client side, as ss sees it
    finally:
        attack.kill()
        out = attack.communicate()[0]
        legit.stop()
    summary = legit.summary()
    summary.update(held=held, connections_open=opened, cpu_core_fraction=round(cpu, 3),
                   accept_failed_log_lines=router.stderr().count("accept failed"))
    if rss:
        summary.update(peak_rss_kib=rss.peak())
    print(f"\nfd flood {summary}")
    assert held >= NOFILE - 100, (held, out[-1500:])
    assert refused_new, "a new connection was served while descriptors were exhausted"
    assert summary["requests"] >= 100 and summary["success"] == 1.0, (summary, legit.errors[:5])
    assert summary["p99_ms"] < P99_BOUND_MS, summary
    assert cpu < CPU_BOUND, f"{cpu:.0%} of a core while refusing"
    if rss:
        bound = BASE_KIB + opened * PER_CONN_KIB
        assert summary["peak_rss_kib"] < bound, (summary, bound)
    # the flood's connections are gone: new connections are served again
    assert wait_until(lambda: serves_new_connection(router.port), timeout=10)
    assert metric(router, r"^scoregate_accept_errors_total (\d+)") > 0
    again = LegitClient(router.port, None, keepalive=1, fresh=1, warm=False)
    time.sleep(1)
    assert again.stop().summary()["success"] == 1.0, again.errors[:5]
