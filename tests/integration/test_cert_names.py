"""sslCname against the certificate's names (SAN): what a name mismatch lists, a wildcard
covering exactly one label, IP addresses and several comma-separated names, both in
`cert check` and in `serve`; and a protected sslCname is never printed."""
import pytest

from certcli import HIDDEN, check, no_protected_values, problem_codes, scoregate, serve_refused


def test_cname_not_covered_lists_the_names(tmp_path, certs):
    err = serve_refused(tmp_path, certs, certs.good, certs.good_key, cname="scoring.example.com",
                        errors={"CERT_NAME_MISMATCH"})
    assert "it covers: a.test, localhost, IP:127.0.0.1" in err


@pytest.mark.parametrize("cname,covered", [
    ("a.example.com", True), ("scoring.example.com", True),
    ("example.com", False), ("a.b.example.com", False), ("aexample.com", False)])
def test_wildcard_covers_exactly_one_label(certs, cname, covered):
    p = check("--cert", certs.wild, "--key", certs.wild_key, "--cname", cname, "--ca-file", certs.root)
    assert p.returncode == (0 if covered else 1), p.stdout
    if not covered:
        assert problem_codes(p.stdout) == {"CERT_NAME_MISMATCH": "error"}, p.stdout
        assert "it covers: *.example.com" in p.stdout


def test_wildcard_refused_by_serve(tmp_path, certs):
    serve_refused(tmp_path, certs, certs.wild, certs.wild_key, cname="a.b.example.com",
                  errors={"CERT_NAME_MISMATCH"})


@pytest.mark.parametrize("cname,covered", [("127.0.0.1", True), ("127.0.0.2", False),
                                           ("a.test,localhost,127.0.0.1", True),
                                           ("a.test,b.test", False)])
def test_ip_and_several_names(certs, cname, covered):
    p = check("--cert", certs.good, "--key", certs.good_key, "--cname", cname, "--ca-file", certs.root)
    assert p.returncode == (0 if covered else 1), p.stdout


def test_protected_cname_is_never_printed(tmp_path, certs):
    p = scoregate("serve", "--config-protected", f"sslCname={HIDDEN}.example.com",
                  "--config-protected", f"sslCertPemFile={certs.good}",
                  "--config-protected", f"sslKeyPemFile={certs.good_key}",
                  "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
    assert p.returncode == 1 and "CERT_NAME_MISMATCH" in p.stderr, p.stderr
    assert "sslCname (protected)" in p.stderr
    assert HIDDEN not in p.stdout + p.stderr, p.stderr
    no_protected_values(p.stdout, p.stderr)
