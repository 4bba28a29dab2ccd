"""Benchmarks on a loopback MD5 sink: the uploader's own overhead, and its memory bound.

    .venv/bin/python -m pytest test/benchmarks/test_transfer_sink.py -s

1. Throughput and client CPU of ``lilt.Uploader`` against a bare presigned
   uploader (pread + MD5 + urllib3 PUT on a thread pool), same parts,
   concurrency and checksum setting, both fed URLs in-process. Goal: >= 80 %.
2. Peak RSS of a 1 GiB and a 4 GiB upload (sparse files, so no disk is
   needed). Goal: within 10 % of each other.

Each run is a fresh process (``_transfer_worker.py``); runs alternate between
the contenders and the median of each is reported, with the ratios.
``LILT_BENCH_REPEATS`` (default 3) sets the runs per contender; on a noisy
2-core machine use 5 or more before trusting a ratio near its goal.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import pytest
from benchmarks._md5_sink import SinkProcess  # type: ignore[import-not-found]
from benchmarks._runs import REPEATS, GiB, MiB, medians, run_worker  # type: ignore[import-not-found]


def header(title: str) -> None:
    print(
        f"\n== {title} ==  ({platform.node()}, {os.cpu_count()} cpus, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')})"
    )


@pytest.fixture(scope="module")
def sink() -> Any:
    with SinkProcess() as running:
        yield running


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "data-512MiB.bin"
    with open(path, "wb") as handle:
        for _ in range(512):
            handle.write(os.urandom(MiB))
    return path


@pytest.mark.parametrize("checksum", [True, False], ids=["md5", "no-md5"])
def test_uploader_vs_bare_urllib3(sink: Any, data_file: Path, checksum: bool) -> None:
    options = {
        "path": str(data_file),
        "sink": sink.url,
        "part_size": 8 * MiB,
        "concurrency": 8,
        "checksum": checksum,
    }
    runs: dict[str, list[dict[str, float]]] = {"lilt-sink": [], "bare-sink": []}
    run_worker("bare-sink", **options)  # warm the page cache and the sink
    for _ in range(REPEATS):
        for kind in runs:
            runs[kind].append(run_worker(kind, **options))
    lilt, bare = medians(runs["lilt-sink"]), medians(runs["bare-sink"])
    size = data_file.stat().st_size / GiB
    header(f"loopback MD5 sink, 512 MiB, 8 MiB parts, concurrency 8, checksum {checksum}")
    for name, m in (("lilt.Uploader", lilt), ("bare urllib3", bare)):
        print(
            f"  {name:<14} {size * 1024 / m['seconds']:7.1f} MiB/s   "
            f"{m['cpu'] / size:5.2f} CPU-s/GiB   peak RSS {m['maxrss_mib']:.0f} MiB"
        )
    ratio = bare["seconds"] / lilt["seconds"]
    print(
        f"  throughput lilt/bare = {ratio:.2f} (goal >= 0.80); "
        f"CPU lilt/bare = {lilt['cpu'] / bare['cpu']:.2f}"
    )


def test_peak_rss_1gib_vs_4gib(sink: Any, tmp_path: Path) -> None:
    results = {}
    for size in (1, 4):
        path = tmp_path / f"sparse-{size}GiB.bin"
        with open(path, "wb") as handle:
            handle.truncate(size * GiB)  # zeros cost the same to hash and send
        results[size] = run_worker(
            "lilt-sink",
            path=str(path),
            sink=sink.url,
            part_size=8 * MiB,
            concurrency=8,
            checksum=True,
        )
        path.unlink()
    header("peak RSS, lilt.Uploader to the MD5 sink, 8 MiB parts, concurrency 8")
    for size, m in results.items():
        print(
            f"  {size} GiB: peak RSS {m['maxrss_mib']:.1f} MiB, "
            f"{size * 1024 / m['seconds']:.0f} MiB/s"
        )
    ratio = results[4]["maxrss_mib"] / results[1]["maxrss_mib"]
    print(f"  RSS 4 GiB / 1 GiB = {ratio:.3f} (goal within 10 %: 0.90-1.10)")
