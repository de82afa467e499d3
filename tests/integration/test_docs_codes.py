"""The problem codes users read about (docs/*-codes.md) are exactly the ones the code emits,
with the same severity: every emitted code documented, no documented code that never occurs."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*-codes.md"))

# UPPER_SNAKE string literals in src/ that are not problem codes.
NOT_CODES = {"SO_REUSEPORT", "SSL_CERT_FILE", "SSL_CERT_DIR",  # an option and environment variables
             "MIMALLOC_DECOMMIT_DELAY"}  # README "Memory allocator"

# A code is a string literal that starts with an UPPER_SNAKE word and is either the whole
# literal ("CERT_EXPIRED") or followed by its severity ("LISTEN_FAILED error: ...").
LITERAL = re.compile(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:"| (error|warning):)')
# Severity is known where the code is the first argument of Problems::error / ::warning.
CALL = re.compile(r'\b(error|warning)\(\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"')
DOC_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*(error|warning)\s*\|", re.M)


def emitted():
    codes, severities = set(), {}
    for f in sorted((ROOT / "src").rglob("*.[ch]pp")):
        text = f.read_text()
        for m in LITERAL.finditer(text):
            if m.group(1) in NOT_CODES:
                continue
            codes.add(m.group(1))
            if m.group(2):
                severities.setdefault(m.group(1), set()).add(m.group(2))
        for m in CALL.finditer(text):
            severities.setdefault(m.group(2), set()).add(m.group(1))
    return codes, severities


def documented():
    docs = {}
    for f in DOCS:
        for m in DOC_ROW.finditer(f.read_text()):
            docs.setdefault(m.group(1), set()).add((m.group(2), f.name))
    return docs


def test_docs_exist():
    assert {"certificate-codes.md", "settings-codes.md"} <= {d.name for d in DOCS}


def test_every_emitted_code_is_documented():
    codes, _ = emitted()
    missing = sorted(codes - set(documented()))
    assert not missing, f"emitted but not in docs/*-codes.md: {missing}"


def test_every_documented_code_is_emitted():
    codes, _ = emitted()
    stale = sorted(set(documented()) - codes)
    assert not stale, f"documented but never emitted by src/: {stale}"


def test_documented_severity_matches_the_code():
    _, severities = emitted()
    wrong = []
    for code, rows in documented().items():
        doc_sev = {sev for sev, _ in rows}
        if len(doc_sev) != 1:
            wrong.append(f"{code}: documented as {sorted(rows)}")
        elif code in severities and severities[code] != doc_sev:
            wrong.append(f"{code}: docs say {doc_sev.pop()}, src emits {sorted(severities[code])}")
    assert not wrong, "\n".join(wrong)


def test_the_scanner_sees_the_codes_it_should():
    # guards the regular expressions above against silently matching nothing
    codes, severities = emitted()
    for code in ("CERT_EXPIRED", "SETTING_PROTECTED", "TLS_NO_SOURCE", "KEY_FILE_UNREADABLE"):
        assert code in codes
    assert severities["CERT_EXPIRES_SOON"] == {"warning"}
    assert severities["KEY_MISMATCH"] == {"error"}
    assert len(documented()) > 50
