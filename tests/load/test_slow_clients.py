"""Slowloris and slow-body attacks (slowhttptest, 1,000 connections) against the TLS listener
while a legitimate client keeps making requests (README "Overload and attacks"): the
legitimate client's success rate is 100 % and its p99 stays under P99_BOUND_MS; the router's
RSS stays under the documented memory bound."""
import json
import os
import time

from integration_conftest import KEY, settings_for, tls_context
from loadlib import LegitClient, RssSampler, raise_nofile, slowhttptest, wait_connections

ATTACK_CONNS = 1000
# The legitimate client's p99 bound. Measured p99 during the attacks: 5-9 ms (2-3 ms without
# attack). On 2 cores shared with builds, the attacker's 1,000 TLS handshakes (2 s of them at
# 500/s) compete with the client's own handshakes, and the Python client adds its own pauses
# (the slowest single request seen: 85 ms): 300 ms is generous there, yet a router that let the
# slow connections hold a worker, a slot or the accept loop blows it (its requests would wait
# for header_timeout_ms, or fail).
P99_BOUND_MS = 300
# README "Overload and attacks", memory bound: base + connections x per-connection cost
# (RelWithDebInfo build). 48 KiB covers a slowloris or slow-body TLS connection (measured
# 36-38 KiB, the legitimate client's share included) and an idle TLS one (~18 KiB).
BASE_KIB = 24 * 1024
PER_CONN_KIB = 48
SANITIZED = bool(os.environ.get("SCOREGATE_SANITIZED"))


def router_under_test(start_router, pki, model):
    # header_timeout_ms and min_body_rate_grace_ms raised above the attack's length, so the
    # slow connections are all held for the whole measurement (the defaults would close them
    # after 10 s: a harder test of everything else)
    s = settings_for(pki, [model.address],
                     router={"header_timeout_ms": 60000, "body_idle_timeout_ms": 60000,
                             "min_body_rate_grace_ms": 60000, "access_log": False},
                     request_settings={"max_concurrent_requests_per_instance": 64})
    return start_router(s, workers=2)


def run_attack(router, pki, mode, extra=()):
    raise_nofile()
    base = LegitClient(router.port, tls_context(pki), keepalive=2, fresh=1)
    time.sleep(2)
    base = base.stop().summary()
    base_rss = None if SANITIZED else RssSampler(router.proc.pid).stop().peak()
    url = f"https://localhost:{router.port}/api/v1/endpoint/fraud/score"
    attack = slowhttptest(mode, url, ATTACK_CONNS, rate=500, seconds=22, interval=4, extra=extra)
    try:
        held = wait_connections(router.port, ATTACK_CONNS * 0.95, timeout=12)
        assert held >= ATTACK_CONNS * 0.95, f"the attack got only {held} connections"
        rss = None if SANITIZED else RssSampler(router.proc.pid)
        legit = LegitClient(router.port, tls_context(pki), keepalive=2, fresh=1)
        time.sleep(8)
        legit.stop()
        still = wait_connections(router.port, ATTACK_CONNS * 0.9, timeout=1)
        if rss:
            rss.stop()
        _, text = router.admin("/status")
        opened = json.loads(text)["connections_open"]
    finally:
        attack.kill()
        out = attack.communicate()[0]
    summary = legit.summary()
    summary.update(attack_conns_held=still, connections_open=opened,
                   before_attack={k: round(base[k], 1) for k in ("rps", "p50_ms", "p99_ms")})
    if rss:
        summary.update(base_rss_kib=base_rss, peak_rss_kib=rss.peak(),
                       per_conn_kib=round((rss.peak() - base_rss) / max(opened, 1), 1))
    print(f"\n{mode} {summary}")
    assert still >= ATTACK_CONNS * 0.9, f"the attack lost its connections ({still}):\n{out[-2000:]}"
    return summary, legit


def check(summary, legit):
    assert summary["requests"] >= 40, summary  # the client really ran during the attack
    assert summary["success"] == 1.0, (summary, legit.errors[:5])
    assert summary["p99_ms"] < P99_BOUND_MS, summary
    if not SANITIZED:
        bound = BASE_KIB + summary["connections_open"] * PER_CONN_KIB
        assert summary["peak_rss_kib"] < bound, (summary, bound)


def test_slowloris(pki, model, start_router):
    router = router_under_test(start_router, pki, model)
    check(*run_attack(router, pki, "-H"))


def test_slow_body_without_a_key(pki, model, start_router):
    """An anonymous slow upload is answered 401 from its head (no model slot is taken); its
    connection stays while the router reads the rest of the small body to keep the connection
    (bounded by the body deadlines), and the legitimate client does not notice the 1,000."""
    router = router_under_test(start_router, pki, model)
    check(*run_attack(router, pki, "-B", ("-s", "8192", "-x", "16")))


# slowhttptest has no header option: its -j Cookie value carries the Authorization line
AUTHORIZED = ("-s", "8192", "-x", "16", "-j", f"a=b\r\nAuthorization: Bearer {KEY}")


def test_slow_body_with_a_key(pki, model, start_router):
    """Authorized slow uploads (8 KiB bodies, a few bytes every 4 s): a body this small is read
    whole before the request asks for a model slot, so the 1,000 hold connections but no slot,
    and the legitimate client is neither queued nor refused."""
    router = router_under_test(start_router, pki, model)
    check(*run_attack(router, pki, "-B", AUTHORIZED))
