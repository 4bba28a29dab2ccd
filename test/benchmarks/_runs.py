"""Running the transfer benchmark worker and summarising its runs (shared by the benches)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

WORKER = Path(__file__).with_name("_transfer_worker.py")
MiB = 1024 * 1024
GiB = 1024 * MiB
REPEATS = int(os.environ.get("LILT_BENCH_REPEATS", "3"))


def run_worker(
    kind: str, *, between: Optional[Callable[[], None]] = None, **options: Any
) -> dict[str, float]:
    """One measurement in a fresh process, so memory and CPU are the worker's own.

    ``between`` is called after the worker's warm-up and before its measured
    run starts (e.g. to read counters that must not include the warm-up).
    ``pythonpath`` runs the worker on another copy of the package.
    """
    env = None
    pythonpath = options.pop("pythonpath", None)
    if pythonpath:  # another copy of lilt (a before/after comparison in one run)
        env = dict(os.environ, PYTHONPATH=pythonpath)
    argv = [sys.executable, str(WORKER), kind, json.dumps({**options, "pause": bool(between)})]
    if between is None:
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=900, env=env)
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "warmed":
            proc.kill()
            raise RuntimeError(f"worker {kind} failed in its warm-up: {line!r}")
        between()
        stdout, _ = proc.communicate("go\n", timeout=900)
    if proc.returncode:
        raise RuntimeError(f"worker {kind} failed with exit status {proc.returncode}")
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of every figure over ``runs``."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}
