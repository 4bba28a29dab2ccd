"""The ``lilt`` command without a server: parsing, help, exit codes for bad input."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

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
