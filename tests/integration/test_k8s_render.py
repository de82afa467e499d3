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

from certcli import scoregate
from certgen import SECRET_MARK
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
                 "kubectl apply", "--create-namespace", "--replicas", "--image-pull-secret",
                 "--cpu-request", "--memory-request", "--cpu-limit", "--memory-limit",
                 "--external-traffic-policy", "--network-policy", "--cert-manager-issuer",
                 "--cert-manager-issuer-kind"):
        assert word in p.stdout, word


# ---- the options of k8s render ----

def test_namespace_replicas_pull_secrets_and_resources(tmp_path):
    p = render(tmp_path, SETTINGS, "--namespace", "ml", "--create-namespace", "--replicas", "4",
               "--image-pull-secret", "regcred", "--image-pull-secret", "mirror",
               "--cpu-request", "1", "--cpu-limit", "1500m", "--memory-request", "256Mi",
               "--memory-limit", "512Mi")
    kinds, docs = documents(p)
    assert docs[0] == {"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "ml", "labels": docs[0]["metadata"]["labels"]}}
    dep = kinds["Deployment"]["spec"]
    assert dep["replicas"] == 4
    pod = dep["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror"}]
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "1", "memory": "256Mi"},
                                                 "limits": {"cpu": "1500m", "memory": "512Mi"}}
    spread = pod["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread[0]["whenUnsatisfiable"] == "ScheduleAnyway"
    ann = dep["template"]["metadata"]["annotations"]
    assert (ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]) == \
        ("true", "9902", "/metrics")


@pytest.mark.parametrize("flags, words", [
    (["--cpu-request", "250 m"], "--cpu-request"),
    (["--memory-limit", "1GB"], "quantity"),
    (["--memory-request", "2Gi"], "above --memory-limit"),
    (["--cpu-request", "2", "--cpu-limit", "1"], "above --cpu-limit"),
    (["--replicas", "0"], "--replicas"),
    (["--replicas", "many"], "--replicas"),
    (["--image-pull-secret", "Reg_Cred"], "--image-pull-secret"),
    (["--external-traffic-policy", "local"], "Local or Cluster"),
    (["--cert-manager-issuer", "le", "--cert-manager-issuer-kind", "Issuers"], "ClusterIssuer"),
])
def test_bad_option_values_are_usage_errors(tmp_path, flags, words):
    p = render(tmp_path, SETTINGS, *flags)
    assert p.returncode == 2, p.stderr
    assert words in p.stderr
    assert p.stdout == ""


def test_external_traffic_policy_local(tmp_path):
    kinds, _ = documents(render(tmp_path, SETTINGS, "--external-traffic-policy", "Local"))
    assert kinds["Service"]["spec"]["externalTrafficPolicy"] == "Local"
    p = render(tmp_path, SETTINGS.replace("loadbalancer", "clusterip"),
               "--external-traffic-policy", "Local")
    assert p.returncode == 1 and p.stdout == ""
    assert "K8S_TRAFFIC_POLICY_CLUSTER_IP error" in p.stderr


def test_network_policy(tmp_path):
    text = SETTINGS.replace('targets: [ "127.0.0.1:5001" ]',
                            'targets: [ "dns:fraud.models.svc.cluster.local:5001", "10.1.2.3:8000" ]')
    kinds, _ = documents(render(tmp_path, text, "--network-policy"))
    np = kinds["NetworkPolicy"]["spec"]
    assert np["policyTypes"] == ["Ingress", "Egress"]
    assert np["podSelector"]["matchLabels"] == kinds["Deployment"]["spec"]["selector"]["matchLabels"]
    assert np["ingress"] == [
        {"ports": [{"port": 8443, "protocol": "TCP"}]},
        {"from": [{"namespaceSelector": {}}], "ports": [{"port": 9902, "protocol": "TCP"}]}]
    assert np["egress"] == [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"ports": [{"port": 5001, "protocol": "TCP"}, {"port": 8000, "protocol": "TCP"}]}]
    kinds, _ = documents(render(tmp_path, SETTINGS))
    assert "NetworkPolicy" not in kinds


def test_cert_manager_certificate(tmp_path):
    text = SETTINGS.replace("sslCname: a.test", 'sslCname: "a.test, b.test"')
    p = render(tmp_path, text, "--cert-manager-issuer", "private-ca")
    kinds, _ = documents(p)
    cert = kinds["Certificate"]
    assert cert["apiVersion"] == "cert-manager.io/v1"
    spec = cert["spec"]
    assert spec["secretName"] == "scoring-tls"
    assert spec["dnsNames"] == ["a.test", "b.test"]
    assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "encoding": "PKCS8",
                                  "rotationPolicy": "Always"}
    assert spec["usages"] == ["server auth", "digital signature"]
    assert spec["renewBefore"] == "720h"
    assert spec["issuerRef"] == {"name": "private-ca", "kind": "Issuer", "group": "cert-manager.io"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "scoring-tls"}} in pod["volumes"]
    assert "cert-manager Certificate scoregate (Issuer private-ca) writes sslSecret" in p.stderr
    assert "scoregate secret create" not in p.stderr  # cert-manager makes it, not the user


def test_cert_manager_refusals(tmp_path, certs):
    p = scoregate("k8s", "render", "--config", "allowInsecureConnections=True",
                  "--config", "inferenceRouterServiceType=NodePort", "--cert-manager-issuer", "le")
    assert p.returncode == 1 and p.stdout == ""
    assert "K8S_CERT_MANAGER_INSECURE error" in p.stderr
    p = scoregate("k8s", "render", "--config", "sslCname=a.test",
                  "--config", "inferenceRouterServiceType=NodePort",
                  "--config-protected", f"sslCertPemFile={certs.good}",
                  "--config-protected", f"sslKeyPemFile={certs.good_key}",
                  "--cert-manager-issuer", "le")
    assert p.returncode == 1 and p.stdout == ""
    assert "K8S_CERT_MANAGER_NEEDS_SSL_SECRET error" in p.stderr
    assert SECRET_MARK not in p.stderr


def test_trusted_ca_file_is_mounted_from_a_secret(tmp_path, certs):
    p = render(tmp_path, SETTINGS + f"router: {{ trusted_ca_file: {certs.root} }}\n")
    kinds, _ = documents(p)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert {"name": "trusted-ca", "secret": {"secretName": "scoregate-trusted-ca"}} in pod["volumes"]
    assert {"name": "trusted-ca", "mountPath": "/etc/scoregate/trusted-ca",
            "readOnly": True} in pod["containers"][0]["volumeMounts"]
    settings = yaml.safe_load(pod_settings(kinds))
    assert settings["router"]["trusted_ca_file"] == "/etc/scoregate/trusted-ca/ca.crt"
    command = f"kubectl -n azureml create secret generic scoregate-trusted-ca --from-file=ca.crt={certs.root}"
    assert command in p.stderr


def test_inline_keys_are_refused_and_not_printed(tmp_path):
    text = SETTINGS.replace("    auth_mode: none\n", f"    keys: {{ primary: {SECRET_KEY} }}\n")
    p = render(tmp_path, text)
    assert p.returncode == 1, p.stderr
    assert "K8S_INLINE_KEYS error" in p.stderr
    assert "primary_file" in p.stderr
    assert SECRET_KEY not in p.stdout + p.stderr


def test_key_files_become_a_secret_volume_and_are_not_printed(tmp_path):
    keys = tmp_path / "key files"
    keys.mkdir()
    (keys / "primary").write_text(SECRET_KEY + "\n")
    (keys / "secondary").write_text(SECRET_KEY + "-2\n")
    text = SETTINGS.replace(
        "    auth_mode: none\n",
        f"    keys: {{ primary_file: {keys / 'primary'}, secondary_file: {keys / 'secondary'} }}\n")
    p = render(tmp_path, text)
    kinds, _ = documents(p)
    assert SECRET_KEY not in p.stdout + p.stderr
    # The note names the files render read (quoted for the shell), ready to paste.
    command = f"kubectl -n azureml create secret generic scoregate-keys-fraud " \
              f"--from-file='primary={keys / 'primary'}' --from-file='secondary={keys / 'secondary'}'"
    assert command in p.stderr
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
    # The test chain ends at a private root: render mounts it from Secret scoregate-trusted-ca,
    # laid out here as the kubelet would, at a local directory instead of the pod's path.
    f = rendered_settings(tmp_path, SETTINGS + f"router: {{ trusted_ca_file: {certs.root} }}\n")
    assert "trusted_ca_file: /etc/scoregate/trusted-ca/ca.crt" in f.read_text()
    (tmp_path / "trusted-ca").mkdir()
    shutil.copy(certs.root, tmp_path / "trusted-ca" / "ca.crt")
    # The pod's probe port on all interfaces would collide on a shared test machine.
    f.write_text(f.read_text().replace("0.0.0.0:9902", "127.0.0.1:0").replace(
        "/etc/scoregate/trusted-ca", str(tmp_path / "trusted-ca")))
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
