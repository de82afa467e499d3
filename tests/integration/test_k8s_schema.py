"""Every variant of `scoregate k8s render` checked offline against the Kubernetes schemas (and
cert-manager's for the Certificate), unknown fields rejected: tests/k8s/validate.mjs, with the
npm packages pinned in tests/k8s/package-lock.json (installed with `npm ci` on first use)."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from certgen import material
from conftest import BIN, ROOT

K8S = ROOT / "tests" / "k8s"

SETTINGS = """\
extension:
  sslSecret: scoring-tls
  sslCname: "scoring.example.com, *.scoring.example.com"
  inferenceRouterServiceType: LoadBalancer
endpoints:
  - name: fraud
    keys: { primary_file: KEYDIR/primary, secondary_file: KEYDIR/secondary }
    traffic: { blue: 90, green: 10 }
    deployments:
      - name: blue
        targets: [ "dns:fraud-blue.models.svc.cluster.local:5001" ]
      - name: green
        targets: [ "10.0.0.7:8000" ]
"""

# name -> (--config settings, render flags); together they cover every object and option.
VARIANTS = {
    "ha": ([], []),
    "single": (["inferenceRouterHA=False"], []),
    "insecure": (["allowInsecureConnections=True", "inferenceRouterServiceType=ClusterIP"], []),
    "nodeport": (["inferenceRouterServiceType=NodePort"], ["--external-traffic-policy", "Local"]),
    "clusterip": (["inferenceRouterServiceType=ClusterIP", "inferenceRouterHA=False"], []),
    "loadbalancer-local": ([], ["--external-traffic-policy", "Local"]),
    "cert-manager": ([], ["--cert-manager-issuer", "letsencrypt", "--cert-manager-issuer-kind",
                          "ClusterIssuer"]),
    "cert-manager-ca": (["inferenceRouterHA=False"], ["--cert-manager-issuer", "private-ca"]),
    "network-policy": ([], ["--network-policy"]),
    "network-policy-insecure": (["allowInsecureConnections=True"], ["--network-policy"]),
    "trusted-ca": (["TRUSTED_CA"], []),
    "namespace": ([], ["--create-namespace", "--namespace", "ml-prod", "--name", "router"]),
    "resources": ([], ["--cpu-request", "500m", "--cpu-limit", "2", "--memory-request", "256Mi",
                       "--memory-limit", "2Gi", "--replicas", "6", "--image-pull-secret", "regcred",
                       "--image-pull-secret", "mirror", "--image",
                       "registry.example.com:5000/scoregate:0.1.0"]),
    "everything": ([], ["--create-namespace", "--network-policy", "--cert-manager-issuer", "le",
                        "--external-traffic-policy", "Local", "--cpu-limit", "1", "--replicas",
                        "2", "--image-pull-secret", "regcred"]),
}


@pytest.fixture(scope="module")
def validator():
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed (scripts/deps.sh test installs them)"
    if not (K8S / "node_modules" / ".package-lock.json").exists():
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=K8S,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, "npm ci in tests/k8s failed:\n" + p.stdout + p.stderr

    def check(*files):
        return subprocess.run([node, K8S / "validate.mjs", *map(str, files)], cwd=K8S,
                              capture_output=True, text=True, timeout=300)
    return check


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("k8s-variants")
    certs = material(tmp_path_factory)
    keys = d / "keys"
    keys.mkdir()
    (keys / "primary").write_text("primary-key-0123456789abcdef\n")
    (keys / "secondary").write_text("secondary-key-0123456789abcdef\n")
    settings = d / "scoregate.yaml"
    settings.write_text(SETTINGS.replace("KEYDIR", str(keys)))
    out = {}
    for name, (config, flags) in VARIANTS.items():
        args = [a for c in config if c != "TRUSTED_CA" for a in ("--config", c)]
        text = settings
        if "TRUSTED_CA" in config:
            text = d / f"{name}.settings.yaml"
            text.write_text(settings.read_text() + f"router: {{ trusted_ca_file: {certs.root} }}\n")
        p = subprocess.run([BIN, "k8s", "render", "-f", text, *args, *flags],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0, f"{name}: {p.stderr}"
        f = d / f"{name}.yaml"
        f.write_text(p.stdout)
        out[name] = (f, [x for x in yaml.safe_load_all(p.stdout) if x is not None])
    return out


def test_every_rendered_variant_is_valid(validator, rendered):
    kinds = {d["kind"] for _, docs in rendered.values() for d in docs}
    assert kinds == {"Namespace", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                     "NetworkPolicy", "Certificate"}
    files = [f for f, _ in rendered.values()]
    p = validator(*files)
    total = sum(len(docs) for _, docs in rendered.values())
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{total} documents, 0 findings" in p.stdout


def plant(src, dst, change):
    docs = [d for d in yaml.safe_load_all(src.read_text()) if d is not None]
    for d in docs:
        change(d)
    dst.write_text(yaml.safe_dump_all(docs))
    return dst


def test_the_validator_catches_unknown_fields_and_wrong_types(validator, rendered, tmp_path):
    """Planted mistakes: each must be found, in the file it was planted in."""
    base = rendered["everything"][0]

    def unknown_container_field(d):
        if d["kind"] == "Deployment":
            d["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}

    def replicas_as_string(d):
        if d["kind"] == "Deployment":
            d["spec"]["replicas"] = "3"

    def unknown_certificate_field(d):
        if d["kind"] == "Certificate":
            d["spec"]["privateKey"]["rotation"] = "Always"

    def bad_certificate_enum(d):
        if d["kind"] == "Certificate":
            d["spec"]["privateKey"]["algorithm"] = "DSA"

    def unknown_network_policy_field(d):
        if d["kind"] == "NetworkPolicy":
            d["spec"]["egress"][0]["toPorts"] = d["spec"]["egress"][0].pop("ports")

    planted = [plant(base, tmp_path / f"{fn.__name__}.yaml", fn)
               for fn in (unknown_container_field, replicas_as_string, unknown_certificate_field,
                          bad_certificate_enum, unknown_network_policy_field)]
    p = validator(base, *planted)
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert not [l for l in lines if l.startswith(str(base))], p.stdout  # the original passes
    for f in planted:
        assert any(l.startswith(str(f)) for l in lines), f"{f.name} not caught:\n{p.stdout}"
    assert "readinessProbes" in p.stdout and "rotation" in p.stdout and "toPorts" in p.stdout


def test_the_documented_kustomize_overlay_builds_and_validates(validator, rendered, tmp_path):
    """docs/kubernetes.md's overlay, as written there, on top of a rendered base."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed (kubectl kustomize runs offline)")
    doc = (ROOT / "docs" / "kubernetes.md").read_text()
    overlay = doc.split("`deploy/prod/kustomization.yaml`:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "base").mkdir()
    (tmp_path / "prod").mkdir()
    shutil.copy(rendered["ha"][0], tmp_path / "base" / "scoregate.yaml")
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [scoregate.yaml]\n")
    (tmp_path / "prod" / "kustomization.yaml").write_text(overlay)
    p = subprocess.run([kubectl, "kustomize", tmp_path / "prod"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "prod.yaml"
    out.write_text(p.stdout)
    kinds = {d["kind"]: d for d in yaml.safe_load_all(p.stdout) if d}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "inference-critical"
    assert pod["containers"][0]["resources"]["requests"]["cpu"] == "2"
    v = validator(out)
    assert v.returncode == 0, v.stdout + v.stderr
