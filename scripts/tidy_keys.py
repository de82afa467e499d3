#!/usr/bin/python3
"""Cache keys for scripts/lint.sh: one line "<file> <key>" per source file given.

The key is a hash of what clang-tidy's verdict on the file depends on: the clang-tidy version,
.clang-tidy, the file's compiler flags (with the checkout's path taken out), and the file as the
preprocessor sees it (clang++-14 -E -P with the file's flags
from compile_commands.json), so a change in any header it includes changes the key too. A file
whose key has passed before need not be checked again (the idea of ccache, applied to
clang-tidy). Preprocessing runs JOBS at a time; it costs about a tenth of the check.
Usage: tidy_keys.py BUILD_DIR SALT FILE...
"""
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys


def preprocess_command(entry):
    args = shlex.split(entry["command"])
    out, skip = ["clang++-14"], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif a not in ("-c", entry["file"]):
            out.append(a)
    return out + ["-E", "-P", "-Wno-unknown-warning-option", entry["file"]]


def key(entry, salt, root):
    command = preprocess_command(entry)
    p = subprocess.run(command, cwd=entry["directory"], capture_output=True)
    if p.returncode != 0:
        return None  # no key: the file is checked (and clang-tidy says what is wrong)
    # The flags count too (a warning flag changes clang's diagnostics without changing the
    # preprocessed text); the checkout's own path does not, so another clone shares the cache.
    flags = "\0".join(a.replace(root, "<root>") for a in command).encode()
    return hashlib.sha256(salt.encode() + b"\0" + flags + b"\0" + p.stdout).hexdigest()


def main():
    build, salt, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = {os.path.realpath(e["file"]): e for e in json.load(f)}
    jobs = int(os.environ.get("JOBS", os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        found = [entries.get(os.path.realpath(f)) for f in files]
        root = os.path.realpath(os.getcwd())  # lint.sh runs from the repository's root
        keys = pool.map(lambda e: key(e, salt, root) if e else None, found)
        for f, k in zip(files, keys):
            print(f, k or "none")


if __name__ == "__main__":
    main()
