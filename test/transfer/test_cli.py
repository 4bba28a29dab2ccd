"""The ``lilt`` command: parsing and usage errors without a server, then every command end to
end against the emulator (SeaweedFS), checked on the stored bytes and on what is left pending.

Commands that must be signalled run as child processes whose signal dispositions are set
explicitly (``_child``), so the tests hold when the suite itself runs in the background with
SIGINT ignored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lilt
from lilt import cli
from lilt.testing import ApiFault, Emulator
from lilt.testing.proxy import Fault, FaultProxy

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test keeps its resume journals in its own state folder, never the user's."""
    folder = tmp_path / "state"
    monkeypatch.setenv("LILT_STATE_DIR", str(folder))
    return folder


def _journals(state: Path) -> list[str]:
    folder = state / "journals"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- without a server ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8388608", 8388608),
        ("8MiB", 8 * MiB),
        ("8M", 8 * MiB),
        ("8mb", 8_000_000),
        ("5 GiB", 5 * 1024**3),
        ("1.5KiB", 1536),
        ("64k", 65536),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert cli.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "eight", "8XB", "-1", "1.3B"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_size(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("1w", 604800)],
)
def test_parse_age(text: str, seconds: float) -> None:
    assert cli.parse_age(text) == seconds


def test_help_explains_every_upload_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["upload", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--concurrency",
        "--part-size",
        "--threshold",
        "--journal",
        "--json",
        "--no-checksum",
        "--api-key",
        "--host",
        "--no-progress",
        "--include",
        "--exclude",
        "--filename",
        "--content-type",
        "--no-resume",
    ):
        assert option in text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = capsys.readouterr().out
    assert "Exit codes" in top and "130 interrupted" in top and "143 SIGTERM" in top
    for command in ("upload", "uploads", "emulator", "demo"):
        assert command in top


def test_emulator_help_names_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["emulator", "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: lilt emulator ")


def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["upload"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "lilt upload: error: the following arguments are required: PATH"
    assert "Traceback" not in err
    assert cli.main(["upload", "x", "--concurrency", "0"]) == 2
    assert cli.main(["upload", str(tmp_path)]) == 2  # no API key
    assert "LILT_API_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["upload", "--json"],  # argparse: missing PATH
        ["bogus", "--json"],  # argparse: unknown command
        ["uploads", "cancel", ".", "KEY", "--json", "--api-key", "k"],
        ["upload", "-", "--json", "--api-key", "k"],  # stdin needs --filename
    ],
)
def test_json_for_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["ok"] is False
    assert document["error"]["type"] == "UsageError" and document["error"]["exit_code"] == 2
    assert captured.err == ""


def test_json_keeps_non_ascii_unescaped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "résumé-文件.txt"
    assert cli.main(["upload", str(missing), "--json", "--api-key", "k"]) == 2
    out = capsys.readouterr().out
    assert "résumé-文件.txt" in out and "\\u" not in out
    assert json.loads(out)["error"]["message"].endswith(
        "résumé-文件.txt: No such file or directory"
    )


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("http//127.0.0.1:9", "did you mean http://127.0.0.1:9"),
        ("api.lilt.com", "has no scheme; use https://api.lilt.com"),
        ("ftp://127.0.0.1:9", "the scheme must be https or http"),
        ("http://", "has no host name"),
        ("http://127.0.0.1:port", "Port could not be cast"),
        ("https://api.lilt.com/?key=x", "no '?' or '#'"),
    ],
)
def test_bad_host_is_a_usage_error_before_anything_is_sent(
    host: str,
    says: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    assert cli.main(["upload", str(path), "--api-key", "k", "--host", host]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    monkeypatch.setenv("LILT_API_HOST", host)
    assert cli.main(["uploads", "list", "--api-key", "k"]) == 2
    assert "LILT_API_HOST" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # nothing written either


def test_bad_input_exits_2_before_any_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # port 9 (discard) is never contacted: the checks come first
    common = ["--api-key", "k", "--host", "http://127.0.0.1:9", "--no-progress"]
    assert cli.main(["upload", str(tmp_path / "missing.bin"), *common]) == 2
    assert "missing.bin" in capsys.readouterr().err
    (tmp_path / "f.bin").write_bytes(b"x")
    assert cli.main(["upload", str(tmp_path / "f.bin"), "--part-size", "1MiB", *common]) == 2
    assert "part_size" in capsys.readouterr().err
    assert cli.main(["upload", str(tmp_path / "f.bin"), "-", *common]) == 2
    assert (
        cli.main(["upload", str(tmp_path), str(tmp_path / "f.bin"), "--filename", "x", *common])
        == 2
    )
    assert "--filename names one file" in capsys.readouterr().err
    assert cli.main(["upload", str(tmp_path / "f.bin"), "--exclude", "*.tmp", *common]) == 2
    assert "no folder given" in capsys.readouterr().err


def test_json_failure_document(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    # nothing listens on port 9: a connection error after retries -> exit 1, JSON on stdout
    code = cli.main(
        [
            "--api-key",
            "k",
            "--host",
            "http://127.0.0.1:9",
            "upload",
            str(path),
            "--json",
            "--no-resume",
        ]
    )
    assert code == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False and document["error"]["message"]
    assert "HTTPHeaderDict" not in document["error"]["message"]


def test_python_dash_m_lilt_runs_the_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lilt", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("lilt ")


# --- against the emulator -----------------------------------------------------------------


@pytest.fixture
def emulator_env(lilt_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for name, value in lilt_emulator.env.items():
        monkeypatch.setenv(name, value)
    return lilt_emulator


def _nothing_pending(emulator: Emulator) -> None:
    assert emulator.list_multipart_uploads() == []
    assert [r.id for r in emulator.uploads() if r.status == "pending"] == []


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(root: Path) -> dict[str, bytes]:
    """A folder with nested, hidden, empty, linked (looping) and special entries."""
    files = {
        "a.txt": b"alpha",
        "sub/b.md": b"# beta",
        "sub/deeper/c.bin": os.urandom(6 * MiB),  # multipart with a 5 MiB threshold
        ".hidden": b"dot",
        ".git/HEAD": b"ref: refs/heads/main",
        "notes/draft.tmp": b"scratch",
        "notes/keep.txt": b"keep",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "empty" / "nested").mkdir(parents=True)
    (root / "sub" / "loop").symlink_to(root)  # a loop back to the top
    (root / "link-to-a.txt").symlink_to(root / "a.txt")  # the same file twice
    (root / "dangling").symlink_to(root / "nowhere")
    os.mkfifo(root / "pipe")
    return files


@pytest.mark.storage
def test_folder_upload_with_filters_links_and_skips(
    emulator_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "project"
    files = _tree(root)
    code = cli.main(
        [
            "upload",
            str(root),
            "--exclude",
            ".git",
            "--exclude",
            "*.tmp",
            "--threshold",
            "5MiB",
            "--part-size",
            "5MiB",
            "--json",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    uploaded = {Path(r["path"]).relative_to(root).as_posix(): r for r in document["results"]}
    expected = {n for n in files if not n.startswith(".git/") and not n.endswith(".tmp")}
    assert set(uploaded) == expected  # hidden file in, .git and *.tmp out, each file once
    for name, result in uploaded.items():
        assert result["filename"] == f"project/{name}"
        assert _sha(emulator_env.read_object(result["key"])) == _sha(files[name])
    assert uploaded["sub/deeper/c.bin"]["multipart"] is True
    reasons = {Path(s["path"]).name: s["reason"] for s in document["skipped"]}
    assert reasons["loop"].startswith("folder already walked")
    assert reasons["link-to-a.txt"].startswith("same file as")
    assert reasons["dangling"] == "symbolic link to nothing"
    assert reasons["pipe"] == "not a regular file"
    assert not any(s["error"] for s in document["skipped"])
    _nothing_pending(emulator_env)
    assert _journals(tmp_path / "state") == []  # a finished run keeps no journal


@pytest.mark.storage
def test_folder_include_and_human_output(
    emulator_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "docs"
    _tree(root)
    code = cli.main(
        ["upload", str(root), "--include", "*.txt", "--include", "sub/*.md", "--no-progress"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    names = sorted(line.split(" -> ")[0].removeprefix("uploaded ") for line in lines[:-1])
    assert names == sorted(str(root / n) for n in ("a.txt", "notes/keep.txt", "sub/b.md"))
    assert lines[-1].startswith("3 files, ") and "MiB/s" in lines[-1]
    assert "lilt: skipped" in captured.err  # links and the FIFO, one line each


@pytest.mark.storage
def test_many_files_stream_through_in_windows(
    emulator_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are pulled from the walk a window at a time, never all at once."""
    from lilt.transfer import uploader as uploader_module
    from lilt.transfer.walk import LocalFile

    monkeypatch.setattr(uploader_module, "WINDOW", 50)
    pulled = 0
    root = tmp_path / "many"
    root.mkdir()
    for n in range(230):
        (root / f"{n:04d}.txt").write_text(f"file {n}")

    def files() -> Iterator[LocalFile]:
        nonlocal pulled
        for path in sorted(root.iterdir()):
            pulled += 1
            yield LocalFile(str(path), path.name)

    seen_when_first_came = None
    results = []
    with lilt.Uploader() as uploader:
        for result in uploader.iter_upload(files()):
            if seen_when_first_came is None:
                seen_when_first_came = pulled
            results.append(result)
    assert seen_when_first_came is not None and seen_when_first_came <= 100  # two windows
    assert len(results) == 230
    for result in results[::23]:
        assert emulator_env.read_object(result.key) == Path(result.path or "").read_bytes()
    _nothing_pending(emulator_env)


@pytest.mark.storage
def test_upload_folder_python_api(emulator_env: Emulator, tmp_path: Path) -> None:
    root = tmp_path / "api"
    files = _tree(root)
    skipped: list[Any] = []
    results = lilt.upload_folder(
        root,
        exclude=[".*", "*.tmp"],
        on_skip=skipped.append,
        config=lilt.TransferConfig(multipart_threshold=5 * MiB, part_size=5 * MiB),
    )
    names = {r.filename for r in results}
    assert names == {f"api/{n}" for n in files if not n.startswith(".") and ".tmp" not in n}
    assert {Path(s.path).name for s in skipped} == {"loop", "link-to-a.txt", "dangling", "pipe"}
    for result in results:
        assert emulator_env.read_object(result.key) == Path(result.path or "").read_bytes()
    _nothing_pending(emulator_env)


@pytest.mark.storage
def test_upload_folder_failure_carries_earlier_windows_results(
    emulator_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window that fails must not hide the files earlier windows stored."""
    monkeypatch.setattr("lilt.transfer.uploader.WINDOW", 2)
    root = tmp_path / "windows"
    root.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / name).write_bytes(name.encode() * 100)
    # the first window's initiate passes; the second window's is refused for good
    emulator_env.faults.inject(ApiFault.error(400, "refused"), skip=1, operation="initiate")
    with pytest.raises(lilt.exceptions.TransferError) as caught:
        lilt.upload_folder(root)
    stored = caught.value.results
    assert sorted(r.filename for r in stored) == ["windows/a.txt", "windows/b.txt"]
    for result in stored:
        assert emulator_env.read_object(result.key) == Path(result.path or "").read_bytes()
    assert [o.key for o in emulator_env.list_objects()] == sorted(r.key for r in stored)
    assert emulator_env.list_multipart_uploads() == []


def _run_cli(
    args: list[str], env: dict[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lilt", *args],
        input=stdin,
        env=env,
        capture_output=True,
        timeout=120,
        preexec_fn=_default_signals,
    )


def _env(emulator: Emulator, state: Path) -> dict[str, str]:
    return {**os.environ, **emulator.env, "LILT_STATE_DIR": str(state)}


@pytest.mark.storage
def test_stdin_of_unknown_length_goes_multipart(emulator_env: Emulator, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB + 123)
    out = _run_cli(
        [
            "upload",
            "-",
            "--filename",
            "dump.json",
            "--threshold",
            "5MiB",
            "--part-size",
            "5MiB",
            "--json",
        ],
        _env(emulator_env, tmp_path / "s"),
        data,
    )
    assert out.returncode == 0, out.stderr
    [result] = json.loads(out.stdout)["results"]
    assert result["multipart"] is True and result["part_count"] == 3
    assert result["path"] is None and result["filename"] == "dump.json"
    assert _sha(emulator_env.read_object(result["key"])) == _sha(data)
    assert emulator_env.head_object(result["key"]).content_type == "application/json"
    _nothing_pending(emulator_env)


@pytest.mark.storage
def test_filename_and_content_type_override(
    emulator_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"<p>hello</p>")
    assert cli.main(["upload", str(path), "--filename", "page.html", "--json"]) == 0
    [guessed] = json.loads(capsys.readouterr().out)["results"]
    assert guessed["filename"] == "page.html"
    assert emulator_env.head_object(guessed["key"]).content_type == "text/html"
    assert cli.main(["upload", str(path), "--content-type", "text/plain", "--json"]) == 0
    [given] = json.loads(capsys.readouterr().out)["results"]
    assert given["filename"] == "data.bin"
    assert emulator_env.head_object(given["key"]).content_type == "text/plain"


@pytest.mark.storage
def test_uploads_commands_and_aligned_table(
    emulator_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n, name in enumerate(["a.txt", "longer-name.txt", "é.txt"]):
        (tmp_path / name).write_bytes(b"x" * (n + 1))
    paths = [str(tmp_path / n) for n in ("a.txt", "longer-name.txt", "é.txt")]
    assert cli.main(["upload", *paths, "--no-progress"]) == 0
    capsys.readouterr()
    # ten more records, so ids have one and two digits
    with lilt.Uploader() as uploader:
        for n in range(10):
            (tmp_path / f"r{n}.txt").write_text("r")
            uploader.upload_file(tmp_path / f"r{n}.txt")
    assert cli.main(["uploads", "list", "--statuses", "uploaded"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[1:]
    assert len(rows) == 13
    created = header.index("CREATED")
    filename = header.index("FILENAME")
    for row in rows:
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  ", row[created:]), row
        assert row[filename - 2 : filename] == "  " and row[filename] != " "
    assert cli.main(["uploads", "list", "--statuses", "uploaded", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["ok"] is True and "é.txt" in {u["filename"] for u in listed["uploads"]}
    first = listed["uploads"][0]
    assert cli.main(["uploads", "show", str(first["id"])]) == 0
    out = capsys.readouterr().out
    assert f"created:  {first['created_at']}" in out  # the same date format everywhere
    assert cli.main(["uploads", "show", "999999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lilt: API error 404: no upload with id 999999 (request id req_")
    assert err.count("\n") == 1


@pytest.mark.storage
def test_cancel_by_upload_id_and_key(
    emulator_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with lilt.ApiClient(lilt.Configuration()) as client:
        started = lilt.UploadsApi(client).initiate_multipart_upload(
            lilt.InitiateMultipartUploadBody(filename="c.zip", type="application/zip")
        )
    assert len(emulator_env.list_multipart_uploads()) == 1
    assert cli.main(["uploads", "cancel", started.upload_id]) == 2  # no journal knows its key
    assert "give its key too" in capsys.readouterr().err
    assert cli.main(["uploads", "cancel", started.upload_id, started.key]) == 0
    assert "cancelled" in capsys.readouterr().out
    _nothing_pending(emulator_env)


@pytest.mark.storage
def test_wrong_key_is_one_clean_line(
    emulator_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(b"x")
    assert cli.main(["upload", str(path), "--api-key", "not-the-key-4f1d9c"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTPHeaderDict" not in err
    assert "API error 401: invalid Authorization" in err and "request id req_" in err


@pytest.mark.storage
@pytest.mark.slow
def test_demo_verifies_what_it_uploaded(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["demo", "--size", "17MiB", "--part-size", "5MiB", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["verified"] is True and summary["parts"] == 4
    assert summary["size"] == 17 * MiB


# --- interruptions, resume and clean-up (child processes) --------------------------------------


def _default_signals() -> None:
    """In the child: the default dispositions, whatever the test process inherited."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


@pytest.fixture
def stalled(emulator_env: Emulator) -> Iterator[FaultProxy]:
    """Storage behind a proxy, where ``_interrupt`` holds part 2's answer: time to interrupt."""
    host, port = emulator_env.storage.url.removeprefix("http://").rsplit(":", 1)
    with FaultProxy((host, int(port))) as proxy:
        emulator_env.presign_endpoint = proxy.url
        yield proxy


def _interrupt(
    args: list[str], env: dict[str, str], proxy: FaultProxy, signum: int
) -> subprocess.CompletedProcess[str]:
    def part_2() -> int:
        return sum("partNumber=2" in r.target for r in proxy.requests)

    before = part_2()
    proxy.inject(Fault.stall(5.0), method="PUT", path=r"partNumber=2", times=1)
    child = subprocess.Popen(
        [sys.executable, "-m", "lilt", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_signals,
    )
    deadline = time.monotonic() + 60
    while part_2() == before:
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    child.send_signal(signum)
    out, err = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def _big(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(16 * MiB))
    return path


SMALL_PARTS = ["--part-size", "5MiB", "--threshold", "5MiB", "--concurrency", "1"]


def _keep_by_signal(
    path: Path, env: dict[str, str], stalled: FaultProxy, signum: int, emulator: Emulator
) -> subprocess.CompletedProcess[str]:
    """Interrupt ``lilt upload path`` mid-part with ``signum``: it exits 128 + signum
    and keeps its one multipart upload for resuming."""
    stopped = _interrupt(["upload", str(path), *SMALL_PARTS], env, stalled, signum)
    assert stopped.returncode == 128 + signum, stopped.stderr
    assert len(emulator.list_multipart_uploads()) == 1
    return stopped


@pytest.mark.storage
def test_sigterm_keeps_the_upload_and_the_same_command_resumes(
    emulator_env: Emulator, stalled: FaultProxy, tmp_path: Path
) -> None:
    path = _big(tmp_path)
    state = tmp_path / "s"
    env = _env(emulator_env, state)
    stopped = _keep_by_signal(path, env, stalled, signal.SIGTERM, emulator_env)
    [kept] = emulator_env.list_multipart_uploads()
    lines = stopped.stderr.splitlines()
    assert lines[0] == "lilt: terminated (SIGTERM)"
    assert f"  lilt upload {path} --part-size 5MiB --threshold 5MiB --concurrency 1" in lines
    assert f"  lilt uploads cancel {kept.upload_id} {kept.key}" in lines
    assert len(_journals(state)) == 2  # the journal and its description

    again = _run_cli(["upload", str(path), *SMALL_PARTS, "--json"], env)
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    [result] = document["results"]
    assert result["upload_id"] == kept.upload_id and result["resumed_parts"] >= 1
    assert document["resumed_bytes"] >= 5 * MiB
    assert document["sent_bytes"] == 16 * MiB - document["resumed_bytes"]
    assert _sha(emulator_env.read_object(result["key"])) == _sha(path.read_bytes())
    _nothing_pending(emulator_env)
    assert _journals(state) == []


@pytest.mark.storage
def test_sighup_and_no_resume_abort(
    emulator_env: Emulator, stalled: FaultProxy, tmp_path: Path
) -> None:
    path = _big(tmp_path)
    state = tmp_path / "s"
    stopped = _interrupt(
        ["upload", str(path), *SMALL_PARTS, "--no-resume"],
        _env(emulator_env, state),
        stalled,
        signal.SIGHUP,
    )
    assert stopped.returncode == 129, stopped.stderr
    assert "hung up (SIGHUP)" in stopped.stderr and "aborted" in stopped.stderr
    _nothing_pending(emulator_env)
    assert len(emulator_env.requests("cancel_multipart_upload")) == 1
    assert _journals(state) == []


@pytest.mark.storage
def test_ctrl_c_exits_130(emulator_env: Emulator, stalled: FaultProxy, tmp_path: Path) -> None:
    path = _big(tmp_path)
    stopped = _interrupt(
        ["upload", str(path), *SMALL_PARTS, "--no-resume", "--json"],
        _env(emulator_env, tmp_path / "s"),
        stalled,
        signal.SIGINT,
    )
    assert stopped.returncode == 130, stopped.stderr
    document = json.loads(stopped.stdout)
    assert document == {
        "ok": False,
        "error": {"message": "interrupted", "type": "KeyboardInterrupt", "exit_code": 130},
    }
    _nothing_pending(emulator_env)


@pytest.mark.storage
def test_cancel_by_record_id_and_clean(
    emulator_env: Emulator, stalled: FaultProxy, tmp_path: Path
) -> None:
    path = _big(tmp_path)
    state = tmp_path / "s"
    env = _env(emulator_env, state)
    _keep_by_signal(path, env, stalled, signal.SIGINT, emulator_env)
    [kept] = emulator_env.list_multipart_uploads()
    listed = _run_cli(["uploads", "list", "--json"], env)
    document = json.loads(listed.stdout)
    [record] = document["uploads"]
    assert document["kept"][0]["upload_id"] == kept.upload_id
    assert document["kept"][0]["key"] == kept.key

    # clean: a dry run lists it and cancels nothing
    dry = _run_cli(["uploads", "clean", "--older-than", "0s"], env)
    assert dry.returncode == 0 and kept.upload_id in dry.stdout.decode()
    assert "dry run" in dry.stdout.decode()
    assert len(emulator_env.list_multipart_uploads()) == 1

    # cancel by the record id alone: the upload id and key come from the journal
    cancelled = _run_cli(["uploads", "cancel", str(record["id"])], env)
    assert cancelled.returncode == 0, cancelled.stderr
    _nothing_pending(emulator_env)
    assert json.loads(_run_cli(["uploads", "list", "--json"], env).stdout)["kept"] == []

    # after a second interruption, clean --yes cancels it
    _keep_by_signal(path, env, stalled, signal.SIGINT, emulator_env)
    done = _run_cli(["uploads", "clean", "--older-than", "0s", "--yes", "--json"], env)
    assert json.loads(done.stdout)["cancelled"] and done.returncode == 0
    _nothing_pending(emulator_env)


@pytest.mark.storage
def test_stale_journal_of_a_removed_file_is_cleaned(
    emulator_env: Emulator, stalled: FaultProxy, tmp_path: Path
) -> None:
    path = _big(tmp_path)
    state = tmp_path / "s"
    env = _env(emulator_env, state)
    _keep_by_signal(path, env, stalled, signal.SIGTERM, emulator_env)
    path.unlink()  # the kept upload can never be resumed now
    other = tmp_path / "other.txt"
    other.write_text("other")
    out = _run_cli(["upload", str(other)], env)
    assert out.returncode == 0, out.stderr
    assert "removed stale resume journal" in out.stderr.decode()
    assert "cancelled 1 kept upload" in out.stderr.decode()
    _nothing_pending(emulator_env)
    assert _journals(state) == []


# --- the default client and the connection pool ------------------------------------------------


@pytest.mark.storage
def test_default_client_follows_the_environment(
    lilt_storage: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hello.txt"
    path.write_text("hello")
    monkeypatch.setattr(lilt.ApiClient, "_default", None)
    for _ in range(2):  # the testing guide's pattern: a second emulator in the same process
        with Emulator(lilt_storage) as emulator:
            for name, value in emulator.env.items():
                monkeypatch.setenv(name, value)
            result = lilt.upload_file(path)
            assert emulator.read_object(result.key) == b"hello"


@pytest.mark.storage
def test_sixteen_threads_share_a_client_without_pool_warnings(
    emulator_env: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    barrier = threading.Barrier(16)
    with lilt.ApiClient(lilt.Configuration()) as client:
        api = lilt.UploadsApi(client)

        def work() -> None:
            barrier.wait()
            for _ in range(5):
                api.get_pending_uploads()

        threads = [threading.Thread(target=work) for _ in range(16)]
        with caplog.at_level("WARNING"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


# --- an API whose records name their multipart upload --------------------------------------


def test_records_with_upload_id_and_key_are_shown_and_cancellable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Where the API reports ``uploadId`` and ``key`` on a record, list, show, cancel by
    record id and clean use them (the emulator, like LILT's documented API, does not)."""
    from support.http_server import Reply, Seen, Upstream

    record = {
        "id": 7,
        "filename": "big.zip",
        "status": "pending",
        "created_at": "2026-01-13T09:30:00.123456Z",
        "uploadId": "mpu-77",
        "key": "uploads/7/big.zip",
    }

    def answer(seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path == "/v2/upload":
            return Reply(200, [record], {"Content-Type": "application/json"})
        if seen.method == "GET" and seen.path == "/v2/upload/7":
            return Reply(200, record, {"Content-Type": "application/json"})
        if seen.method == "DELETE" and seen.path == "/v2/upload/s3/multipart/mpu-77":
            return Reply(
                200, {"success": True, "message": "aborted"}, {"Content-Type": "application/json"}
            )
        return Reply(404, {"message": "no"}, {"Content-Type": "application/json"})

    with Upstream(answer) as api:
        common = ["--api-key", "k", "--host", api.url]
        assert cli.main(["uploads", "list", *common]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].split() == ["ID", "STATUS", "CREATED", "FILENAME", "UPLOAD", "ID", "KEY"]
        assert out[1].split() == [
            "7",
            "pending",
            "2026-01-13T09:30:00Z",
            "big.zip",
            "mpu-77",
            "uploads/7/big.zip",
        ]
        assert cli.main(["uploads", "show", "7", *common]) == 0
        shown = capsys.readouterr().out
        assert "upload id: mpu-77" in shown and "key:       uploads/7/big.zip" in shown
        assert cli.main(["uploads", "clean", "--older-than", "1h", *common]) == 0
        assert "would cancel 1 multipart upload" in capsys.readouterr().out
        assert not any(s.method == "DELETE" for s in api.seen)  # a dry run
        assert cli.main(["uploads", "cancel", "7", *common]) == 0
        assert "cancelled mpu-77 (uploads/7/big.zip): aborted" in capsys.readouterr().out
        [delete] = [s for s in api.seen if s.method == "DELETE"]
        assert delete.query == "s3Key=uploads/7/big.zip"
