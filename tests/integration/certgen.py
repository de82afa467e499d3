"""Test certificates made with the real openssl CLI (and faketime for back-dated validity):
a root CA, an intermediate CA and leaves with any names, key type, digest, usage and dates.
Everything is generated in a temporary directory at test time; no key is ever committed."""
import secrets
import subprocess
from pathlib import Path

# A path component that must never show up in scoregate's output: sslCertPemFile and
# sslKeyPemFile are configuration-protected, so their paths are never printed.
SECRET_MARK = "SECRET-PATH-7f3a"


def run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def fingerprint(cert_path):
    """openssl's SHA-256 fingerprint of the first certificate in a PEM file, as AA:BB:..."""
    out = run(["openssl", "x509", "-in", cert_path, "-noout", "-fingerprint", "-sha256"])
    return out.strip().split("=", 1)[1]


class Pki:
    """Certificates under one directory. Names are file stems: issue("leaf") writes
    leaf.crt and leaf.key; chain(...) concatenates PEM files."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, name):
        return self.dir / name

    def key(self, name, kind="ec"):
        path = self.dir / f"{name}.key"
        if kind == "ec":
            run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", path])
        elif kind.startswith("rsa"):
            run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                 f"rsa_keygen_bits:{kind[3:]}", "-out", path])
        else:
            raise ValueError(kind)
        return path

    def root(self, name="root", cn="scoregate test root CA", days=3650):
        key = self.key(name)
        cert = self.dir / f"{name}.crt"
        run(["openssl", "req", "-x509", "-new", "-key", key, "-out", cert, "-days", days,
             "-subj", f"/CN={cn}", "-sha256",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash"])
        return cert

    def issue(self, name, issuer, *, cn=None, sans=("DNS:a.test",), ca=False, days=60,
              shift=None, md="sha256", key_kind="ec", eku="serverAuth",
              key_usage="critical,digitalSignature,keyEncipherment", key=None):
        """A certificate signed by `issuer` (a name given to root()/issue() before).
        shift: a faketime offset such as '-400d' for back-dated or '+30d' for future dates."""
        key = key or self.key(name, key_kind)
        csr = self.dir / f"{name}.csr"
        cert = self.dir / f"{name}.crt"
        cn = cn or name
        run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={cn}"])
        ext = self.dir / f"{name}.ext"
        lines = []
        if ca:
            lines += ["basicConstraints=critical,CA:TRUE,pathlen:0",
                      "keyUsage=critical,keyCertSign,cRLSign"]
        else:
            lines += ["basicConstraints=critical,CA:FALSE"]
            if key_usage:
                lines.append(f"keyUsage={key_usage}")
            if eku:
                lines.append(f"extendedKeyUsage={eku}")
            if sans:
                lines.append("subjectAltName=" + ",".join(sans))
        lines += ["subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]
        ext.write_text("\n".join(lines) + "\n")
        cmd = ["openssl", "x509", "-req", "-in", csr, "-CA", self.dir / f"{issuer}.crt",
               "-CAkey", self.dir / f"{issuer}.key", "-set_serial", secrets.randbits(62) + 1,
               "-out", cert, "-days", days, f"-{md}", "-extfile", ext]
        if shift:
            cmd = ["faketime", "-f", shift] + cmd
        run(cmd)
        return cert

    def self_signed(self, name, *, sans=("DNS:a.test",), md="sha256", key_kind="ec", days=60):
        key = self.key(name, key_kind)
        cert = self.dir / f"{name}.crt"
        cmd = ["openssl", "req", "-x509", "-new", "-key", key, "-out", cert, "-days", days,
               "-subj", f"/CN={name}", f"-{md}", "-addext", "basicConstraints=critical,CA:FALSE",
               "-addext", "extendedKeyUsage=serverAuth"]
        if sans:
            cmd += ["-addext", "subjectAltName=" + ",".join(sans)]
        run(cmd)
        return cert

    def chain(self, name, *parts):
        """Concatenates the PEM certificates `parts` (names) into <name>.pem."""
        out = self.dir / f"{name}.pem"
        out.write_text("".join((self.dir / f"{p}.crt").read_text() for p in parts))
        return out

    def der(self, name):
        out = self.dir / f"{name}.der"
        run(["openssl", "x509", "-in", self.dir / f"{name}.crt", "-outform", "der", "-out", out])
        return out

    def der_key(self, name):
        out = self.dir / f"{name}.key.der"
        run(["openssl", "pkey", "-in", self.dir / f"{name}.key", "-outform", "der", "-out", out])
        return out

    def pkcs12(self, name):
        out = self.dir / f"{name}.p12"
        run(["openssl", "pkcs12", "-export", "-in", self.dir / f"{name}.crt", "-inkey",
             self.dir / f"{name}.key", "-out", out, "-passout", "pass:test-passphrase"])
        return out

    def encrypted_key(self, name):
        out = self.dir / f"{name}.enc.key"
        run(["openssl", "pkey", "-in", self.dir / f"{name}.key", "-aes256", "-passout",
             "pass:test-passphrase", "-out", out])
        return out


class Material:
    """The certificates most tests need, made once per test session under a directory whose
    name (SECRET_MARK) must never appear in scoregate's output. Leaves are issued by an
    intermediate CA under a private root; `root` is what clients and --ca-file trust."""

    NAMES = ("DNS:a.test", "DNS:localhost", "IP:127.0.0.1")

    def __init__(self, base: Path):
        self.dir = Path(base) / SECRET_MARK
        p = self.pki = Pki(self.dir)
        self.root = p.root("root")
        p.issue("inter", "root", cn="scoregate test intermediate CA", ca=True, days=1000)
        p.issue("good", "inter", sans=self.NAMES)
        p.issue("good2", "inter", sans=self.NAMES)
        self.good = p.chain("good-chain", "good", "inter")
        self.good_key = p.path("good.key")
        self.good2 = p.chain("good2-chain", "good2", "inter")
        self.good2_key = p.path("good2.key")
        self.good_full = p.chain("good-full", "good", "inter", "root")
        self.leaf_only = p.chain("leaf-only", "good")
        self.out_of_order = p.chain("out-of-order", "inter", "good")
        p.issue("expired", "inter", sans=self.NAMES, days=30, shift="-400d")
        self.expired = p.chain("expired-chain", "expired", "inter")
        self.expired_key = p.path("expired.key")
        p.issue("wild", "inter", sans=("DNS:*.example.com",))
        self.wild = p.chain("wild-chain", "wild", "inter")
        self.wild_key = p.path("wild.key")
        p.issue("sha1", "inter", sans=self.NAMES, md="sha1")
        self.sha1 = p.chain("sha1-chain", "sha1", "inter")
        self.sha1_key = p.path("sha1.key")
        p.issue("rsa1024", "inter", sans=self.NAMES, key_kind="rsa1024")
        self.rsa1024 = p.chain("rsa1024-chain", "rsa1024", "inter")
        self.rsa1024_key = p.path("rsa1024.key")
        p.issue("client", "inter", sans=self.NAMES, eku="clientAuth")
        self.client_only = p.chain("client-chain", "client", "inter")
        self.client_only_key = p.path("client.key")
        self.other_key = p.key("other")
        self.der = p.der("good")
        self.p12 = p.pkcs12("good")
        self.encrypted_key = p.encrypted_key("good")
        self.garbage = self.dir / "garbage.pem"
        self.garbage.write_bytes(b"this is not a certificate\n\x00\x01\x02")


_material = None


def material(tmp_path_factory):
    global _material
    if _material is None:
        _material = Material(tmp_path_factory.mktemp("certs"))
    return _material
