"""What `scoregate serve` refuses or accepts at start for its certificate pair: every bad file
(missing, unreadable, not PEM, PKCS#12, passphrase, mismatched, swapped, expired, not yet valid,
incomplete or misordered chain, weak key or signature, client-only) is refused with its code and
exit 1, printing no protected value; DER and self-signed start with a warning; and every problem,
certificate or settings, is listed in one round, each mistake once."""
import json
import os

from certgen import Pki, fingerprint
from certcli import check, https_get, no_protected_values, problem_codes, scoregate, serve_refused, settings_file
from certs import served_fingerprint
from conftest import Router


def test_good_chain_serves_https(tmp_path, certs):
    r = Router(tmp_path, json.loads(settings_file(tmp_path, certs, certs.good, certs.good_key).read_text()),
               workers=1)
    try:
        rc, status, err = https_get(r.port, certs.root)
        assert rc == 0 and status == "404", err  # verified TLS; no such endpoint
        assert served_fingerprint(r.port) == fingerprint(certs.good)
        assert not {c for c, s in problem_codes(r.stderr()).items() if s == "error"}
    finally:
        r.stop()
    no_protected_values(r.stderr(), "".join(r.stdout_lines))


def test_missing_certificate_file(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.dir / "nope" / "cert.pem", certs.good_key,
                        errors={"CERT_FILE_UNREADABLE"})
    assert "No such file or directory" in err


def test_unreadable_key_file(tmp_path, certs):
    # (tests may run as root, where chmod 000 does not stop reads: a directory and a FIFO do)
    err = serve_refused(tmp_path, certs, certs.good, certs.dir, errors={"KEY_FILE_UNREADABLE"})
    assert "Is a directory" in err
    fifo = certs.dir / "key.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    err = serve_refused(tmp_path, certs, certs.good, fifo, errors={"KEY_FILE_UNREADABLE"})
    assert "not a regular file" in err


def test_garbage_certificate(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.garbage, certs.good_key, errors={"CERT_NOT_PEM"})


def test_der_certificate_and_key_are_accepted_with_warnings(tmp_path, certs):
    # DER holds one certificate: the intermediate is trusted via trusted_ca_file here.
    ca_bundle = tmp_path / "cas.pem"
    ca_bundle.write_text(certs.root.read_text() + certs.pki.path("inter.crt").read_text())
    s = json.loads(settings_file(tmp_path, certs, certs.der, certs.pki.der_key("good")).read_text())
    s["router"]["trusted_ca_file"] = str(ca_bundle)
    r = Router(tmp_path, s, workers=1)
    try:
        found = problem_codes(r.stderr())
        assert found.get("CERT_DER") == "warning" and found.get("KEY_DER") == "warning", r.stderr()
        assert "openssl x509 -inform der" in r.stderr()
        assert served_fingerprint(r.port) == fingerprint(certs.good)
    finally:
        r.stop()
    no_protected_values(r.stderr())


def test_pkcs12_is_refused_with_the_conversion_command(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.p12, certs.good_key, errors={"CERT_PKCS12"})
    assert "openssl pkcs12 -in bundle.p12 -nokeys -out cert.pem" in err
    assert "openssl pkcs12 -in bundle.p12 -nocerts -nodes -out key.pem" in err
    err = serve_refused(tmp_path, certs, certs.good, certs.p12, errors={"KEY_PKCS12"})


def test_passphrase_key_is_refused_with_the_removal_command(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.good, certs.encrypted_key, errors={"KEY_ENCRYPTED"})
    assert "openssl pkey -in key.pem -out key-nopass.pem" in err
    assert "test-passphrase" not in err


def test_key_mismatch(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.good, certs.other_key, errors={"KEY_MISMATCH"})


def test_swapped_files(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.good_key, certs.good, errors={"CERT_EMPTY", "KEY_EMPTY"})


def test_expired_certificate(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.expired, certs.expired_key, errors={"CERT_EXPIRED"})
    assert "expired on" in err


def test_not_yet_valid_certificate(tmp_path, certs):
    p = Pki(certs.dir)
    p.issue("future", "inter", sans=certs.NAMES, shift="+30d")
    chain = p.chain("future-chain", "future", "inter")
    err = serve_refused(tmp_path, certs, chain, p.path("future.key"), errors={"CERT_NOT_YET_VALID"})
    assert "date -u" in err


def test_missing_intermediate_vs_complete_chain(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.leaf_only, certs.good_key,
                        errors={"CERT_CHAIN_INCOMPLETE"})
    assert "CN=scoregate test intermediate CA" in err  # names the missing issuer
    # the same leaf with its intermediate: fine
    p = check("--cert", certs.good, "--key", certs.good_key, "--cname", "a.test", "--ca-file", certs.root)
    assert p.returncode == 0 and "no problems found" in p.stdout, p.stdout
    # with the root in the file but no trusted root: only a warning (private PKI)
    p = check("--cert", certs.good_full, "--key", certs.good_key, "--cname", "a.test")
    assert p.returncode == 0, p.stdout
    assert problem_codes(p.stdout) == {"CERT_UNTRUSTED_ROOT": "warning"}, p.stdout
    # without root in file and without --ca-file: complete up to a private root (a warning)
    p = check("--cert", certs.good, "--key", certs.good_key, "--cname", "a.test")
    assert p.returncode == 0, p.stdout
    assert problem_codes(p.stdout) == {"CERT_CHAIN_PRIVATE_ROOT": "warning"}, p.stdout


def test_out_of_order_chain(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.out_of_order, certs.good_key,
                        errors={"CERT_CHAIN_ORDER"})
    assert "1. 'CN=good', 2. 'CN=scoregate test intermediate CA'" in err  # the right order


def test_rsa_1024_is_weak(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.rsa1024, certs.rsa1024_key, errors={"KEY_WEAK"})
    assert "RSA 1024" in err


def test_sha1_signature(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.sha1, certs.sha1_key, errors={"CERT_WEAK_SIGNATURE"})
    assert "sha1" in err.lower()


def test_client_auth_only_certificate(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.client_only, certs.client_only_key,
                        errors={"CERT_NOT_SERVER_AUTH"})
    assert "clientAuth" in err


def test_self_signed_starts_with_a_warning(tmp_path, certs):
    p = Pki(certs.dir)
    cert = p.self_signed("selfsigned", sans=certs.NAMES)
    r = Router(tmp_path, json.loads(settings_file(tmp_path, certs, cert, p.path("selfsigned.key"),
                                                  trusted=False).read_text()), workers=1)
    try:
        assert problem_codes(r.stderr()).get("CERT_SELF_SIGNED") == "warning", r.stderr()
        rc, status, err = https_get(r.port, cert)
        assert rc == 0 and status == "404", err
    finally:
        r.stop()


def test_every_problem_at_once(tmp_path, certs):
    # expired + SHA-1 + not covered + mismatched key, one run
    p = Pki(certs.dir)
    p.issue("multi", "inter", sans=("DNS:x.test",), md="sha1", days=30, shift="-400d")
    chain = p.chain("multi-chain", "multi", "inter")
    serve_refused(tmp_path, certs, chain, certs.other_key,
                  errors={"CERT_EXPIRED", "CERT_WEAK_SIGNATURE", "CERT_NAME_MISMATCH", "KEY_MISMATCH"})


def test_every_problem_is_listed_in_one_round(tmp_path, certs):
    """A misspelt key, a rule between settings and an expired certificate: all three at once,
    so a user fixes the file once rather than three times."""
    f = settings_file(tmp_path, certs, certs.expired, certs.expired_key,
                      extra={"router": {"max_header_byts": 4096}})
    s = json.loads(f.read_text())
    s["endpoints"][0]["traffic"] = {"blue": 90}
    f.write_text(json.dumps(s))
    p = scoregate("serve", "-f", f, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1, p.stderr
    errors = {c for c, sev in problem_codes(p.stderr).items() if sev == "error"}
    assert errors == {"SETTING_UNKNOWN", "TRAFFIC_SUM", "CERT_EXPIRED"}, p.stderr
    assert "max_header_bytes" in p.stderr  # the nearest known key is suggested
    no_protected_values(p.stdout, p.stderr)


def serve_errors(tmp_path, certs, change):
    f = settings_file(tmp_path, certs, certs.good, certs.good_key)
    s = json.loads(f.read_text())
    change(s)
    f.write_text(json.dumps(s))
    p = scoregate("serve", "-f", f, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1, p.stderr
    no_protected_values(p.stdout, p.stderr)
    return {c for c, sev in problem_codes(p.stderr).items() if sev == "error"}, p.stderr


def test_one_mistake_is_reported_once_not_again_as_missing(tmp_path, certs):
    """A setting that could not be read is not also reported by the rules that need it."""
    def bad_bool(s):
        s["extension"]["allowInsecureConnections"] = "yes"

    def bad_bool_meaning_plain_http(s):
        s["extension"] = {"allowInsecureConnections": "yes"}
        del s["protected"]

    def protected_in_extension(s):
        s["extension"]["sslCertPemFile"] = s["protected"].pop("sslCertPemFile")

    def misspelt_cname(s):
        s["extension"]["sslCnmae"] = s["extension"].pop("sslCname")

    def cname_with_scheme(s):
        s["extension"]["sslCname"] = "https://a.test"

    def misspelt_section(s):
        s["extention"] = s.pop("extension")

    def deployments_not_a_list(s):
        s["endpoints"][0]["deployments"] = "blue"

    cases = [(bad_bool, {"SETTING_INVALID_VALUE"}),
             (bad_bool_meaning_plain_http, {"SETTING_INVALID_VALUE"}),  # not TLS_NO_SOURCE
             (protected_in_extension, {"SETTING_PROTECTED"}),
             (misspelt_cname, {"SETTING_UNKNOWN"}),
             (cname_with_scheme, {"SETTING_INVALID_VALUE"}),  # not also CERT_NAME_MISMATCH
             (misspelt_section, {"SETTING_UNKNOWN"}),  # not TLS_CNAME_MISSING
             (deployments_not_a_list, {"SETTING_INVALID_VALUE"})]
    for change, expected in cases:
        errors, err = serve_errors(tmp_path, certs, change)
        assert errors == expected, (change.__name__, err)


def test_a_broken_certificate_source_stops_the_certificate_checks(tmp_path, certs):
    f = settings_file(tmp_path, certs, certs.expired, certs.expired_key)
    s = json.loads(f.read_text())
    s["extension"]["sslSecret"] = "scoring-tls"  # and the PEM files: which one is meant?
    f.write_text(json.dumps(s))
    p = scoregate("serve", "-f", f, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1, p.stderr
    errors = {c for c, sev in problem_codes(p.stderr).items() if sev == "error"}
    assert errors == {"TLS_SOURCE_CONFLICT"}, p.stderr
