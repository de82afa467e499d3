"""`scoregate k8s render` through the real binary: the manifests parse, refusals exit 1 with their
code, nothing secret is printed, and the settings it writes into the ConfigMap are read by the
router itself (settings show, and serve with the Secret laid out as the kubelet mounts it)."""
import re
import shutil
import signal
import subprocess
import threading
import urllib.request

import pytest
import yaml

from certgen import SECRET_MARK, material
from conftest import BIN

SECRET_KEY = "endpoint-key-never-printed-5b1e9c"

SETTINGS = """\
extension:
  sslSecret: scoring-tls
  sslCname: a.test
  inferenceRouterServiceType: loadbalancer
endpoints:
  - name: fraud
    auth_mode: none
    deployments:
      - name: blue
        targets: [ "127.0.0.1:5001" ]
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return material(tmp_path_factory)


def scoregate(*args, timeout=20):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def render(tmp_path, text=SETTINGS, *args):
    f = tmp_path / "scoregate.yaml"
    f.write_text(text)
    return scoregate("k8s", "render", "-f", f, *args)


def documents(p):
    assert p.returncode == 0, p.stderr
    docs = [d for d in yaml.safe_load_all(p.stdout) if d is not None]
    return {d["kind"]: d for d in docs}, docs


def pod_settings(kinds):
    return kinds["ConfigMap"]["data"]["scoregate.yaml"]


def test_good_settings_render_parseable_manifests(tmp_path):
    kinds, docs = documents(render(tmp_path))
    assert [d["kind"] for d in docs] == ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget"]
    assert all(d["metadata"]["namespace"] == "azureml" for d in docs)
    dep = kinds["Deployment"]["spec"]
    assert dep["replicas"] == 3
    pod = dep["template"]["spec"]
    assert "podAntiAffinity" in pod["affinity"]
    c = pod["containers"][0]
    assert c["args"] == ["serve", "-f", "/etc/scoregate/config/scoregate.yaml"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert {"name": "tls", "mountPath": "/etc/scoregate/secrets/scoring-tls",
            "readOnly": True} in c["volumeMounts"]
    assert {"name": "tls", "secret": {"secretName": "scoring-tls"}} in pod["volumes"]
    svc = kinds["Service"]["spec"]
    assert svc["type"] == "LoadBalancer"
    assert svc["ports"] == [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]
    assert svc["selector"] == dep["selector"]["matchLabels"]


def test_flags_name_namespace_and_image(tmp_path):
    p = render(tmp_path, SETTINGS, "--name", "router", "--namespace", "ml", "--image",
               "registry.example.com:5000/scoregate:1#x")
    kinds, docs = documents(p)
    assert {d["metadata"]["namespace"] for d in docs} == {"ml"}
    assert kinds["Service"]["metadata"]["name"] == "router"
    assert kinds["ConfigMap"]["metadata"]["name"] == "router-config"
    c = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "registry.example.com:5000/scoregate:1#x"


def test_missing_service_type_is_refused(tmp_path):
    p = render(tmp_path, SETTINGS.replace("  inferenceRouterServiceType: loadbalancer\n", ""))
    assert p.returncode == 1, p.stderr
    assert "SERVICE_TYPE_MISSING error" in p.stderr
    assert p.stdout == ""


def test_every_problem_is_listed_in_one_round(tmp_path):
    text = SETTINGS.replace("  inferenceRouterServiceType: loadbalancer\n", "  sslCnmae: b.test\n")
    p = render(tmp_path, text)
    assert p.returncode == 1 and p.stdout == ""
    assert "SETTING_UNKNOWN" in p.stderr and "sslCname" in p.stderr  # the typo, with a suggestion
    assert "SERVICE_TYPE_MISSING" in p.stderr  # and the rule, in the same round


def test_usage_errors_exit_2(tmp_path):
    assert render(tmp_path, SETTINGS, "--name", "Router_1").returncode == 2
    assert render(tmp_path, SETTINGS, "--namespace", "a b").returncode == 2
    assert scoregate("k8s").returncode == 2


def test_help_names_the_flags():
    p = scoregate("k8s", "render", "--help")
    assert p.returncode == 0
    for word in ("--namespace", "--image", "--name", "--config", "-f", "inferenceRouterServiceType",
                 "kubectl apply"):
        assert word in p.stdout, word


def test_inline_keys_are_refused_and_not_printed(tmp_path):
    text = SETTINGS.replace("    auth_mode: none\n", f"    keys: {{ primary: {SECRET_KEY} }}\n")
    p = render(tmp_path, text)
    assert p.returncode == 1, p.stderr
    assert "K8S_INLINE_KEYS error" in p.stderr
    assert "primary_file" in p.stderr
    assert SECRET_KEY not in p.stdout + p.stderr


def test_key_files_become_a_secret_volume_and_are_not_printed(tmp_path):
    keys = tmp_path / SECRET_MARK
    keys.mkdir()
    (keys / "primary").write_text(SECRET_KEY + "\n")
    (keys / "secondary").write_text(SECRET_KEY + "-2\n")
    text = SETTINGS.replace(
        "    auth_mode: none\n",
        f"    keys: {{ primary_file: {keys / 'primary'}, secondary_file: {keys / 'secondary'} }}\n")
    p = render(tmp_path, text)
    kinds, _ = documents(p)
    assert SECRET_KEY not in p.stdout + p.stderr
    assert SECRET_MARK not in p.stdout + p.stderr
    assert "kubectl -n azureml create secret generic scoregate-keys-fraud" in p.stderr
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert {"name": "keys-0", "secret": {"secretName": "scoregate-keys-fraud"}} in pod["volumes"]
    settings = yaml.safe_load(pod_settings(kinds))
    assert settings["endpoints"][0]["keys"] == {
        "primary_file": "/etc/scoregate/keys/fraud/primary",
        "secondary_file": "/etc/scoregate/keys/fraud/secondary"}


def test_pem_files_are_referenced_as_a_secret_never_embedded(tmp_path, certs):
    p = scoregate("k8s", "render", "--config", "sslCname=a.test",
                  "--config", "inferenceRouterServiceType=NodePort",
                  "--config-protected", f"sslCertPemFile={certs.good}",
                  "--config-protected", f"sslKeyPemFile={certs.good_key}")
    kinds, _ = documents(p)
    out = p.stdout + p.stderr
    assert SECRET_MARK not in out
    assert "PRIVATE KEY" not in out
    command = re.search(r"(scoregate secret create [^|]*)\| kubectl apply -f -", p.stderr).group(1)
    assert "--cert <sslCertPemFile> --key <sslKeyPemFile>" in command
    assert yaml.safe_load(pod_settings(kinds))["extension"]["sslSecret"] == "scoregate-tls"
    assert kinds["Service"]["spec"]["type"] == "NodePort"
    # The printed command works once the user puts their own paths in.
    args = command.replace("<sslCertPemFile>", str(certs.good)).replace(
        "<sslKeyPemFile>", str(certs.good_key)).split()[1:]
    made = scoregate(*args, "--ca-file", certs.root)
    assert made.returncode == 0, made.stderr
    secret = yaml.safe_load(made.stdout)
    assert secret["metadata"]["name"] == "scoregate-tls"
    assert secret["metadata"]["namespace"] == "azureml"


def test_insecure_without_ha(tmp_path):
    p = scoregate("k8s", "render", "--config", "allowInsecureConnections=True",
                  "--config", "inferenceRouterHA=False", "--config", "inferenceRouterServiceType=CLUSTERIP")
    kinds, docs = documents(p)
    assert "PodDisruptionBudget" not in kinds
    assert "INSECURE_CONNECTIONS warning" in p.stderr
    dep = kinds["Deployment"]["spec"]
    assert dep["replicas"] == 1
    assert "affinity" not in dep["template"]["spec"]
    c = dep["template"]["spec"]["containers"][0]
    assert c["ports"][0] == {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    assert all(v["name"] != "tls" for v in dep["template"]["spec"]["volumes"])
    svc = kinds["Service"]["spec"]
    assert svc["type"] == "ClusterIP"
    assert svc["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


# ---- round trip: what render writes into the ConfigMap is what the router reads ----

def rendered_settings(tmp_path, text=SETTINGS):
    kinds, _ = documents(render(tmp_path, text))
    f = tmp_path / "pod-scoregate.yaml"
    f.write_text(pod_settings(kinds))
    return f


def test_settings_show_accepts_the_rendered_settings(tmp_path):
    f = rendered_settings(tmp_path)
    p = scoregate("settings", "show", "-f", f)
    assert p.returncode == 0, p.stderr
    shown = yaml.safe_load(p.stdout)
    assert shown["extension"]["sslSecret"] == "scoring-tls"
    assert shown["extension"]["inferenceRouterServiceType"] == "LoadBalancer"
    assert shown["router"]["admin"] == "127.0.0.1:9901"
    assert shown["router"]["probe_listen"] == "0.0.0.0:9902"
    assert shown["router"]["listen"] == "0.0.0.0:8443"


def test_serve_starts_from_the_rendered_settings(tmp_path, certs):
    # The test chain ends at a private root; a real cluster would mount it at the same path.
    f = rendered_settings(tmp_path, SETTINGS + f"router: {{ trusted_ca_file: {certs.root} }}\n")
    # The pod's probe port on all interfaces would collide on a shared test machine.
    f.write_text(f.read_text().replace("0.0.0.0:9902", "127.0.0.1:0"))
    # sslSecret as the kubelet would mount it, found through --secrets-dir outside a pod.
    secret = tmp_path / "secrets" / "scoring-tls"
    secret.mkdir(parents=True)
    shutil.copy(certs.good, secret / "cert.pem")
    shutil.copy(certs.good_key, secret / "key.pem")
    proc = subprocess.Popen([BIN, "serve", "-f", str(f), "--listen", "127.0.0.1:0", "--admin",
                             "127.0.0.1:0", "--workers", "1", "--secrets-dir", str(tmp_path / "secrets")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines, ready, ports = [], threading.Event(), []

    def pump():
        for line in proc.stderr:
            lines.append(line)
            m = re.search(r"serving .* on [\d.]+:(\d+) .*admin on [\d.]+:(\d+), probes on [\d.]+:(\d+)",
                          line)
            if m:
                ports.extend(int(x) for x in m.groups())
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(20) and ports, "serve did not start:\n" + "".join(lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[2]}/healthz", timeout=10) as r:
            assert r.status == 200  # what the kubelet probes
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[1]}/status", timeout=10) as r:
            assert r.status == 200
    finally:
        # SIGKILL: the rendered shutdown_delay_ms would make a polite stop take seconds.
        proc.send_signal(signal.SIGKILL)
        proc.wait()
