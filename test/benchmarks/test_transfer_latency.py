"""Uploads over a link with latency: lilt against the generated-client loop and s3transfer.

    .venv/bin/python -m pytest test/benchmarks/test_transfer_latency.py -s

The emulator's API and the storage server (SeaweedFS) are each reached
through a forwarder that delays every segment by half the round trip, each
way (``_latency.py``; the emulator signs its URLs for the storage forwarder's
address). The emulator talks to storage directly, as LILT's servers talk to
S3 inside one data centre. Round trips: ``LILT_BENCH_RTTS`` ms (default
``0,10,40``; 0 means straight to the servers, no forwarder).

1. The link itself: the round trip a request pays through it, measured
   against the same request sent straight to the server.
2. 1,000 files of 16 KiB:

   * ``lilt``: ``Uploader.upload_files`` with the default ``TransferConfig``
     (``LILT_BENCH_LILT_CONCURRENCY=16,64`` adds arms with that concurrency);
   * ``loop``: what a generated-client user writes, file after file:
     ``UploadsApi.initiate_s3_upload``, then a urllib3 PUT. Over a link it
     runs ``LILT_BENCH_SEQ_FILES`` files (default 200) and its time is scaled
     to 1,000 (the loop does the same thing for every file);
   * ``s3transfer cN``: boto3's ``TransferManager`` with N request threads
     uploading the same files straight to the same storage through the same
     delay (``LILT_BENCH_S3T_CONCURRENCY``, default ``10,32,64,128``); the best
     is the reference.

3. One 1 GiB file: lilt (defaults: 8 MiB parts, concurrency 8, MD5) against
   boto3's ``upload_file`` with the same part size and concurrency.
4. The part pipeline: one 256 MiB file at concurrency 1, 2 and 8, wall time
   and the PUT-slot time left idle while parts remained (a slot waiting for a
   signature, or for the next part to be hashed), for each copy of the
   package in ``LILT_BENCH_COPIES`` (a before/after comparison).

Each figure is the median of ``LILT_BENCH_REPEATS`` fresh processes (default
3), the contenders taking turns. Reported per arm: wall time, client CPU,
requests and round trips counted by the forwarder (API and storage),
connections opened, the CPU the servers used, and for small files the ideal
lower bound: round trips needed / concurrency x the measured round trip.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from benchmarks._latency import (  # type: ignore[import-not-found]
    LatencyLink,
    difference,
    measure_rtt,
)
from benchmarks._runs import REPEATS, GiB, MiB, run_worker  # type: ignore[import-not-found]

from lilt.testing import Emulator
from lilt.testing.storage import SeaweedFS

RTTS = [float(x) for x in os.environ.get("LILT_BENCH_RTTS", "0,10,40").split(",")]
S3T_CONCURRENCY = [
    int(x) for x in os.environ.get("LILT_BENCH_S3T_CONCURRENCY", "10,32,64,128").split(",")
]
LILT_CONCURRENCY = [
    int(x) for x in os.environ.get("LILT_BENCH_LILT_CONCURRENCY", "").split(",") if x
]
# name=path,...: lilt arms running another copy of the package (before/after a change)
LILT_COPIES = dict(
    item.split("=", 1) for item in os.environ.get("LILT_BENCH_COPIES", "").split(",") if item
)
SEQ_FILES = int(os.environ.get("LILT_BENCH_SEQ_FILES", "200"))
SMALL_FILES = 1000
SMALL_SIZE = 16 * 1024
BIG_SIZE = int(os.environ.get("LILT_BENCH_BIG_MIB", "1024")) * MiB
BATCH = 100  # files per bulk initiate


def _header(title: str) -> None:
    import boto3

    import lilt

    print(
        f"\n== {title} ==\n   ({platform.node()}, {os.cpu_count()} cpus, Python "
        f"{platform.python_version()}, lilt {lilt.__version__}, boto3 {boto3.__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')})"
    )


def _cpu_of(pid: Optional[int]) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Rig:
    storage: SeaweedFS
    emulator: Emulator


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with SeaweedFS() as storage, Emulator(storage.endpoint) as emulator:
        yield Rig(storage, emulator)


@dataclass
class Route:
    """Where the contenders send their requests for one round-trip setting."""

    rtt_ms: float  # nominal
    api: str
    storage: str
    link: Optional[LatencyLink]
    measured_rtt_ms: float = 0.0


@contextlib.contextmanager
def route(rig: Rig, rtt_ms: float) -> Iterator[Route]:
    emulator = rig.emulator
    if not rtt_ms:
        yield Route(0.0, emulator.base_url, emulator.storage.url, None)
        return
    api_port = int(emulator.base_url.rsplit(":", 1)[1])
    storage_port = int(emulator.storage.url.rsplit(":", 1)[1])
    with LatencyLink(rtt_ms, [("127.0.0.1", api_port), ("127.0.0.1", storage_port)]) as link:
        emulator.presign_endpoint = link.urls[1]
        try:
            yield Route(rtt_ms, link.urls[0], link.urls[1], link)
        finally:
            emulator.presign_endpoint = None


def _measured(rig: Rig, where: Route, kind: str, **options: Any) -> dict[str, Any]:
    """One worker run, with what the link counted and what the servers and the forwarder
    spent during its measured part (not its warm-up)."""
    link = where.link
    start: dict[str, Any] = {}

    def servers() -> float:
        return _own_cpu() + _cpu_of(rig.storage.pid)

    def mark() -> None:
        start["servers"] = servers()
        start["link_cpu"] = _cpu_of(link.pid) if link else 0.0
        start["stats"] = link.stats() if link else None

    result: dict[str, Any] = dict(run_worker(kind, between=mark, **options))
    result["server_cpu"] = servers() - start["servers"]
    if link is not None:
        result["link_cpu"] = _cpu_of(link.pid) - start["link_cpu"]
        api, storage = (difference(a, b) for a, b in zip(link.stats(), start["stats"]))
        result.update(
            api_requests=api.requests,
            api_round_trips=api.round_trips,
            storage_requests=storage.requests,
            storage_round_trips=storage.round_trips,
            connections=api.connections + storage.connections,
        )
    return result


def _paired(theirs: list[dict[str, Any]], ours: list[dict[str, Any]], key: str) -> float:
    """The median over rounds of their ``key`` / ours, each pair measured in the same round
    (so a noisy neighbour's load hits both alike)."""
    return statistics.median(t[key] / o[key] for t, o in zip(theirs, ours))


def _median(runs: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else math.nan


# --- 1. the link -------------------------------------------------------------------


@pytest.mark.parametrize("rtt_ms", [r for r in RTTS if r], ids=lambda r: f"rtt{r:g}ms")
def test_link_round_trip(rig: Rig, rtt_ms: float, bench_record: Callable[[str, Any], Any]) -> None:
    with route(rig, rtt_ms) as where:
        check = measure_rtt(rig.emulator.storage.url, where.storage, path="/")
    _header(f"link with {rtt_ms:g} ms round trip")
    print(
        f"  straight to storage {check.direct_ms:6.2f} ms; through the link "
        f"{check.linked_ms:6.2f} ms; added {check.added_ms:6.2f} ms "
        f"(10th-90th percentile {check.spread_ms[0]:.2f}-{check.spread_ms[1]:.2f}); "
        f"new connection to first answer {check.connect_first_ms:6.2f} ms"
    )
    bench_record(f"latency_link_rtt{rtt_ms:g}", asdict(check))


# --- 2. many small files -----------------------------------------------------------


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("small")
    paths = []
    for n in range(SMALL_FILES):
        path = folder / f"small-{n:04d}.bin"
        path.write_bytes(os.urandom(SMALL_SIZE))
        paths.append(str(path))
    return paths


def _rtt_for(rig: Rig, where: Route) -> float:
    if where.link is None:
        return 0.0
    return float(measure_rtt(rig.emulator.storage.url, where.storage, "/", 20).added_ms)


@pytest.mark.parametrize("rtt_ms", RTTS, ids=lambda r: f"rtt{r:g}ms")
def test_small_files(
    rig: Rig, small_files: list[str], rtt_ms: float, bench_record: Callable[[str, Any], Any]
) -> None:
    emulator = rig.emulator
    with route(rig, rtt_ms) as where:
        rtt = _rtt_for(rig, where)
        api = {"host": where.api, "key": emulator.api_key}
        s3 = {
            "endpoint": where.storage,
            "access_key": emulator.storage.access_key,
            "secret_key": emulator.storage.secret_key,
            "region": emulator.storage.region,
            "bucket": emulator.bucket,
        }
        seq_files = SMALL_FILES if not rtt_ms else min(SEQ_FILES, SMALL_FILES)
        arms: dict[str, tuple[str, dict[str, Any], int]] = {  # name: kind, options, concurrency
            "lilt": ("lilt-files", {**api, "paths": small_files}, _default_concurrency()),
        }
        for c in LILT_CONCURRENCY:
            arms[f"lilt c{c}"] = (
                "lilt-files",
                {**api, "paths": small_files, "config": {"small_file_concurrency": c}},
                c,
            )
        for name, path in LILT_COPIES.items():
            arms[f"lilt@{name}"] = (
                "lilt-files",
                {**api, "paths": small_files, "pythonpath": path},
                _default_concurrency(path),
            )
        arms["loop"] = ("sequential", {**api, "paths": small_files[:seq_files]}, 1)
        for c in S3T_CONCURRENCY:
            arms[f"s3transfer c{c}"] = (
                "s3transfer-files",
                {**s3, "paths": small_files, "concurrency": c},
                c,
            )
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in arms}
        for _ in range(REPEATS):
            for name, (kind, options, _c) in arms.items():
                runs[name].append(_measured(rig, where, kind, **options))
        scale = {
            name: SMALL_FILES / len(options["paths"]) for name, (_, options, _c) in arms.items()
        }

    _header(
        f"{SMALL_FILES} files of {SMALL_SIZE // 1024} KiB, round trip {rtt_ms:g} ms "
        f"(measured {rtt:.2f} ms)"
    )
    figures: dict[str, Any] = {
        "rtt_ms": rtt_ms,
        "measured_rtt_ms": rtt,
        "repeats": REPEATS,
        "arms": {},
    }
    print(
        f"  {'arm':<17} {'wall s':>7} {'files/s':>8} {'CPU ms/file':>11} {'server CPU s':>12}"
        f" {'link CPU s':>10}"
        f" {'API req':>7} {'S3 req':>6} {'round trips':>11} {'conns':>5}"
        f" {'ideal s':>7} {'wall/ideal':>10}"
    )
    for name, (_kind, _options, concurrency) in arms.items():
        arm_runs = runs[name]
        k = scale[name]
        wall = _median(arm_runs, "seconds") * k
        cpu = _median(arm_runs, "cpu") * k
        trips = (
            _median(arm_runs, "api_round_trips") + _median(arm_runs, "storage_round_trips")
        ) * k
        needed = _needed_round_trips(name)
        ideal = needed / concurrency * rtt / 1000 if rtt else math.nan
        row = {
            "seconds": wall,
            "client_cpu_s": cpu,
            "cpu_ms_per_file": cpu / SMALL_FILES * 1e3,
            "server_cpu_s": _median(arm_runs, "server_cpu") * k,
            "link_cpu_s": _median(arm_runs, "link_cpu") * k,
            "api_requests": _median(arm_runs, "api_requests") * k,
            "storage_requests": _median(arm_runs, "storage_requests") * k,
            "round_trips": trips,
            "connections": _median(arm_runs, "connections"),
            "concurrency": concurrency,
            "round_trips_needed": needed,
            "ideal_s": ideal,
            "files_measured": round(SMALL_FILES / k),
            "runs": arm_runs,
        }
        figures["arms"][name] = row
        print(
            f"  {name:<17} {wall:7.2f} {SMALL_FILES / wall:8.0f} {row['cpu_ms_per_file']:11.3f}"
            f" {row['server_cpu_s']:12.2f} {row['link_cpu_s']:10.2f} {row['api_requests']:7.0f}"
            f" {row['storage_requests']:6.0f} {trips:11.0f} {row['connections']:5.0f}"
            f" {ideal:7.2f} {wall / ideal:10.2f}"
        )
    lilt = figures["arms"]["lilt"]
    s3t = min(
        (v for n, v in figures["arms"].items() if n.startswith("s3transfer")),
        key=lambda v: v["seconds"],
    )
    best = next(n for n, v in figures["arms"].items() if v is s3t)
    loop = figures["arms"]["loop"]
    figures["summary"] = {
        "lilt_vs_loop": loop["seconds"] / lilt["seconds"],
        "lilt_vs_best_s3transfer": s3t["seconds"] / lilt["seconds"],
        "lilt_vs_best_s3transfer_paired": _paired(s3t["runs"], lilt["runs"], "seconds"),
        "best_s3transfer": best,
        "lilt_wall_over_ideal": lilt["seconds"] / lilt["ideal_s"],
        "lilt_cpu_over_best_s3transfer": lilt["client_cpu_s"] / s3t["client_cpu_s"],
    }
    summary = figures["summary"]
    print(
        f"  lilt: {summary['lilt_vs_loop']:.1f}x the loop (goal at 40 ms: >= 20x); "
        f"{summary['lilt_vs_best_s3transfer']:.2f}x {best} (goal >= 1.0x; paired by round "
        f"{summary['lilt_vs_best_s3transfer_paired']:.2f}x); "
        f"{summary['lilt_wall_over_ideal']:.2f}x its ideal (goal <= 1.5x); client CPU "
        f"{summary['lilt_cpu_over_best_s3transfer']:.2f}x {best}'s (goal <= 1.0x)"
    )
    if seq_files < SMALL_FILES:
        print(f"  (loop measured on {seq_files} files, scaled to {SMALL_FILES})")
    bench_record(f"latency_small_files_rtt{rtt_ms:g}", figures)


def _default_concurrency(pythonpath: Optional[str] = None) -> int:
    """Single PUTs in flight with the default TransferConfig (of another copy of lilt)."""
    if pythonpath is None:
        import lilt

        config = lilt.TransferConfig()
        return int(getattr(config, "small_file_concurrency", config.concurrency))
    code = (
        "import lilt; c = lilt.TransferConfig(); "
        "print(getattr(c, 'small_file_concurrency', c.concurrency))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=pythonpath),
        cwd=pythonpath,
    )
    return int(out.stdout)


def _needed_round_trips(arm: str) -> int:
    """Round trips the arm's protocol needs for the 1,000 files, at the least."""
    if arm.startswith("lilt"):
        return math.ceil(SMALL_FILES / BATCH) + SMALL_FILES  # bulk initiates + one PUT each
    if arm == "loop":
        return 2 * SMALL_FILES  # initiate, then PUT
    return 2 * SMALL_FILES  # PutObject with Expect: 100-continue: head, then body


# --- 3. one large file -------------------------------------------------------------


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "data.bin"
    with open(path, "wb") as handle:
        for _ in range(BIG_SIZE // MiB):
            handle.write(os.urandom(MiB))
    return path


@pytest.mark.parametrize("rtt_ms", RTTS, ids=lambda r: f"rtt{r:g}ms")
def test_big_file(
    rig: Rig, big_file: Path, rtt_ms: float, bench_record: Callable[[str, Any], Any]
) -> None:
    emulator = rig.emulator
    common = {
        "path": str(big_file),
        "paths": [str(big_file)],
        "part_size": 8 * MiB,
        "concurrency": 8,
    }
    with route(rig, rtt_ms) as where:
        rtt = _rtt_for(rig, where)
        arms: dict[str, tuple[str, dict[str, Any]]] = {
            "lilt": (
                "lilt-files",
                {"host": where.api, "key": emulator.api_key, "paths": [str(big_file)]},
            ),
            "boto3 upload_file": (
                "boto3",
                {
                    **common,
                    "endpoint": where.storage,
                    "access_key": emulator.storage.access_key,
                    "secret_key": emulator.storage.secret_key,
                    "region": emulator.storage.region,
                    "bucket": emulator.bucket,
                    "object_key": "bench/boto3-big.bin",
                },
            ),
        }
        for name, path in LILT_COPIES.items():
            arms[f"lilt@{name}"] = (
                "lilt-files",
                {
                    "host": where.api,
                    "key": emulator.api_key,
                    "paths": [str(big_file)],
                    "pythonpath": path,
                },
            )
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in arms}
        for _ in range(REPEATS):
            for name, (kind, options) in arms.items():
                runs[name].append(_measured(rig, where, kind, **options))

    size = BIG_SIZE / GiB
    _header(
        f"one {BIG_SIZE // MiB} MiB file, 8 MiB parts, concurrency 8, round trip "
        f"{rtt_ms:g} ms (measured {rtt:.2f} ms)"
    )
    figures: dict[str, Any] = {
        "rtt_ms": rtt_ms,
        "measured_rtt_ms": rtt,
        "repeats": REPEATS,
        "size_bytes": BIG_SIZE,
        "arms": {},
    }
    print(
        f"  {'arm':<18} {'wall s':>7} {'MiB/s':>7} {'CPU-s/GiB':>9} {'server CPU s':>12}"
        f" {'link CPU s':>10}"
        f" {'API req':>7} {'S3 req':>6} {'round trips':>11} {'conns':>5}"
    )
    for name, arm_runs in runs.items():
        wall, cpu = _median(arm_runs, "seconds"), _median(arm_runs, "cpu")
        row = {
            "seconds": wall,
            "mib_per_s": size * 1024 / wall,
            "cpu_s_per_gib": cpu / size,
            "server_cpu_s": _median(arm_runs, "server_cpu"),
            "link_cpu_s": _median(arm_runs, "link_cpu"),
            "api_requests": _median(arm_runs, "api_requests"),
            "storage_requests": _median(arm_runs, "storage_requests"),
            "round_trips": _median(arm_runs, "api_round_trips")
            + _median(arm_runs, "storage_round_trips"),
            "connections": _median(arm_runs, "connections"),
            "runs": arm_runs,
        }
        figures["arms"][name] = row
        print(
            f"  {name:<18} {wall:7.2f} {row['mib_per_s']:7.1f} {row['cpu_s_per_gib']:9.2f}"
            f" {row['server_cpu_s']:12.2f} {row['link_cpu_s']:10.2f} {row['api_requests']:7.0f}"
            f" {row['storage_requests']:6.0f} {row['round_trips']:11.0f}"
            f" {row['connections']:5.0f}"
        )
    lilt, boto = figures["arms"]["lilt"], figures["arms"]["boto3 upload_file"]
    figures["summary"] = {
        "lilt_vs_boto3": boto["seconds"] / lilt["seconds"],
        "lilt_vs_boto3_paired": _paired(boto["runs"], lilt["runs"], "seconds"),
        "lilt_cpu_over_boto3": lilt["cpu_s_per_gib"] / boto["cpu_s_per_gib"],
    }
    print(
        f"  lilt: {figures['summary']['lilt_vs_boto3']:.2f}x boto3's throughput "
        f"(goal >= 1.0x; paired by round {figures['summary']['lilt_vs_boto3_paired']:.2f}x); client CPU {figures['summary']['lilt_cpu_over_boto3']:.2f}x boto3's"
    )
    bench_record(f"latency_big_file_rtt{rtt_ms:g}", figures)


# --- 4. the part pipeline ------------------------------------------------------------


@pytest.mark.parametrize("rtt_ms", [r for r in RTTS if r], ids=lambda r: f"rtt{r:g}ms")
def test_part_pipeline(
    rig: Rig,
    big_file: Path,
    rtt_ms: float,
    tmp_path: Path,
    bench_record: Callable[[str, Any], Any],
) -> None:
    path = tmp_path / "part-pipeline.bin"
    with open(big_file, "rb") as source, open(path, "wb") as target:
        target.write(source.read(256 * MiB))
    copies = {"lilt": None, **{f"lilt@{n}": p for n, p in LILT_COPIES.items()}}
    figures: dict[str, Any] = {
        "rtt_ms": rtt_ms,
        "repeats": REPEATS,
        "size_bytes": 256 * MiB,
        "arms": {},
    }
    with route(rig, rtt_ms) as where:
        for concurrency in (1, 2, 8):
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in copies}
            for _ in range(REPEATS):
                for name, pythonpath in copies.items():
                    options: dict[str, Any] = {
                        "host": where.api,
                        "key": rig.emulator.api_key,
                        "paths": [str(path)],
                        "config": {"concurrency": concurrency},
                    }
                    if pythonpath:
                        options["pythonpath"] = pythonpath
                    runs[name].append(_measured(rig, where, "lilt-timeline", **options))
            for name, arm_runs in runs.items():
                figures["arms"][f"{name} c{concurrency}"] = {
                    "seconds": _median(arm_runs, "seconds"),
                    "idle_slot_s": _median(arm_runs, "idle_slot_s"),
                    "runs": arm_runs,
                }
    _header(f"part pipeline, 256 MiB, round trip {rtt_ms:g} ms")
    print(f"  {'arm':<18} {'wall s':>7} {'idle PUT-slot s':>15}")
    for name, row in figures["arms"].items():
        print(f"  {name:<18} {row['seconds']:7.2f} {row['idle_slot_s']:15.2f}")
    bench_record(f"latency_part_pipeline_rtt{rtt_ms:g}", figures)
