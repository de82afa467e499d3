"""Certificates for renewal tests, made with the openssl CLI (nothing committed)."""
import os
import subprocess
from pathlib import Path


def sh(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)


def leaf(pki: Path, name: str, *, days=60, cn="localhost", ca="ca", passphrase=None, expired=False):
    """A leaf signed by pki/ca.pem for localhost/127.0.0.1: returns (fullchain path, key path)."""
    key, csr, crt = pki / f"{name}.key", pki / f"{name}.csr", pki / f"{name}.crt"
    sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
    ext = pki / f"{name}.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    if expired:
        # openssl ca can back-date; x509 -req cannot, so a throwaway mini-CA config is used
        cfg = pki / f"{name}.cnf"
        db = pki / f"{name}.db"
        db.write_text("")
        cfg.write_text(f"""[ca]\ndefault_ca=d\n[d]\ndatabase={db}\nnew_certs_dir={pki}\nserial={pki}/{name}.srl\n
default_md=sha256\npolicy=p\ncopy_extensions=copy\nunique_subject=no\n[p]\ncommonName=supplied\n""")
        (pki / f"{name}.srl").write_text("1000\n")
        sh("openssl", "ca", "-batch", "-config", cfg, "-cert", pki / f"{ca}.pem", "-keyfile", pki / f"{ca}.key",
           "-in", csr, "-out", crt, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
           "-extfile", ext, "-notext")
    else:
        sh("openssl", "x509", "-req", "-in", csr, "-CA", pki / f"{ca}.pem", "-CAkey", pki / f"{ca}.key",
           "-CAcreateserial", "-out", crt, "-days", str(days), "-sha256", "-extfile", ext)
    if passphrase:
        enc = pki / f"{name}.enc.key"
        sh("openssl", "pkey", "-in", key, "-out", enc, "-aes256", "-passout", f"pass:{passphrase}")
        key = enc
    chain = pki / f"{name}.fullchain.pem"
    chain.write_bytes(crt.read_bytes() + (pki / f"{ca}.pem").read_bytes())
    return chain, key


def fingerprint_of(pem_path: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(pem_path), "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1]


def served_fingerprint(port: int, host: str = "localhost") -> str:
    """The SHA-256 fingerprint (openssl's AA:BB:... form) of the certificate a fresh TLS
    connection to 127.0.0.1:port with server name `host` gets."""
    import hashlib
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            der = t.getpeercert(binary_form=True)
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def wait_for_fingerprint(port, fp, timeout=5.0):
    """Waits until `fp` is served; returns how long that took."""
    import time
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if served_fingerprint(port) == fp:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise AssertionError(f"fingerprint {fp} not served after {timeout}s")


def replace_atomically(src: Path, dst: Path):
    tmp = dst.with_name("." + dst.name + ".tmp")
    tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)


class KubeletSecretDir:
    """A Secret volume as the kubelet lays it out: cert.pem -> ..data/cert.pem, ..data -> ..<ts>/,
    updated by writing a new timestamped directory and renaming a symlink over ..data."""

    def __init__(self, root: Path, name: str):
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.generation = 0

    def publish(self, cert: Path, key: Path):
        self.generation += 1
        ts = self.dir / f"..2026_11_28_00_00_00.{self.generation:06d}"
        ts.mkdir()
        (ts / "cert.pem").write_bytes(cert.read_bytes())
        (ts / "key.pem").write_bytes(key.read_bytes())
        tmp = self.dir / "..data_tmp"
        os.symlink(ts.name, tmp)
        os.replace(tmp, self.dir / "..data")
        for f in ("cert.pem", "key.pem"):
            if not (self.dir / f).is_symlink():
                os.symlink(f"..data/{f}", self.dir / f)
