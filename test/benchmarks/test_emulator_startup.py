"""Start-up and shutdown times of the emulator's storage server and of the emulator itself.

Four figures, medians over ``LILT_BENCH_ROUNDS`` (default 5) rounds:

``storage start``      ``SeaweedFS().start()``: until its S3 port answers (supervisor
                       and ``weed mini`` processes, identities file, port choice)
``storage stop``       ``SeaweedFS.stop()``: SIGTERM, exit, directory and sockets removed
``emulator start``     ``Emulator(shared_storage).start()``: bucket, botocore clients,
                       HTTP server (what the ``lilt_emulator`` fixture costs per test)
``emulator stop``      ``Emulator.stop()``: server down, bucket emptied and deleted

plus ``first emulator start`` in a fresh interpreter (imports werkzeug and botocore and
loads botocore's data files once) and ``standalone`` (``with Emulator():`` starting its
own storage, start to stop). Nothing is asserted on time.

Run::

    .venv/bin/python -m pytest test/benchmarks/test_emulator_startup.py -s
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

from lilt.testing import Emulator, SeaweedFS

ROUNDS = int(os.environ.get("LILT_BENCH_ROUNDS", "5"))

_FIRST_START = """
import time
started = time.perf_counter()
from lilt.testing import Emulator, S3Endpoint
import sys
emu = Emulator(S3Endpoint(sys.argv[1], sys.argv[2], sys.argv[3])).start()
print(time.perf_counter() - started)
emu.stop()
"""


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def test_emulator_startup(bench_record: Callable[[str, Any], Any]) -> None:
    starts, stops = [], []
    for _ in range(ROUNDS):
        server = SeaweedFS()
        starts.append(_timed(server.start))
        stops.append(_timed(server.stop))

    with SeaweedFS() as server:
        endpoint = server.endpoint
        first = []
        for _ in range(ROUNDS):
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _FIRST_START,
                    endpoint.url,
                    endpoint.access_key,
                    endpoint.secret_key,
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            first.append(float(out.stdout.strip()))
        Emulator(endpoint).start().stop()  # warm: botocore's data files are loaded once
        emulator_starts, emulator_stops = [], []
        for _ in range(ROUNDS * 4):
            emulator = Emulator(endpoint)
            emulator_starts.append(_timed(emulator.start))
            emulator_stops.append(_timed(emulator.stop))

    standalone = []
    for _ in range(max(1, ROUNDS // 2)):
        standalone.append(_timed(lambda: Emulator().start().stop()))

    figures = {
        "rounds": ROUNDS,
        "storage_start_ms": _median_ms(starts),
        "storage_stop_ms": _median_ms(stops),
        "storage_start_range_ms": [_median_ms([min(starts)]), _median_ms([max(starts)])],
        "storage_stop_range_ms": [_median_ms([min(stops)]), _median_ms([max(stops)])],
        "first_emulator_start_fresh_process_ms": _median_ms(first),
        "emulator_start_ms": _median_ms(emulator_starts),
        "emulator_stop_ms": _median_ms(emulator_stops),
        "standalone_start_to_stop_ms": _median_ms(standalone),
    }
    figures["emulator_start_over_storage_start"] = round(
        figures["emulator_start_ms"] / figures["storage_start_ms"], 3
    )
    print(
        f"\n[bench] storage start {figures['storage_start_ms']} ms "
        f"(range {figures['storage_start_range_ms']}), stop {figures['storage_stop_ms']} ms "
        f"(range {figures['storage_stop_range_ms']})"
        f"\n[bench] emulator on shared storage: start {figures['emulator_start_ms']} ms, "
        f"stop {figures['emulator_stop_ms']} ms "
        f"({figures['emulator_start_over_storage_start']}x a storage start); first start in a "
        f"fresh process {figures['first_emulator_start_fresh_process_ms']} ms"
        f"\n[bench] Emulator() with its own storage, start to stop: "
        f"{figures['standalone_start_to_stop_ms']} ms"
    )
    bench_record("emulator_startup", figures)
