"""The settings contract (README "Configuration") through the real binary: every refusal exits 1
(2 for usage errors) with its stable code on stderr, and no protected value (PEM paths,
protected settings, endpoint keys) appears anywhere in the output."""
import json
import re
import subprocess

import pytest

from certcli import scoregate
from certgen import SECRET_MARK
from conftest import Router

SECRET_KEY = "endpoint-key-never-printed-5b1e9c"


def serve(*args):
    return scoregate("serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1",
                     *args)


def assert_refused(p, *codes, rc=1, hidden=(SECRET_MARK, SECRET_KEY)):
    out = p.stdout + p.stderr
    assert p.returncode == rc, f"exit {p.returncode}, wanted {rc}:\n{out}"
    for code in codes:
        assert code in p.stderr, f"{code} not in stderr:\n{p.stderr}"
    for value in hidden:
        assert value not in out, f"protected value {value!r} printed:\n{out}"


def pem_flags(certs, cert=True, key=True):
    out = []
    if cert:
        out += ["--config-protected", f"sslCertPemFile={certs.good}"]
    if key:
        out += ["--config-protected", f"sslKeyPemFile={certs.good_key}"]
    return out


def yaml_file(tmp_path, text):
    f = tmp_path / "scoregate.yaml"
    f.write_text(text)
    return f


# ---- the certificate source rules ----

def test_tls_on_without_source_is_refused(tmp_path):
    f = yaml_file(tmp_path, "extension:\n  allowInsecureConnections: false\n  sslCname: a.test\n")
    p = serve("-f", f)
    assert_refused(p, "TLS_NO_SOURCE")
    assert "refusing to start" in p.stderr


def test_secret_and_pem_files_conflict(certs):
    p = serve("--config", "sslSecret=scoring-tls", "--config", "sslCname=a.test", *pem_flags(certs))
    assert_refused(p, "TLS_SOURCE_CONFLICT")


@pytest.mark.parametrize("which", ["cert", "key"])
def test_one_pem_file_alone_is_refused(certs, which):
    p = serve("--config", "sslCname=a.test", *pem_flags(certs, cert=which == "cert", key=which == "key"))
    assert_refused(p, "TLS_PEM_PAIR_INCOMPLETE")
    missing = "sslKeyPemFile" if which == "cert" else "sslCertPemFile"
    assert missing in p.stderr


def test_cname_is_required_with_tls(certs):
    p = serve(*pem_flags(certs))
    assert_refused(p, "TLS_CNAME_MISSING")


def test_every_problem_is_listed_at_once(certs):
    # Reading problems (syntax, keys, types) are listed together; the rules between settings
    # are checked on settings that were read cleanly, and are listed together too.
    p = serve("--config", "enableInference=yes", "--config", "sslCnam=a.test",
              "--config", f"sslKeyPemFile={certs.good_key}")
    assert_refused(p, "SETTING_INVALID_VALUE", "SETTING_UNKNOWN", "SETTING_PROTECTED")
    p = serve("--config", "sslSecret=scoring-tls", "--config", "inferenceRouterServiceType=Ingress",
              *pem_flags(certs))
    assert_refused(p, "TLS_SOURCE_CONFLICT", "TLS_CNAME_MISSING", "SERVICE_TYPE_INVALID")


# ---- protected settings ----

@pytest.mark.parametrize("key", ["sslCertPemFile", "sslKeyPemFile"])
def test_protected_setting_given_with_config_is_refused_without_echo(certs, key):
    path = certs.good if key == "sslCertPemFile" else certs.good_key
    p = serve("--config", f"{key}={path}", "--config", "sslCname=a.test")
    assert_refused(p, "SETTING_PROTECTED")
    assert "--config-protected" in p.stderr  # says where it belongs


def test_protected_setting_under_extension_in_yaml_is_refused(tmp_path, certs):
    f = yaml_file(tmp_path, f"extension:\n  sslCname: a.test\n  sslCertPemFile: {certs.good}\n"
                            f"protected:\n  sslKeyPemFile: {certs.good_key}\n")
    p = serve("-f", f)
    assert_refused(p, "SETTING_PROTECTED")
    assert "protected:" in p.stderr


def test_config_protected_without_equals_is_not_echoed(certs):
    p = serve("--config-protected", str(certs.good), "--config", "sslCname=a.test")
    assert_refused(p, "FLAG_SYNTAX")


# ---- unknown keys, values ----

@pytest.mark.parametrize("flag", ["--config", "--config-protected"])
def test_unknown_key_suggests_the_nearest(certs, flag):
    p = serve(flag, f"sslCertPemFIle={certs.good}", "--config", "sslCname=a.test")
    assert_refused(p, "SETTING_UNKNOWN")
    assert "did you mean sslCertPemFile?" in p.stderr
    if flag == "--config":
        assert "configuration-protected" in p.stderr


def test_unknown_key_in_yaml_names_file_line_and_suggestion(tmp_path, certs):
    f = yaml_file(tmp_path, f"extension:\n  sslCname: a.test\n  allowInsecureConection: false\n"
                            f"protected:\n  sslCertPemFIle: {certs.good}\n  sslKeyPemFile: {certs.good_key}\n")
    p = serve("-f", f)
    assert_refused(p, "SETTING_UNKNOWN")
    assert "did you mean allowInsecureConnections?" in p.stderr
    assert "did you mean sslCertPemFile?" in p.stderr
    assert f"{f}:3" in p.stderr and f"{f}:5" in p.stderr


@pytest.mark.parametrize("value", ["yes", "no", "1", "TRUE", "on"])
def test_boolean_accepts_only_true_false(value):
    p = serve("--config", f"allowInsecureConnections={value}")
    assert_refused(p, "SETTING_INVALID_VALUE")
    assert "True, False, true or false" in p.stderr


def test_boolean_in_yaml_yes_is_refused(tmp_path):
    f = yaml_file(tmp_path, "extension:\n  allowInsecureConnections: yes\n")
    assert_refused(serve("-f", f), "SETTING_INVALID_VALUE")


def test_bad_service_type_is_refused(certs):
    p = serve("--config", "sslCname=a.test", "--config", "inferenceRouterServiceType=Ingress",
              *pem_flags(certs))
    assert_refused(p, "SERVICE_TYPE_INVALID")
    assert "LoadBalancer, NodePort or ClusterIP" in p.stderr


@pytest.mark.parametrize("spelling,canonical", [("loadbalancer", "LoadBalancer"),
                                                ("NODEPORT", "NodePort"), ("ClusterIP", "ClusterIP")])
def test_service_type_any_case_is_normalised(spelling, canonical):
    p = scoregate("settings", "show", "--config", f"inferenceRouterServiceType={spelling}")
    assert p.returncode == 0, p.stderr
    assert f"inferenceRouterServiceType: {canonical}" in p.stdout


def test_yaml_syntax_error_is_refused(tmp_path):
    f = yaml_file(tmp_path, "extension:\n  sslCname: [a.test\n")
    p = serve("-f", f)
    assert_refused(p, "CONFIG_YAML_SYNTAX")


def test_missing_settings_file_is_refused(tmp_path):
    p = serve("-f", tmp_path / "nope.yaml")
    assert_refused(p, "CONFIG_FILE_UNREADABLE")


# ---- usage errors: exit 2 ----

@pytest.mark.parametrize("args", [
    ["serve", "--no-such-flag"],
    ["serve", "--workers", "many"],
    ["settings"],
    ["settings", "show", "--config"],
    ["cert", "check"],
    ["cert", "check", "--cert", "x.pem"],
    ["cert", "check", "--secret", "s", "--cert", "x.pem", "--key", "k.pem"],
    ["cert", "dev", "--out", "/tmp/x"],
    ["cert", "dev", "--cname", ",", "--out", "/tmp/x"],
    ["secret", "create", "--name", "Bad_Name", "--cert", "c", "--key", "k"],
    ["nonsense"],
    [],
])
def test_usage_errors_exit_2(args):
    p = scoregate(*args)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)


# ---- settings show ----

def test_settings_show_hides_protected_values(tmp_path, certs):
    f = yaml_file(tmp_path, json.dumps({
        "extension": {"sslCname": "a.test", "inferenceRouterServiceType": "nodeport"},
        "protected": {"sslCertPemFile": str(certs.good), "sslKeyPemFile": str(certs.good_key)},
        "endpoints": [{"name": "fraud", "keys": {"primary": SECRET_KEY},
                       "deployments": [{"name": "blue", "targets": ["127.0.0.1:5001"]}]}]}))
    p = scoregate("settings", "show", "-f", f, "--config-protected", "sslSecret=hidden-secret-name")
    out = p.stdout + p.stderr
    assert SECRET_MARK not in out and SECRET_KEY not in out and "hidden-secret-name" not in out, out
    assert "sslCertPemFile: (protected)" in p.stdout
    assert "sslKeyPemFile: (protected)" in p.stdout
    assert "sslSecret: (protected)" in p.stdout
    assert "primary: (secret)" in p.stdout
    assert "sslCname: a.test" in p.stdout
    assert "inferenceRouterServiceType: NodePort" in p.stdout
    assert "allowInsecureConnections: false" in p.stdout
    # the effective (validated) settings: the single deployment's implicit 100%, the port
    assert "traffic: {blue: 100}" in p.stdout
    # sslSecret together with the PEM files is serve's refusal; show reports settings problems
    assert p.returncode == 0, p.stderr


def test_settings_show_hides_protected_booleans_too():
    p = scoregate("settings", "show", "--config-protected", "inferenceRouterHA=False")
    assert p.returncode == 0, p.stderr
    assert "inferenceRouterHA: (protected)" in p.stdout
    assert "enableInference: true" in p.stdout


def test_settings_show_with_flags_only_prints_defaults():
    p = scoregate("settings", "show", "--config", "sslCname=scoring.example.com")
    assert p.returncode == 0, p.stderr
    assert "sslCname: scoring.example.com" in p.stdout
    assert "listen: 0.0.0.0:8443" in p.stdout
    assert "admin: 127.0.0.1:9901" in p.stdout
    assert "inferenceRouterHA: true" in p.stdout


def test_every_setting_shown_is_documented_in_the_readme(tmp_path):
    # `settings show` prints every row of the settings table (src/settings/table.cpp): each key
    # it prints must have its line in the README's "Configuration" section.
    import yaml
    from conftest import ROOT
    config = yaml_file(tmp_path, """
endpoints:
  - name: fraud
    auth_mode: none
    deployments:
      - name: blue
        targets: ["127.0.0.1:5001"]
        readiness_probe: { path: / }
""")
    p = scoregate("settings", "show", "-f", config, "--config", "allowInsecureConnections=True")
    assert p.returncode == 0, p.stderr
    shown = yaml.safe_load(p.stdout)
    deployment = shown["endpoints"][0]["deployments"][0]
    keys = [*shown["extension"], *shown["protected"], *shown["router"],
            *deployment["request_settings"], *deployment["readiness_probe"]]
    assert "sslCname" in keys and "dns_refresh_ms" in keys and "period_ms" in keys, keys
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration"):readme.index("## Requests")]
    # `key` in the tables, or as the last part of a path (`request_settings.key`)
    missing = [k for k in keys if not re.search(r"[`.]" + re.escape(k) + "`", section)]
    assert not missing, f"settings not documented in README Configuration: {missing}"


def test_settings_show_exit_1_on_errors_and_lists_them(certs):
    p = scoregate("settings", "show", "--config", f"sslCertPemFile={certs.good}",
                  "--config", "allowInsecureConnections=maybe", "--config", "sslCnam=a.test")
    assert_refused(p, "SETTING_PROTECTED", "SETTING_INVALID_VALUE", "SETTING_UNKNOWN")
    assert "extension:" in p.stdout  # the effective settings are still shown
    assert "did you mean sslCname?" in p.stderr


def test_settings_show_insecure_warns_but_exits_0(certs):
    p = scoregate("settings", "show", "--config", "allowInsecureConnections=True",
                  "--config", "sslCname=a.test", *pem_flags(certs))
    assert p.returncode == 0, p.stderr
    assert "INSECURE_CONNECTIONS" in p.stderr
    assert "INSECURE_TLS_SETTINGS_IGNORED" in p.stderr
    assert SECRET_MARK not in p.stdout + p.stderr


# ---- insecure mode starts, warns and serves plain HTTP ----

def test_insecure_with_leftover_ssl_settings_warns_and_serves_http(tmp_path, certs):
    settings = {"extension": {"allowInsecureConnections": True, "sslCname": "a.test",
                              "sslSecret": "scoring-tls"},
                "protected": {"sslCertPemFile": str(certs.good), "sslKeyPemFile": str(certs.good_key)}}
    r = Router(tmp_path, settings, workers=1)
    try:
        err = r.stderr()
        assert "INSECURE_CONNECTIONS" in err and "INSECURE_TLS_SETTINGS_IGNORED" in err, err
        for name in ("sslSecret", "sslCname", "sslCertPemFile", "sslKeyPemFile"):
            assert name in err
        assert "plain HTTP" in err
        p = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}",
                            f"http://127.0.0.1:{r.port}/api/v1/endpoint/none/score"],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 0 and p.stdout.endswith("\n404"), p
        status, body = r.admin("/status")
        assert status == 200 and json.loads(body)["mode"] == "insecure-http"
        assert SECRET_MARK not in body
    finally:
        r.stop()
    assert SECRET_MARK not in r.stderr() + "".join(r.stdout_lines)
