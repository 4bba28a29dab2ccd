"""Client CPU per API call, as a ratio to a bare urllib3 request (design section 5).

A keep-alive HTTP/1.1 server answering the LILT routes with small JSON runs in
a separate process, so only the client's CPU is counted. For each operation
three arms send the same request line, headers and body to the same route:

``bare``       ``urllib3.PoolManager().request(...)`` with the body already encoded
               (the reference of the goal: lilt at most 1.2 times this for the small calls);
``bare+json``  the same plus ``json.dumps`` of the body and ``json.loads`` of the
               answer (what any hand-written client must at least do);
``lilt``       ``UploadsApi.<op>(...)``: validation, serialization, auth, transport,
               status check and decoding into the model.

Process CPU time (``time.process_time``: user + system, all threads) is
measured over ``LILT_BENCH_CALLS`` calls per arm and round, the arms taking
turns every ``CHUNK`` calls (so a noisy neighbour hits all arms alike), in
``LILT_BENCH_ROUNDS`` rounds; the figures are medians over rounds and the ratio
is the median of the per-round ratios (lilt against bare of the same round). ``LILT_BENCH_PROFILE=1`` also prints a cProfile of
the lilt arm of each operation.

With two CPUs or more the server is pinned to the last CPU and the client to
the others (``LILT_BENCH_PIN=0`` turns this off), so that, like a remote
server, it does not run on the client's CPU between calls. With the arms
taking turns every ``CHUNK`` calls, pinned and unpinned ratios agree within
the noise (about ±0.03) on the 2-CPU machines.

Each call blocks on the socket, so the client's code runs with cold caches:
the SDK's Python layers cost about twice here what they cost in a tight loop
with a stubbed transport (see docs/benchmarks.md, "Core").

Run::

    .venv/bin/python -m pytest test/benchmarks/test_core_calls.py -s
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import urllib3

import lilt

CALLS = int(os.environ.get("LILT_BENCH_CALLS", "2000"))
ROUNDS = int(os.environ.get("LILT_BENCH_ROUNDS", "7"))
PROFILE = os.environ.get("LILT_BENCH_PROFILE") == "1"
PIN = os.environ.get("LILT_BENCH_PIN", "1") != "0"
CHUNK = 100
PARTS = 100
KEY = "0123456789abcdef0123456789abcdef"  # Basic auth with the key as user and password

SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORD = (b'{"id": 5, "filename": "report.pdf", "status": "uploaded", '
          b'"created_at": "2026-01-02T03:04:05Z"}')
SIGNED = (b'{"url": "https://storage.example/uploads/x.zip?partNumber=3&uploadId=abc'
          b'&X-Amz-Signature=0123456789abcdef", "method": "PUT"}')
DONE = b'{"success": true, "location": "https://storage.example/uploads/x.zip"}'
MISSING = b'{"message": "no such route"}'


def answer(method, path):
    if method == "POST" and path.endswith("/complete"):
        return 200, DONE
    if method == "GET" and path.startswith("/v2/upload/s3/multipart/"):
        return 200, SIGNED
    if method == "GET" and path.startswith("/v2/upload/"):
        return 200, RECORD
    return 404, MISSING


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body = answer(self.command, self.path.split("?", 1)[0])
        head = ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n"
                % (status, "OK" if status == 200 else "Not Found", len(body)))
        self.wfile.write(head.encode("ascii") + body)

    do_GET = do_POST = do_DELETE = _answer


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


@pytest.fixture(scope="module")
def pinned() -> bool:
    return PIN and len(_cpus()) >= 2


@pytest.fixture(scope="module")
def server_url(pinned: bool) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    client_cpus = _cpus()
    try:
        if pinned:
            os.sched_setaffinity(proc.pid, {client_cpus[-1]})
            os.sched_setaffinity(0, set(client_cpus[:-1]))
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        if pinned:
            os.sched_setaffinity(0, set(client_cpus))
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# -- the operations, each as (lilt call, bare call, bare+json call) -------------------


def _operations(base: str, api: lilt.UploadsApi, pool: urllib3.PoolManager) -> dict[str, Any]:
    auth = urllib3.util.make_headers(basic_auth=f"{KEY}:{KEY}")["authorization"]
    get_headers = {
        "Accept": "application/json",
        "User-Agent": "OpenAPI-Generator/3.1.0/python",
        "Authorization": auth,
    }
    post_headers = {**get_headers, "Content-Type": "application/json"}
    parts = [{"ETag": f'"{i:032x}"', "PartNumber": i} for i in range(1, PARTS + 1)]
    body_dict = {"parts": parts}
    body_bytes = json.dumps(body_dict).encode()
    body_model = lilt.CompleteMultipartUploadBody.from_dict(body_dict)
    request = pool.request
    loads, dumps = json.loads, json.dumps

    url_get = f"{base}/v2/upload/5"
    url_sign = f"{base}/v2/upload/s3/multipart/abc/3?s3Key=uploads/x.zip&size=8388608"
    url_done = f"{base}/v2/upload/s3/multipart/abc/complete?s3Key=uploads/x.zip"
    return {
        "get_upload_by_id": {
            "what": "GET, one path parameter",
            "lilt": lambda: api.get_upload_by_id(5),
            "bare": lambda: request("GET", url_get, headers=get_headers),
            "bare+json": lambda: loads(request("GET", url_get, headers=get_headers).data),
        },
        "sign_upload_part": {
            "what": "GET, two path and two query parameters",
            "lilt": lambda: api.sign_upload_part("abc", 3, "uploads/x.zip", 8388608),
            "bare": lambda: request("GET", url_sign, headers=get_headers),
            "bare+json": lambda: loads(request("GET", url_sign, headers=get_headers).data),
        },
        "complete_multipart_upload": {
            "what": f"POST, JSON body of {PARTS} parts ({len(body_bytes)} bytes)",
            "lilt": lambda: api.complete_multipart_upload("abc", "uploads/x.zip", body_model),
            "bare": lambda: request("POST", url_done, headers=post_headers, body=body_bytes),
            "bare+json": lambda: loads(
                request("POST", url_done, headers=post_headers, body=dumps(body_dict)).data
            ),
        },
    }


ARMS = ("bare", "bare+json", "lilt")


def _round(arms: dict[str, Callable[[], Any]], calls: int) -> dict[str, tuple[float, float]]:
    """Arm → (CPU seconds, wall seconds) per call, the arms taking turns every CHUNK calls."""
    cpu = dict.fromkeys(arms, 0.0)
    wall = dict.fromkeys(arms, 0.0)
    clock, perf = time.process_time, time.perf_counter
    gc.collect()
    for _ in range(max(calls // CHUNK, 1)):
        for arm, fn in arms.items():
            cpu0, wall0 = clock(), perf()
            for _ in range(CHUNK):
                fn()
            cpu[arm] += clock() - cpu0
            wall[arm] += perf() - wall0
    done = max(calls // CHUNK, 1) * CHUNK
    return {arm: (cpu[arm] / done, wall[arm] / done) for arm in arms}


def _check(op: str, arms: dict[str, Any]) -> None:
    """Every arm really reaches the route and gets the 200 answer (not a 404)."""
    result = arms["lilt"]()
    assert result is not None and not isinstance(result, dict), (op, result)
    assert arms["bare"]().status == 200, op
    assert isinstance(arms["bare+json"](), dict), op


def _profile(op: str, fn: Callable[[], Any]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(CALLS):
        fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(f"\n--- cProfile of lilt {op}, {CALLS} calls, by own time ---\n{out.getvalue()}")


def test_core_cpu_per_call(
    server_url: str, pinned: bool, bench_record: Callable[[str, Any], Any]
) -> None:
    config = lilt.Configuration(host=server_url, username=KEY, password=KEY)
    pool = urllib3.PoolManager()
    figures: dict[str, Any] = {
        "calls_per_block": CALLS,
        "rounds": ROUNDS,
        "pinned": pinned,
        "lilt": os.path.dirname(lilt.__file__),
        "operations": {},
    }
    with lilt.ApiClient(config) as client:
        api = lilt.UploadsApi(client)
        operations = _operations(server_url, api, pool)
        for op, spec in operations.items():
            arms = {arm: spec[arm] for arm in ARMS}
            _check(op, arms)
            _round(arms, CHUNK * 3)  # warm up: connections, caches, lazy imports
            cpu: dict[str, list[float]] = {arm: [] for arm in ARMS}
            wall: dict[str, list[float]] = {arm: [] for arm in ARMS}
            for r in range(ROUNDS):
                order = ARMS[r % len(ARMS) :] + ARMS[: r % len(ARMS)]
                measured = _round({arm: arms[arm] for arm in order}, CALLS)
                for arm in ARMS:
                    cpu[arm].append(measured[arm][0])
                    wall[arm].append(measured[arm][1])
            ratios = [lt / b for lt, b in zip(cpu["lilt"], cpu["bare"])]
            ratios_json = [lt / b for lt, b in zip(cpu["lilt"], cpu["bare+json"])]
            figures["operations"][op] = {
                "what": spec["what"],
                "cpu_us_per_call_median": {a: statistics.median(cpu[a]) * 1e6 for a in ARMS},
                "wall_us_per_call_median": {a: statistics.median(wall[a]) * 1e6 for a in ARMS},
                "cpu_us_per_call_rounds": {a: [v * 1e6 for v in cpu[a]] for a in ARMS},
                "ratio_lilt_to_bare_median": statistics.median(ratios),
                "ratio_lilt_to_bare_rounds": ratios,
                "ratio_lilt_to_bare_json_median": statistics.median(ratios_json),
                "overhead_us_per_call": (
                    statistics.median(cpu["lilt"]) - statistics.median(cpu["bare"])
                )
                * 1e6,
            }
            if PROFILE:
                _profile(op, arms["lilt"])
    pool.clear()

    print(
        f"\nClient CPU per call, µs (median of {ROUNDS} rounds x {CALLS} calls per arm; "
        f"server {'pinned to its own CPU' if pinned else 'not pinned'})"
    )
    print(
        f"{'operation':28} {'bare':>8} {'bare+json':>10} {'lilt':>8} "
        f"{'lilt/bare':>10} {'lilt/bare+json':>15}  per-round lilt/bare"
    )
    for op, f in figures["operations"].items():
        c = f["cpu_us_per_call_median"]
        rounds = " ".join(f"{x:.2f}" for x in f["ratio_lilt_to_bare_rounds"])
        print(
            f"{op:28} {c['bare']:8.1f} {c['bare+json']:10.1f} {c['lilt']:8.1f} "
            f"{f['ratio_lilt_to_bare_median']:9.2f}x {f['ratio_lilt_to_bare_json_median']:14.2f}x"
            f"  {rounds}"
        )
    bench_record("core_calls" if pinned else "core_calls_unpinned", figures)


COLD = r"""
import json, sys, time
t0 = time.perf_counter()
import lilt
t1 = time.perf_counter()
config = lilt.Configuration(host=sys.argv[1], username="k", password="k")
api = lilt.UploadsApi(lilt.ApiClient(config))
t2 = time.perf_counter()
api.get_upload_by_id(5)
t3 = time.perf_counter()
api.get_upload_by_id(5)
t4 = time.perf_counter()
print(json.dumps({"import lilt": t1 - t0, "UploadsApi + client": t2 - t1,
                  "first call": t3 - t2, "second call": t4 - t3}))
"""


def test_core_cold_first_call(server_url: str, bench_record: Callable[[str, Any], Any]) -> None:
    """Wall ms, in fresh processes, from ``import lilt`` to the first answered call."""
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", COLD, server_url],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        for _ in range(int(os.environ.get("LILT_BENCH_COLD_RUNS", "11")))
    ]
    figures = {k: statistics.median(r[k] for r in runs) * 1e3 for k in runs[0]}
    print("\nCold start, wall ms (median of fresh processes)")
    for k, v in figures.items():
        print(f"  {k:20} {v:8.2f}")
    bench_record("core_cold_call", {"ms_median": figures, "runs": len(runs)})


# -- instructions per call (callgrind): the same ratio without the machine's noise --------

INSTRUCTION_CALLS = int(os.environ.get("LILT_BENCH_INSTRUCTION_CALLS", "300"))

CALLGRIND_CLIENT = r"""
import json, os, subprocess, sys
import urllib3
import lilt

base, n, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
auth = urllib3.util.make_headers(basic_auth=f"{key}:{key}")["authorization"]
headers = {"Accept": "application/json", "User-Agent": "OpenAPI-Generator/3.1.0/python",
           "Authorization": auth}
pool = urllib3.PoolManager()
api = lilt.UploadsApi(lilt.ApiClient(lilt.Configuration(host=base, username=key, password=key)))
url_get = f"{base}/v2/upload/5"
url_sign = f"{base}/v2/upload/s3/multipart/abc/3?s3Key=uploads/x.zip&size=8388608"
arms = {
    "nothing": lambda: None,
    "get_upload_by_id bare": lambda: pool.request("GET", url_get, headers=headers),
    "get_upload_by_id lilt": lambda: api.get_upload_by_id(5),
    "sign_upload_part bare": lambda: pool.request("GET", url_sign, headers=headers),
    "sign_upload_part lilt": lambda: api.sign_upload_part("abc", 3, "uploads/x.zip", 8388608),
}
for arm in arms.values():
    for _ in range(100):
        arm()
for name, arm in arms.items():
    # callgrind_control zeroes the counters, then dumps them: the dump holds this arm only
    subprocess.run(["callgrind_control", "--zero", str(os.getpid())], check=True,
                   capture_output=True)
    for _ in range(n):
        arm()
    subprocess.run(["callgrind_control", "--dump=" + name.replace(" ", ":"), str(os.getpid())],
                   check=True, capture_output=True)
"""


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("valgrind", "callgrind_control")),
    reason="needs valgrind (callgrind)",
)
def test_core_instructions_per_call(
    server_url: str, tmp_path: Any, bench_record: Callable[[str, Any], Any]
) -> None:
    """Client instructions per call (user space, callgrind), lilt against bare urllib3.

    Instruction counts do not move with a noisy neighbour's load or the caches
    it leaves cold, so a change of a few per cent shows; they leave out the
    kernel's share (system calls cost the same in both arms, except the poll
    before each socket read that a timeout brings). The client runs under
    callgrind (about 50 times slower; the server does not); each arm's
    counters are zeroed before and dumped after ``LILT_BENCH_INSTRUCTION_CALLS``
    calls (default 300), the no-op arm measuring what zeroing and dumping cost.
    """
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("LILT_LOG", None)
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={tmp_path}/cg.%p",
            sys.executable,
            "-c",
            CALLGRIND_CLIENT,
            server_url,
            str(INSTRUCTION_CALLS),
            KEY,
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=1800,
    )
    totals: dict[str, int] = {}
    for dump in tmp_path.glob("cg.*.*"):
        lines = dump.read_text(errors="replace").splitlines()
        trigger = next(line for line in lines if line.startswith("desc: Trigger:"))
        label = trigger.rsplit(" ", 1)[1]  # "desc: Trigger: dump <label>"
        totals[label.replace(":", " ")] = next(
            int(line.split()[1]) for line in lines if line.startswith("summary:")
        )
    cost = totals.pop("nothing")
    per_call = {name: (total - cost) / INSTRUCTION_CALLS for name, total in totals.items()}
    figures: dict[str, Any] = {
        "calls": INSTRUCTION_CALLS,
        "lilt": os.path.dirname(lilt.__file__),
        "instructions_per_call": per_call,
        "ratio_lilt_to_bare": {},
    }
    print(f"\nClient instructions per call (callgrind, {INSTRUCTION_CALLS} calls per arm)")
    for op in ("get_upload_by_id", "sign_upload_part"):
        bare, ours = per_call[f"{op} bare"], per_call[f"{op} lilt"]
        figures["ratio_lilt_to_bare"][op] = ours / bare
        print(
            f"  {op:24} bare {bare / 1e3:8.1f}k   lilt {ours / 1e3:8.1f}k   "
            f"lilt/bare {ours / bare:.3f}x (goal <= 1.2x)"
        )
    bench_record("core_instructions", figures)
