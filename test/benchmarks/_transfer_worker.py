"""One measured upload in a fresh process, so its CPU time and peak RSS are its own.

    python _transfer_worker.py KIND 'JSON OPTIONS'

prints ``{"seconds": wall, "cpu": user+system seconds, "maxrss_mib": peak}``
(with ``"pause": true`` in the options it first prints ``warmed`` after the
warm-up and waits for a line on stdin)
measured around the upload only: imports, setup and one small warm-up upload
(lazy imports, validators, first connections) are excluded from time and CPU,
so the figures are per-GiB steady state; peak RSS is the whole process's.

Kinds:
  lilt-sink, bare-sink   one file to the loopback MD5 sink (URLs made in-process)
  lilt-api               files through a LILT API (the emulator), upload_files
  lilt-files             the same with a TransferConfig of ``config`` (default: the defaults)
  lilt-timeline          lilt-files, also reporting how long part PUT slots stood idle
  boto3                  one file with boto3's upload_file straight to S3
  s3transfer-files       files with s3transfer's TransferManager straight to S3
  sequential             files one by one: initiate, then PUT, no concurrency
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, Callable


def _measure(run: Callable[[], Any], warm: Callable[[], Any], pause: bool) -> dict[str, float]:
    warm()  # one-time costs (lazy imports, validators, first connections) are not per-GiB
    if pause:  # let the benchmark read its counters between warm-up and run
        print("warmed", flush=True)
        sys.stdin.readline()
    start_wall = time.perf_counter()
    start_cpu = time.process_time()
    run()
    cpu = time.process_time() - start_cpu
    wall = time.perf_counter() - start_wall
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": wall, "cpu": cpu, "maxrss_mib": maxrss_kib / 1024}


class SinkApi:
    """The five UploadsApi calls, answered in-process with URLs on the sink."""

    def __init__(self, sink: str) -> None:
        self.sink = sink

    def initiate_s3_upload(self, body: Any) -> Any:
        bodies = body if isinstance(body, list) else [body]
        out = [
            SimpleNamespace(
                url=f"{self.sink}/b/{b.filename}?X-Amz-Signature=s", key=b.filename, method="PUT"
            )
            for b in bodies
        ]
        return out if isinstance(body, list) else out[0]

    def initiate_multipart_upload(self, body: Any) -> Any:
        bodies = body if isinstance(body, list) else [body]
        out = [SimpleNamespace(upload_id="u", key=b.filename) for b in bodies]
        return out if isinstance(body, list) else out[0]

    def sign_upload_part(self, upload_id: str, part_number: int, s3_key: str, size: int) -> Any:
        return SimpleNamespace(
            url=f"{self.sink}/b/{s3_key}?uploadId={upload_id}&partNumber={part_number}"
            f"&X-Amz-Signature=s",
            method="PUT",
        )

    def complete_multipart_upload(self, upload_id: str, s3_key: str, body: Any) -> Any:
        return SimpleNamespace(success=True, location=f"{self.sink}/b/{s3_key}")

    def cancel_multipart_upload(self, upload_id: str, s3_key: str) -> Any:
        return SimpleNamespace(success=True, message="")


Job = tuple[Callable[[], Any], Callable[[], Any]]  # (warm-up, measured run)


def warm_file(size: int) -> str:
    """A small file for the warm-up run, outside the measured region."""
    import atexit
    import tempfile

    handle, path = tempfile.mkstemp(prefix="lilt-bench-warm-")
    atexit.register(os.unlink, path)
    os.write(handle, os.urandom(size))
    os.close(handle)
    return path


def lilt_sink(o: dict[str, Any]) -> Job:
    import lilt

    config = lilt.TransferConfig(
        part_size=o["part_size"],
        concurrency=o["concurrency"],
        checksum=o["checksum"],
        multipart_threshold=o["part_size"],
    )
    uploader = lilt.Uploader(SinkApi(o["sink"]), config)  # type: ignore[arg-type]
    warm = warm_file(o["part_size"] + 1)
    return (lambda: uploader.upload_file(warm)), (lambda: uploader.upload_file(o["path"]))


def bare_sink(o: dict[str, Any]) -> Job:
    """What a careful user writes by hand: pread, MD5, urllib3 PUT, a thread pool."""
    import urllib3

    api = SinkApi(o["sink"])
    part_size, concurrency = o["part_size"], o["concurrency"]
    pool = urllib3.PoolManager(maxsize=concurrency + 1)

    def run(path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        size = os.fstat(fd).st_size
        count = -(-size // part_size)

        def put(number: int) -> str:
            url = api.sign_upload_part("u", number, "k", 0).url
            data = os.pread(fd, part_size, (number - 1) * part_size)
            headers = {"Content-Type": "application/octet-stream"}
            if o["checksum"]:
                headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
            response = pool.request("PUT", url, body=data, headers=headers, retries=False)
            assert response.status == 200
            return str(response.headers["ETag"])

        with ThreadPoolExecutor(concurrency) as pool_exec:
            etags = list(pool_exec.map(put, range(1, count + 1)))
        assert len(etags) == count
        os.close(fd)

    warm = warm_file(o["part_size"] + 1)
    return (lambda: run(warm)), (lambda: run(o["path"]))


def lilt_api(o: dict[str, Any]) -> Job:
    import lilt

    config = lilt.TransferConfig(
        part_size=o["part_size"],
        concurrency=o["concurrency"],
        checksum=o["checksum"],
        multipart_threshold=o.get("threshold", 16 * 1024**2),
    )
    client = lilt.ApiClient(
        lilt.Configuration(host=o["host"], username=o["key"], password=o["key"])
    )
    uploader = lilt.Uploader(client, config)
    warm = [warm_file(o["part_size"] + 1), warm_file(100)]
    return (lambda: uploader.upload_files(warm)), (lambda: uploader.upload_files(o["paths"]))


def lilt_files(o: dict[str, Any]) -> Job:
    """``upload_files`` as a user calls it, with the TransferConfig fields in ``config``."""
    import lilt

    client = lilt.ApiClient(
        lilt.Configuration(host=o["host"], username=o["key"], password=o["key"])
    )
    config = lilt.TransferConfig(**o.get("config", {}))
    uploader = lilt.Uploader(client, config)
    # both paths warm, as boto3's warm-up does: a multipart upload and single PUTs
    warm = [warm_file(config.multipart_threshold + 1), warm_file(100), warm_file(100)]
    return (lambda: uploader.upload_files(warm)), (lambda: uploader.upload_files(o["paths"]))


#: figures a job adds to the measurement (merged into the printed result)
EXTRA: dict[str, float] = {}


def lilt_timeline(o: dict[str, Any]) -> Job:
    """lilt-files, recording when each part PUT ran: ``idle_slot_s`` is the PUT-slot time
    (``concurrency`` slots) left unused between the first PUT's start and the last's."""
    import threading

    from lilt.transfer import storage

    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    put = storage.StorageClient.put

    def timed_put(self: Any, url: str, body: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return put(self, url, body, **kw)
        finally:
            with lock:
                spans.append((start, time.perf_counter()))

    storage.StorageClient.put = timed_put  # type: ignore[method-assign]
    warm, run = lilt_files(o)

    def measured() -> Any:
        spans.clear()
        result = run()
        slots = o.get("config", {}).get("concurrency", 8)
        edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
        last_start = max(a for a, _ in spans)
        idle, active, previous = 0.0, 0, edges[0][0]
        for moment, step in edges:
            if moment <= last_start:
                idle += max(slots - active, 0) * (moment - previous)
            previous, active = moment, active + step
        EXTRA["idle_slot_s"] = idle
        return result

    return warm, measured


def _s3_client(o: dict[str, Any], connections: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=o["endpoint"],
        aws_access_key_id=o["access_key"],
        aws_secret_access_key=o["secret_key"],
        region_name=o.get("region", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=connections),
    )


def s3transfer_files(o: dict[str, Any]) -> Job:
    """s3transfer's TransferManager (what boto3's upload_file runs on), one manager for all
    files, ``concurrency`` request threads and as many pooled connections."""
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    concurrency = o["concurrency"]
    s3 = _s3_client(o, concurrency)
    manager = create_transfer_manager(s3, TransferConfig(max_concurrency=concurrency))
    prefix = o.get("prefix", "bench/s3transfer/")

    def run(paths: list[str]) -> None:
        futures = [manager.upload(p, o["bucket"], prefix + os.path.basename(p)) for p in paths]
        for future in futures:
            future.result()

    warm = [warm_file(100), warm_file(100)]
    return (lambda: run(warm)), (lambda: run(o["paths"]))


def boto3_upload(o: dict[str, Any]) -> Job:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=o["endpoint"],
        aws_access_key_id=o["access_key"],
        aws_secret_access_key=o["secret_key"],
        region_name=o.get("region", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=o["concurrency"] + 2),
    )
    config = TransferConfig(
        multipart_threshold=o["part_size"],
        multipart_chunksize=o["part_size"],
        max_concurrency=o["concurrency"],
        use_threads=True,
    )
    warm = warm_file(o["part_size"] + 1)
    return (
        lambda: s3.upload_file(warm, o["bucket"], o["object_key"] + ".warm", Config=config),
        lambda: s3.upload_file(o["path"], o["bucket"], o["object_key"], Config=config),
    )


def sequential(o: dict[str, Any]) -> Job:
    """The loop a user writes without the uploader: initiate, PUT, next file."""
    import urllib3

    import lilt

    client = lilt.ApiClient(
        lilt.Configuration(host=o["host"], username=o["key"], password=o["key"])
    )
    api = lilt.UploadsApi(client)
    pool = urllib3.PoolManager()

    def run(paths: list[str]) -> None:
        for path in paths:
            with open(path, "rb") as handle:
                data = handle.read()
            params = api.initiate_s3_upload(
                lilt.InitiateUploadBody(
                    filename=os.path.basename(path),
                    type="application/octet-stream",
                    metadata=lilt.InitiateUploadBodyMetadata(size=len(data)),
                )
            )
            response = pool.request(
                params.method or "PUT",
                params.url,
                body=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert response.status == 200, response.status

    warm = [warm_file(100)]
    return (lambda: run(warm)), (lambda: run(o["paths"]))


KINDS: dict[str, Callable[[dict[str, Any]], Job]] = {
    "lilt-sink": lilt_sink,
    "bare-sink": bare_sink,
    "lilt-api": lilt_api,
    "boto3": boto3_upload,
    "sequential": sequential,
    "lilt-files": lilt_files,
    "s3transfer-files": s3transfer_files,
    "lilt-timeline": lilt_timeline,
}


if __name__ == "__main__":
    kind, options = sys.argv[1], json.loads(sys.argv[2])
    warm_up, measured = KINDS[kind](options)
    figures = _measure(measured, warm_up, bool(options.get("pause")))
    print(json.dumps({**figures, **EXTRA}))
