"""The ``lilt`` command without a server: parsing, help, exit codes for bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lilt import cli


@pytest.mark.parametrize(("text", "value"), [
    ("8388608", 8388608), ("8MiB", 8 * 1024**2), ("8M", 8 * 1024**2), ("8mb", 8_000_000),
    ("5 GiB", 5 * 1024**3), ("1.5KiB", 1536), ("64k", 65536),
])
def test_parse_size(text: str, value: int) -> None:
    assert cli.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "eight", "8XB", "-1", "1.3B"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_size(text)


def test_help_explains_every_upload_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["upload", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--concurrency", "--part-size", "--threshold", "--journal", "--json",
                   "--no-checksum", "--api-key", "--host", "--no-progress"):
        assert option in text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = capsys.readouterr().out
    assert "Exit codes" in top and "130 interrupted" in top
    for command in ("upload", "uploads", "emulator", "demo"):
        assert command in top


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["upload"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        cli.main(["upload", "x", "--concurrency", "0"])
    assert exited.value.code == 2
    assert cli.main(["upload", str(tmp_path)]) == 2  # no API key
    assert "LILT_API_KEY" in capsys.readouterr().err


def test_bad_input_exits_2_before_any_request(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    # port 9 (discard) is never contacted: the checks come first
    common = ["--api-key", "k", "--host", "http://127.0.0.1:9", "--no-progress"]
    assert cli.main(["upload", str(tmp_path / "missing.bin"), *common]) == 2
    assert "missing.bin" in capsys.readouterr().err
    assert cli.main(["upload", str(tmp_path), *common]) == 2
    assert "directory" in capsys.readouterr().err
    assert cli.main(["upload", str(tmp_path), "--part-size", "1MiB", *common]) == 2
    assert "part_size" in capsys.readouterr().err


def test_json_failure_document(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    # nothing listens on port 9: a connection error after retries -> exit 1, JSON on stdout
    code = cli.main(["--api-key", "k", "--host", "http://127.0.0.1:9", "upload", str(path),
                     "--json"])
    assert code == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False and document["error"]["message"]


def test_python_dash_m_lilt_runs_the_command() -> None:
    out = subprocess.run([sys.executable, "-m", "lilt", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("lilt ")


# --- against the emulator ---------------------------------------------------------------


@pytest.fixture
def emulator_env(lilt_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in lilt_emulator.env.items():
        monkeypatch.setenv(name, value)
    return lilt_emulator


@pytest.mark.storage
def test_upload_json_and_uploads_commands(emulator_env: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "a.txt"
    small.write_bytes(b"hello")
    big = tmp_path / "b.bin"
    big.write_bytes(os.urandom(6 * 1024**2))
    code = cli.main(["upload", str(small), str(big), "--json", "--threshold", "5MiB",
                     "--part-size", "5MiB", "--label", "x", "--category", "docs"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    first, second = document["results"]
    assert (first["size"], first["multipart"], second["multipart"], second["part_count"]) == (
        5, False, True, 2)
    assert emulator_env.read_object(first["key"]) == b"hello"
    assert emulator_env.read_object(second["key"]) == big.read_bytes()

    assert cli.main(["uploads", "list", "--statuses", "uploaded", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {u["filename"] for u in listed} >= {"a.txt", "b.bin"}
    assert cli.main(["uploads", "show", str(listed[0]["id"])]) == 0
    assert "filename" in capsys.readouterr().out
    assert cli.main(["uploads", "show", "999999"]) == 1
    assert "404" in capsys.readouterr().err

    api = emulator_env  # start a multipart upload by hand and cancel it from the shell
    import lilt

    config = lilt.Configuration(host=api.base_url, username=api.api_key, password=api.api_key)
    with lilt.ApiClient(config) as client:
        started = lilt.UploadsApi(client).initiate_multipart_upload(
            lilt.InitiateMultipartUploadBody(filename="c.zip", type="application/zip"))
    assert len(api.list_multipart_uploads()) == 1
    assert cli.main(["uploads", "cancel", started.upload_id, started.key]) == 0
    assert "cancelled" in capsys.readouterr().out
    assert api.list_multipart_uploads() == []


@pytest.mark.storage
def test_human_output_and_journal(emulator_env: Any, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.bin"
    path.write_bytes(os.urandom(1000))
    journal = tmp_path / "j"
    assert cli.main(["upload", str(path), "--journal", str(journal)]) == 0
    out = capsys.readouterr().out
    assert f"uploaded {path} -> " in out and "1 file," in out
    assert cli.main(["upload", str(path), "--journal", str(journal)]) == 0  # nothing to send
    assert len(emulator_env.requests("initiate_s3_upload")) == 1


@pytest.mark.storage
def test_wrong_key_exits_1(emulator_env: Any, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(b"x")
    assert cli.main(["upload", str(path), "--api-key", "wrong"]) == 1
    assert "401" in capsys.readouterr().err


@pytest.mark.storage
@pytest.mark.slow
def test_demo_verifies_what_it_uploaded(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["demo", "--size", "17MiB", "--part-size", "5MiB", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["verified"] is True and summary["parts"] == 4
    assert summary["size"] == 17 * 1024**2


@pytest.mark.storage
def test_ctrl_c_exits_130_and_leaves_no_upload(emulator_env: Any, tmp_path: Path) -> None:
    import signal
    import time

    from lilt.testing.proxy import Fault, FaultProxy

    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(16 * 1024**2))
    host, port = emulator_env.storage.url.removeprefix("http://").rsplit(":", 1)
    with FaultProxy((host, int(port))) as proxy:
        emulator_env.presign_endpoint = proxy.url
        # part 2's answer is held for 3 s: Ctrl-C lands while the upload is under way
        proxy.inject(Fault.stall(3.0), method="PUT", path=r"partNumber=2", times=1)
        child = subprocess.Popen(
            [sys.executable, "-m", "lilt", "upload", str(path), "--part-size", "5MiB",
             "--threshold", "5MiB", "--concurrency", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while not any("partNumber=2" in r.target for r in proxy.requests):
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted" in err and "aborted" in err
    assert emulator_env.list_multipart_uploads() == []
    assert len(emulator_env.requests("cancel_multipart_upload")) == 1
