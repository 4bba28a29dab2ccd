"""Running the transfer benchmark worker and summarising its runs (shared by the benches)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("_transfer_worker.py")
MiB = 1024 * 1024
GiB = 1024 * MiB
REPEATS = int(os.environ.get("LILT_BENCH_REPEATS", "3"))


def run_worker(kind: str, **options: Any) -> dict[str, float]:
    """One measurement in a fresh process, so memory and CPU are the worker's own."""
    out = subprocess.run([sys.executable, str(WORKER), kind, json.dumps(options)],
                         check=True, capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of every figure over ``runs``."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}
