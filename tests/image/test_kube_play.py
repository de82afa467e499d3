"""`podman kube play` of the manifests `scoregate k8s render` writes (rendered by the image
itself, with its default --image, the tag `make image` builds) runs the router and serves a
scoring request over TLS verified against the private CA.

podman 4.3 is not a kubelet. Its known limits force these changes to the rendered manifests,
and only these:
- Secret volumes: a `secret:` volume without `optional:` panics kube play, Secret `data` is
  written into the volume still base64-encoded and an updated Secret never reaches the pod. So
  each Secret volume becomes a hostPath directory in the kubelet's `..data` layout (what the
  kubelet would have mounted); the volume names and mount paths stay as rendered.
- Every container port is published on the host (Services are ignored): on 0.0.0.0 and at the
  rendered fixed ports 8443/9902, which would leave loopback and collide on a shared CI machine.
  So the pod runs on the host network (where the sample model container is, on loopback), the
  ConfigMap's listeners move to free 127.0.0.1 ports, and the containerPorts are removed
  (podman refuses port mappings on the host network).
The probes stay as rendered (podman turns the livenessProbe into a healthcheck whose timer needs
systemd, so it never runs here; this test calls /healthz and /readyz itself)."""
import json
import urllib.request
import uuid

import yaml

from conftest import HARDENED, VERSION, free_port, make_pki_dir, podman, readable_tree, wait_port
from kubelet import KubeletVolume
from test_image import PRIMARY, SECONDARY, score, tls_files


def adapt_for_podman(docs, volumes, ports):
    """The rendered manifests with podman 4.3's forced changes (module docstring)."""
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    pod_settings = yaml.safe_load(cm["data"]["scoregate.yaml"])
    pod_settings["router"].update({"listen": f"127.0.0.1:{ports['https']}",
                                   "probe_listen": f"127.0.0.1:{ports['probes']}",
                                   "admin": f"127.0.0.1:{ports['admin']}"})
    cm["data"]["scoregate.yaml"] = yaml.safe_dump(pod_settings)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert {p["name"] for p in c.pop("ports")} == {"https", "probes"}
    for v in spec["volumes"]:
        if "secret" in v:
            name = v.pop("secret")["secretName"]
            v["hostPath"] = {"path": str(volumes[name]), "type": "Directory"}
    return docs


def test_kube_play_rendered_manifests_serve_scoring(model, tmp_path):
    pki = make_pki_dir(tmp_path / "pki")
    name = f"sgplay{uuid.uuid4().hex[:6]}"
    # the settings a user renders from: key files next to them (render checks they are readable)
    src = tmp_path / "in"
    src.mkdir()
    (src / "primary").write_text(PRIMARY)
    (src / "secondary").write_text(SECONDARY)
    (src / "scoregate.yaml").write_text(json.dumps({
        "extension": {"sslSecret": "scoring-tls", "sslCname": "localhost",
                      "inferenceRouterServiceType": "ClusterIP", "inferenceRouterHA": False},
        "endpoints": [{"name": "fraud", "keys": {"primary_file": "/in/primary", "secondary_file": "/in/secondary"},
                       "deployments": [{"name": "blue", "targets": [f"127.0.0.1:{model.port}"]}]}]}))
    readable_tree(src)
    # the short name render writes by default resolves to localhost/scoregate:VERSION, the tag
    # `make image` builds (the pod below runs it, whatever SCOREGATE_IMAGE says)
    out = podman("run", "--rm", *HARDENED, "-v", f"{src}:/in:ro", f"scoregate:{VERSION}",
                 "k8s", "render", "-f", "/in/scoregate.yaml", "--name", name)
    assert PRIMARY not in out.stdout + out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == f"scoregate:{VERSION}"

    # what the kubelet would mount: the Secrets `secret create` and `kubectl create secret` make
    tls = KubeletVolume(tmp_path / "secrets", "scoring-tls")
    tls.publish(tls_files(pki, "leaf", "cert.pem"))
    keys = KubeletVolume(tmp_path / "secrets", f"{name}-keys-fraud")
    keys.publish({"primary": PRIMARY.encode(), "secondary": SECONDARY.encode()})
    ports = {"https": free_port(), "probes": free_port(), "admin": free_port()}
    docs = adapt_for_podman(docs, {"scoring-tls": tls.dir, f"{name}-keys-fraud": keys.dir}, ports)
    play = tmp_path / "play.yaml"
    play.write_text(yaml.safe_dump_all(docs))

    try:
        podman("kube", "play", "--network", "host", play, timeout=120)
        wait_port(ports["https"], timeout=30)
        status, body = score(ports["https"], pki / "ca.pem", PRIMARY)
        assert status == 200 and body.startswith('{"result"'), (status, body)
        for path in ("/readyz", "/healthz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['probes']}{path}", timeout=5) as r:
                assert r.status == 200
        # the pod's securityContext reached the container
        # podman names a Deployment's container <name>-pod-0-<container>
        ctr = next(n for n in podman("ps", "--format", "{{.Names}}").stdout.split() if n.startswith(f"{name}-pod"))
        info = json.loads(podman("inspect", ctr).stdout)[0]
        assert info["Config"]["User"] in ("65532:65532", "65532")
        assert info["HostConfig"]["ReadonlyRootfs"] is True
        # capabilities: drop ALL; allowPrivilegeEscalation: false
        assert not info.get("EffectiveCaps"), info.get("EffectiveCaps")
        assert any("no-new-privileges" in o for o in info["HostConfig"].get("SecurityOpt") or []), \
            info["HostConfig"].get("SecurityOpt")
        logs = podman("logs", ctr).stdout + podman("logs", ctr).stderr
        assert PRIMARY not in logs and "BEGIN" not in logs
    finally:
        podman("kube", "down", play, check=False, timeout=60)
