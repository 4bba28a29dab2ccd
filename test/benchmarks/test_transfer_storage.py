"""Benchmarks through the emulator on SeaweedFS: end to end, server-bound.

    .venv/bin/python -m pytest test/benchmarks/test_transfer_storage.py -s

1. ``lilt.Uploader`` (checksums on and off) against boto3's ``upload_file``
   straight to the same SeaweedFS, same part size (8 MiB) and concurrency (8):
   throughput (goal >= 1.0x boto3) and client CPU per GiB (goal <= 1.0x with
   MD5, <= 0.4x without). boto3 signs locally and, by default, checksums
   every byte (CRC32); the uploader asks the API to sign each part.
2. 1,000 files of 16 KiB: ``upload_files`` against a sequential loop of
   initiate + PUT per file (goal >= 5x).

Every run is a fresh process (``_transfer_worker.py``), runs alternate, the
median is reported (``LILT_BENCH_REPEATS`` runs each, default 3; use 5 or more
on a noisy machine before trusting a ratio near its goal). The storage server shares the machine's cores with the
client, so absolute figures are this machine's; the ratios are the point.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks._runs import REPEATS, GiB, MiB, medians, run_worker  # type: ignore[import-not-found]

from lilt.testing import Emulator


def header(title: str) -> None:
    import boto3

    import lilt

    print(
        f"\n== {title} ==\n   ({platform.node()}, {os.cpu_count()} cpus, Python "
        f"{platform.python_version()}, lilt {lilt.__version__}, boto3 {boto3.__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')})"
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


def test_uploader_vs_boto3(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "data-512MiB.bin"
    with open(path, "wb") as handle:
        for _ in range(512):
            handle.write(os.urandom(MiB))
    storage = emulator.storage
    common = {"path": str(path), "paths": [str(path)], "part_size": 8 * MiB, "concurrency": 8}
    kinds: dict[str, tuple[str, dict[str, Any]]] = {
        "lilt, MD5": (
            "lilt-api",
            {"host": emulator.base_url, "key": emulator.api_key, "checksum": True},
        ),
        "lilt, no MD5": (
            "lilt-api",
            {"host": emulator.base_url, "key": emulator.api_key, "checksum": False},
        ),
        "boto3 upload_file": (
            "boto3",
            {
                "endpoint": storage.url,
                "access_key": storage.access_key,
                "secret_key": storage.secret_key,
                "region": storage.region,
                "bucket": emulator.bucket,
                "object_key": "bench/boto3.bin",
            },
        ),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in kinds}
    run_worker("boto3", **common, **kinds["boto3 upload_file"][1])  # warm up server and cache
    for _ in range(REPEATS):
        for name, (kind, options) in kinds.items():
            runs[name].append(run_worker(kind, **common, **options))
    size = path.stat().st_size / GiB
    header("512 MiB to SeaweedFS through the emulator, 8 MiB parts, concurrency 8")
    for name in kinds:
        seconds, cpu = medians(runs[name])["seconds"], medians(runs[name])["cpu"]
        print(
            f"  {name:<18} {size * 1024 / seconds:7.1f} MiB/s   {cpu / size:5.2f} CPU-s/GiB"
            f"   peak RSS {medians(runs[name])['maxrss_mib']:.0f} MiB"
        )
    boto = medians(runs["boto3 upload_file"])
    boto_s, boto_cpu = boto["seconds"], boto["cpu"]
    for name in ("lilt, MD5", "lilt, no MD5"):
        print(
            f"  {name}: throughput {boto_s / medians(runs[name])['seconds']:.2f}x boto3, "
            f"client CPU/GiB {medians(runs[name])['cpu'] / boto_cpu:.2f}x boto3"
        )
    print("  goals: throughput >= 1.0x; CPU <= 1.0x with MD5, <= 0.4x without")


def test_many_small_files_vs_sequential_loop(emulator: Emulator, tmp_path: Path) -> None:
    paths = []
    for n in range(1000):
        path = tmp_path / f"small-{n:04d}.bin"
        path.write_bytes(os.urandom(16 * 1024))
        paths.append(str(path))
    options = {
        "host": emulator.base_url,
        "key": emulator.api_key,
        "paths": paths,
        "part_size": 8 * MiB,
        "concurrency": 8,
        "checksum": True,
    }
    runs: dict[str, list[dict[str, float]]] = {"lilt-api": [], "sequential": []}
    for _ in range(REPEATS):
        for kind in runs:
            runs[kind].append(run_worker(kind, **options))
    lilt_s, seq_s = medians(runs["lilt-api"])["seconds"], medians(runs["sequential"])["seconds"]
    header("1,000 files of 16 KiB through the emulator")
    print(f"  lilt upload_files        {lilt_s:6.2f} s  ({1000 / lilt_s:6.0f} files/s)")
    print(f"  sequential initiate+PUT  {seq_s:6.2f} s  ({1000 / seq_s:6.0f} files/s)")
    print(f"  speed-up {seq_s / lilt_s:.1f}x (goal >= 5x)")
