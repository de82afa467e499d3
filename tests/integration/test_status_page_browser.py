"""The status page in a real browser (README "Status page"): headless Chromium loads it from a
running router with two endpoints under light load, a dead target and a refused reload; the
test waits for the page's refreshes and asserts on its DOM (target states, slots, rates, the
reload failure, the router errors, no secret), then saves a screenshot and the DOM under
build/artifacts/. Chromium is driven over the DevTools protocol (python3-websocket) so the page
polls in real time and its rates are real. About 10 s."""
import base64
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import KEY, ROOT, SECONDARY, closed_port, settings_for, tls_context, wait_until

ARTIFACTS = ROOT / "build" / "artifacts"
CHROMIUM = shutil.which("chromium")


class Browser:
    """Headless Chromium with one page, driven through the DevTools protocol."""

    def __init__(self, tmp: Path):
        import websocket  # python3-websocket (scripts/deps.sh test)
        profile = Path(tempfile.mkdtemp(dir=tmp, prefix="chromium-"))
        args = [CHROMIUM, "--headless=new", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--user-data-dir={profile}", "--remote-debugging-port=0",
                "--window-size=1360,1200", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.log = open(tmp / "chromium.log", "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        port_file = profile / "DevToolsActivePort"
        assert wait_until(port_file.exists, timeout=20), (tmp / "chromium.log").read_text()[-2000:]
        time.sleep(0.1)  # the file is written in one go, but give it a moment to be complete
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.loads(r.read()) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=20,
                                              suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.kill()
            self.proc.wait()
            self.log.close()


class Load:
    """Light traffic in the background: scores (200), the model's own 500s, a wrong key (401),
    an unknown endpoint (404), and slow requests that hold the 'churn' deployment's two slots
    while a third waits and is refused (429)."""

    def __init__(self, router, pki):
        self.router, self.ctx, self.stop = router, tls_context(pki), threading.Event()
        self.threads = [threading.Thread(target=self._fast, daemon=True)]
        self.threads += [threading.Thread(target=self._slow, daemon=True) for _ in range(3)]
        for t in self.threads:
            t.start()

    def request(self, path, key=KEY, method="POST"):
        conn = http.client.HTTPSConnection("localhost", self.router.port, timeout=10, context=self.ctx)
        try:
            conn.request(method, path, body=b'{"data": [[1, 2, 3]]}',
                         headers={"Authorization": f"Bearer {key}"} if key else {})
            return conn.getresponse().status
        except OSError:
            return 0
        finally:
            conn.close()

    def _fast(self):
        paths = ["/api/v1/endpoint/fraud/score"] * 7 + ["/api/v1/endpoint/churn/score",
                 "/api/v1/endpoint/fraud/status?code=500", "/api/v1/endpoint/nope/score"]
        i = 0
        while not self.stop.is_set():
            self.request(paths[i % len(paths)], key=KEY if i % 7 else "not-the-key")
            i += 1
            time.sleep(0.03)

    def _slow(self):
        while not self.stop.is_set():
            self.request("/api/v1/endpoint/churn/sleep?ms=1200", key=None)

    def end(self):
        self.stop.set()
        for t in self.threads:
            t.join(15)


def two_endpoints(pki, model, dead):
    s = settings_for(pki, [model.address])
    fraud = s["endpoints"][0]
    fraud["traffic"] = {"blue": 100, "green": 0}
    fraud["mirror_traffic"] = {"green": 20}
    fraud["deployments"] = [
        {"name": "blue", "targets": [model.address, dead],
         "request_settings": {"max_concurrent_requests_per_instance": 4}},
        {"name": "green", "targets": [model.address],
         "request_settings": {"max_concurrent_requests_per_instance": 2}}]
    s["endpoints"].append({
        "name": "churn", "auth_mode": "none",
        "deployments": [{"name": "main", "targets": [model.address],
                         "request_settings": {"max_concurrent_requests_per_instance": 2,
                                              "max_queue_wait_ms": 50}}]})
    return s


# What the test reads from the rendered page (the DOM, after the page's script ran).
DOM_FACTS = """(() => {
  const text = (sel) => [...document.querySelectorAll(sel)].map((e) => e.innerText);
  return {
    polls: Number(document.getElementById('updated').dataset.polls || 0),
    targets: [...document.querySelectorAll('tr.target')].map((r) => ({
      deployment: r.dataset.deployment, state: r.dataset.state,
      cells: [...r.cells].map((c) => c.innerText)})),
    deployments: [...document.querySelectorAll('tr.deployment')].map((r) => ({
      key: r.dataset.deployment, cells: [...r.cells].map((c) => c.innerText)})),
    reload: {result: document.getElementById('reload').dataset.result,
             red: document.getElementById('reload').classList.contains('bad'),
             text: document.getElementById('reload').innerText},
    certificate: document.getElementById('certificate').innerText,
    certificateRed: document.getElementById('certificate').classList.contains('bad'),
    errors: text('tr.router-error'),
    process: document.getElementById('process').innerText,
    html: document.documentElement.outerHTML,
  };
})()"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/deps.sh test)")
def test_status_page_in_headless_chromium(model, start_router, pki, tmp_path):
    dead = f"127.0.0.1:{closed_port()}"
    s = two_endpoints(pki, model, dead)
    r = start_router(s)
    load = Load(r, pki)
    browser = None
    try:
        # the dead target is ejected after its connect failures; a broken file is refused
        def blue_targets():
            return json.loads(r.admin("/status")[1])["endpoints"][0]["deployments"][0]["targets"]
        assert wait_until(lambda: any(t["ejected"] for t in blue_targets()), timeout=10), blue_targets()
        broken = json.loads(json.dumps(s))
        broken["endpoints"][1]["deployments"][0]["request_settings"]["max_concurrent_requests_per_instance"] = 0
        r.config.write_text(json.dumps(broken))
        code, body = r.admin("/-/reload", "POST")
        assert code == 422, body

        browser = Browser(tmp_path)
        browser.call("Page.enable")
        browser.call("Page.navigate", url=f"http://127.0.0.1:{r.admin_port}/")
        # two polls give rates; wait for a third so the page has refreshed with them
        assert wait_until(lambda: (browser.evaluate(
            "Number(document.getElementById('updated')?.dataset.polls || 0)") or 0) >= 3,
            timeout=15), browser.evaluate("document.body.innerText")
        facts = browser.evaluate(DOM_FACTS)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "status-page.html").write_text(facts["html"])
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        (ARTIFACTS / "status-page.png").write_bytes(base64.b64decode(shot["data"]))
    finally:
        load.end()
        if browser:
            browser.close()

    # every target, with its state and in-flight / slots
    states = {(t["deployment"], t["cells"][0]): t for t in facts["targets"]}
    assert len(states) == 4, facts["targets"]
    ejected = states[("fraud/blue", dead)]
    assert ejected["state"] == "ejected" and ejected["cells"][1] == "ejected", ejected
    assert states[("fraud/blue", model.address)]["state"] == "ready"
    assert states[("fraud/blue", model.address)]["cells"][2].endswith(" / 4"), states
    assert states[("fraud/green", model.address)]["cells"][2].endswith(" / 2"), states
    churn = states[("churn/main", model.address)]
    assert churn["state"] == "ready" and churn["cells"][2].endswith(" / 2"), churn
    deployments = {d["key"]: d["cells"] for d in facts["deployments"]}
    assert set(deployments) == {"fraud/blue", "fraud/green", "churn/main"}, deployments
    assert deployments["fraud/blue"][1] == "100%" and deployments["fraud/green"][1] == "0% · mirror 20%"
    assert deployments["churn/main"][2].endswith(" / 2")
    # rates over the polls so far: blue answers requests, churn refuses some with 429
    assert float(deployments["fraud/blue"][4]) > 0, deployments["fraud/blue"]
    assert deployments["fraud/blue"][11].endswith("ms"), deployments["fraud/blue"]  # p50
    # the refused reload, in red, with its problem code; still serving generation 1
    assert facts["reload"]["result"] == "failed" and facts["reload"]["red"], facts["reload"]
    assert "still serving generation 1" in facts["reload"]["text"]
    assert "0 ok, 1 refused" in facts["reload"]["text"]
    assert "max_concurrent_requests_per_instance" in facts["reload"]["text"], facts["reload"]
    # the certificate (60 days left: not red), process numbers and router errors
    assert "CN=localhost" in facts["certificate"] and "CN=scoregate test CA" in facts["certificate"]
    assert not facts["certificateRed"]
    assert "workers" in facts["process"] and "open connections" in facts["process"]
    codes = " ".join(facts["errors"])
    assert "Unauthorized" in codes and "EndpointNotFound" in codes, facts["errors"]
    for secret in (KEY, SECONDARY, "not-the-key", str(pki / "ecdsa.key"), str(pki / "ecdsa.fullchain.pem")):
        assert secret not in facts["html"], "a secret on the status page"


def short_lived_leaf(pki, d: Path, days):
    """A localhost leaf of the test CA that expires in `days` days."""
    run = lambda cmd: subprocess.run(cmd, check=True, capture_output=True)
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", d / "short.key", "-out", d / "short.csr", "-subj", "/CN=localhost"])
    (d / "short.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", d / "short.csr", "-CA", pki / "ca.pem", "-CAkey", pki / "ca.key",
         "-CAcreateserial", "-out", d / "short.crt", "-days", str(days), "-extfile", d / "short.ext"])
    (d / "short.pem").write_text((d / "short.crt").read_text() + (pki / "ca.pem").read_text())
    return d / "short.pem", d / "short.key"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/deps.sh test)")
def test_certificate_turns_red_below_14_days(model, start_router, pki, tmp_path):
    cert, key = short_lived_leaf(pki, tmp_path, days=10)
    s = settings_for(pki, [model.address])
    s["protected"] = {"sslCertPemFile": str(cert), "sslKeyPemFile": str(key)}
    r = start_router(s)
    browser = Browser(tmp_path)
    try:
        browser.call("Page.navigate", url=f"http://127.0.0.1:{r.admin_port}/")
        assert wait_until(lambda: (browser.evaluate(
            "Number(document.getElementById('updated')?.dataset.polls || 0)") or 0) >= 1, timeout=15)
        facts = browser.evaluate("""({red: document.getElementById('certificate').classList.contains('bad'),
            days: document.getElementById('cert-days').innerText,
            dayClass: document.getElementById('cert-days').className,
            reloadRed: document.getElementById('reload').classList.contains('bad')})""")
    finally:
        browser.close()
    assert facts["red"] and facts["dayClass"] == "bad", facts
    assert facts["days"].split()[0] in ("9", "10"), facts
    assert not facts["reloadRed"]  # no reload yet: only the certificate is red
