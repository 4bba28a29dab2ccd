"""Shared benchmark helpers: the machine description and a JSON results writer.

Benchmarks are run on demand (the default pytest run ignores this folder)::

    .venv/bin/python -m pytest test/benchmarks/<file>.py -s

Each benchmark prints ratios measured in the same run and writes its figures,
with the machine description below, to ``$LILT_BENCH_DIR`` (default
``/tmp/lilt-bench``) as ``<name>.json``. No benchmark asserts on time.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pytest

RESULTS_DIR = Path(os.environ.get("LILT_BENCH_DIR", "/tmp/lilt-bench"))
_PACKAGES = ("urllib3", "pydantic", "pydantic-core", "python-dateutil", "typing-extensions")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return 0.0


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def machine() -> dict[str, Any]:
    """Date, machine and versions, as every benchmark records them."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        **{name: _version(name) for name in _PACKAGES},
    }


@pytest.fixture(scope="session")
def bench_machine() -> dict[str, Any]:
    info = machine()
    print(
        f"\n[bench] {info['date']}  nproc={info['nproc']}  cpu={info['cpu']}  "
        f"ram={info['ram_gib']} GiB  python={info['python']}  urllib3={info['urllib3']}  "
        f"pydantic={info['pydantic']} (core {info['pydantic-core']})"
    )
    return info


@pytest.fixture(scope="session")
def bench_record(bench_machine: dict[str, Any]) -> Callable[[str, Any], Path]:
    """``record(name, figures)`` writes ``{machine, figures}`` to ``RESULTS_DIR/name.json``."""

    def record(name: str, figures: Any) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{name}.json"
        path.write_text(json.dumps({"machine": bench_machine, "figures": figures}, indent=2))
        print(f"[bench] figures written to {path}")
        return path

    return record
