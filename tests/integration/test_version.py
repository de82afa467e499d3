"""`scoregate version`: release, git revision, OpenSSL at run time and at build time, I/O backend, memory allocator,
build type."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT


def linked_libraries():
    return subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout


def test_version_reports_release_revision_openssl_and_build_type():
    out = subprocess.run([BIN, "version"], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines()[1:])
    release = re.search(r"project\(scoregate VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert out.splitlines()[0] == f"scoregate {release}"
    # the commit at the last configure (the tree may have moved on since): one of this repository's
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", fields["revision"]), fields
    if fields["revision"] != "unknown":
        commit = fields["revision"].removesuffix("-dirty")
        assert subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"]).returncode == 0
    linked = linked_libraries()
    if "BoringSSL" in fields["openssl built with"]:
        # the BoringSSL build (README "TLS library"): Debian's android-libboringssl, and only it
        assert fields["openssl"] == "BoringSSL"
        assert re.search(r"libssl\.so\.0 => /usr/lib/[^/]+/android/libssl\.so\.0", linked), linked
        assert "libssl.so.3" not in linked, linked
    else:
        # the library this process loaded is the one the openssl CLI reports as its library
        library = re.search(r"\(Library: (.*)\)", subprocess.run(["openssl", "version"], capture_output=True,
                                                                  text=True).stdout).group(1)
        assert fields["openssl"] == library
        assert fields["openssl built with"].startswith("OpenSSL 3.")
        assert "libssl.so.3" in linked, linked
    # the I/O backend (README "I/O backend"): io_uring exactly when the binary links liburing
    if "liburing.so" in linked:
        assert fields["i/o backend"] == "io_uring"
    else:
        assert fields["i/o backend"] == "epoll"
    # the memory allocator (README "Memory allocator"): mimalloc exactly when the binary links it, and then it is
    # the one malloc() reaches
    if "libmimalloc.so" in linked:
        assert re.fullmatch(r"mimalloc 2\.\d+\.\d+", fields["allocator"]), fields
    else:
        assert fields["allocator"] == "system malloc", fields
    assert fields["build type"] in ("RelWithDebInfo", "Release", "Debug", "MinSizeRel")


def test_version_says_when_a_preloaded_malloc_takes_the_place_of_mimalloc():
    linked = linked_libraries()
    if "libmimalloc.so" not in linked:
        pytest.skip("this build uses the system allocator (sanitizer builds, -DSCOREGATE_ALLOCATOR=system)")
    # jemalloc (Debian libjemalloc2, scripts/deps.sh test) defines malloc() before mimalloc does
    jemalloc = next(Path("/usr/lib").glob("*/libjemalloc.so.2"))
    out = subprocess.run([BIN, "version"], capture_output=True, text=True, check=True,
                         env={**os.environ, "LD_PRELOAD": str(jemalloc)}).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines()[1:])
    assert re.fullmatch(r"mimalloc 2\.\d+\.\d+ linked, but malloc\(\) is another library's \(LD_PRELOAD\?\)",
                        fields["allocator"]), fields
