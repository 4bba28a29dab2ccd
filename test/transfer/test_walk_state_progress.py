"""Folder walks, the state folder and the terminal progress line, without a server."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from lilt.transfer import TransferConfig
from lilt.transfer.journal import Journal, JournalFile
from lilt.transfer.progress import ProgressEvent, ProgressTracker, TerminalProgress, render_line
from lilt.transfer.source import file_identity
from lilt.transfer.state import StateFolder, Target, kept_records, state_home
from lilt.transfer.walk import SkippedPath, collect, walk

MiB = 1024 * 1024


# --- walk ------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "t"
    for name in ("x.txt", "a/y.tmp", "a/b/z.txt", ".git/HEAD", ".hidden", "drafts/d.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "empty").mkdir()
    return root


def _names(root: Path, **kwargs: object) -> list[str]:
    return [f.filename for f in walk(root, **kwargs)]  # type: ignore[arg-type]


def test_walk_names_and_order(tree: Path) -> None:
    assert _names(tree) == [
        "t/.hidden",
        "t/x.txt",
        "t/.git/HEAD",
        "t/a/y.tmp",
        "t/a/b/z.txt",
        "t/drafts/d.txt",
    ]


def test_walk_filters(tree: Path) -> None:
    assert _names(tree, exclude=[".*"]) == ["t/x.txt", "t/a/y.tmp", "t/a/b/z.txt", "t/drafts/d.txt"]
    assert _names(tree, include=["*.txt"], exclude=["drafts"]) == ["t/x.txt", "t/a/b/z.txt"]
    assert _names(tree, exclude=["a/b/*"]) == [
        "t/.hidden",
        "t/x.txt",
        "t/.git/HEAD",
        "t/a/y.tmp",
        "t/drafts/d.txt",
    ]
    assert _names(tree, include=["a/*"]) == ["t/a/y.tmp", "t/a/b/z.txt"]


def test_walk_follows_links_without_looping(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.txt").write_text("o")
    (tree / "a" / "up").symlink_to(tree)  # loop
    (tree / "a" / "b" / "loop2").symlink_to(tree / "a")  # another loop
    (tree / "ext").symlink_to(outside)  # a folder elsewhere: followed
    (tree / "x-again").symlink_to(tree / "x.txt")  # the same file twice
    os.link(tree / "x.txt", tree / "hard")  # a hard link: same file too
    (tree / "gone").symlink_to(tree / "missing")
    skipped: list[SkippedPath] = []
    names = _names(tree, on_skip=skipped.append)
    assert "t/ext/o.txt" in names
    # one file, three names: taken once, under the first name found (sorted: "hard")
    assert [n for n in names if n in ("t/x.txt", "t/hard", "t/x-again")] == ["t/hard"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["x.txt"].startswith("same file as") and reasons["x-again"].startswith("same")
    assert reasons["up"].startswith("folder already walked")
    assert reasons["loop2"].startswith("folder already walked")
    assert reasons["gone"] == "symbolic link to nothing"
    assert not any(s.error for s in skipped)


def test_walk_reports_unreadable_folders(tree: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    (tree / "a").chmod(0)
    try:
        skipped: list[SkippedPath] = []
        _names(tree, on_skip=skipped.append)
        assert [s.error for s in skipped if s.path.endswith("/a")] == [True]
    finally:
        (tree / "a").chmod(0o755)


def test_walk_is_lazy(tree: Path) -> None:
    files = walk(tree)
    first = next(files)
    (tree / "zzz-late.txt").write_text("late")  # the top folder was read already
    (tree / "drafts" / "late.txt").write_text("late")  # not yet: it will be seen
    rest = [f.filename for f in files]
    assert first.filename == "t/.hidden"
    assert "t/drafts/late.txt" in rest and "t/zzz-late.txt" not in rest


def test_collect_takes_files_as_given_and_dedupes(tree: Path) -> None:
    found = [f.filename for f in collect([tree / "x.txt", tree, tree / "x.txt"])]
    assert found[0] == "x.txt" and found.count("t/x.txt") == 0 and found.count("x.txt") == 1
    with pytest.raises(FileNotFoundError):
        list(collect([tree / "nope"]))


# --- the state folder ---------------------------------------------------------------------------


def test_state_home_per_platform() -> None:
    home = {"HOME": "/home/ann"}
    assert state_home(home, "linux") == Path("/home/ann/.local/state/lilt")
    assert state_home({**home, "XDG_STATE_HOME": "/s"}, "linux") == Path("/s/lilt")
    assert state_home({**home, "XDG_STATE_HOME": "rel"}, "linux") == Path(
        "/home/ann/.local/state/lilt"
    )  # relative: invalid per the spec
    assert state_home(home, "darwin") == Path("/home/ann/Library/Application Support/lilt")
    assert state_home({**home, "LOCALAPPDATA": "C:/Users/ann/AppData/Local"}, "win32") == Path(
        "C:/Users/ann/AppData/Local/lilt/State"
    )
    assert state_home({**home, "LILT_STATE_DIR": "/x"}, "linux") == Path("/x")


def test_journal_is_keyed_by_target_and_file_identity(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b")
    state = StateFolder(tmp_path / "state")
    here = Target.of("http://127.0.0.1:1", "key-1")
    slot = state.journal_for(here, [str(a), str(b)])
    assert state.journal_for(here, [str(b), str(a)]) == slot  # any order
    assert state.journal_for(Target.of("http://127.0.0.1:2", "key-1"), [str(a), str(b)]) != slot
    assert state.journal_for(Target.of("http://127.0.0.1:1", "key-2"), [str(a), str(b)]) != slot
    (tmp_path / "a.new").write_text("a")
    os.replace(tmp_path / "a.new", a)  # another file (inode) under the same name
    assert state.journal_for(here, [str(a), str(b)]) != slot
    assert "key-1" not in slot.description.read_text()
    assert oct(slot.description.stat().st_mode & 0o777) == "0o600"


def _kept_upload(state: StateFolder, target: Target, path: Path, upload_id: str) -> None:
    slot = state.journal_for(target, [str(path)], command=f"lilt upload {path}")
    with Journal(slot.path) as journal:
        file = JournalFile(str(path), file_identity(path), path.name, "application/octet-stream")
        journal.start(file, key=f"uploads/{upload_id}", upload_id=upload_id, part_size=5 * MiB)


def test_stale_journals_are_cancelled_and_removed(tmp_path: Path) -> None:
    now = [1_000_000.0]
    state = StateFolder(tmp_path / "state", max_age=100.0, clock=lambda: now[0])
    here, there = Target.of("http://h", "k"), Target.of("http://other", "k")
    kept, gone, foreign = tmp_path / "kept.bin", tmp_path / "gone.bin", tmp_path / "foreign.bin"
    for path in (kept, gone, foreign):
        path.write_bytes(b"x" * 10)
    _kept_upload(state, here, kept, "u-kept")
    _kept_upload(state, here, gone, "u-gone")
    _kept_upload(state, there, foreign, "u-foreign")
    gone.unlink()
    foreign.unlink()
    now[0] = os.stat(state.journals).st_mtime + 1
    assert {k.upload_id for k in state.kept(here)} == {"u-kept", "u-gone"}
    cancelled: list[tuple[str, str]] = []
    notes = state.clean(here, lambda u, k: cancelled.append((u, k)))
    assert cancelled == [("u-gone", "uploads/u-gone")]
    assert len(notes) == 1 and "gone.bin is gone" in notes[0]
    assert {k.upload_id for k in state.kept()} == {"u-kept", "u-foreign"}  # not ours: kept
    now[0] += 101  # now all are old: ours cancelled, the other server's only removed
    state.clean(here, lambda u, k: cancelled.append((u, k)))
    assert cancelled[1:] == [("u-kept", "uploads/u-kept")]
    assert state.kept() == []
    assert list(state.journals.iterdir()) == []


def test_clean_keeps_a_journal_whose_upload_could_not_be_cancelled(tmp_path: Path) -> None:
    state = StateFolder(tmp_path / "state", max_age=0.0)
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    target = Target.of("http://h", "k")
    _kept_upload(state, target, path, "u1")

    def refuse(upload_id: str, key: str) -> None:
        raise ConnectionError("server down")

    assert state.clean(target, refuse) == []
    assert [k.upload_id for k in state.kept()] == ["u1"]


def test_forget_discards_a_cancelled_upload(tmp_path: Path) -> None:
    state = StateFolder(tmp_path / "state")
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    target = Target.of("http://h", "k")
    _kept_upload(state, target, path, "u1")
    assert state.forget("u1") is True
    assert state.kept() == [] and state.forget("u1") is False


# --- progress -----------------------------------------------------------------------------------


def _event(**kwargs: object) -> ProgressEvent:
    values: dict[str, object] = dict(
        name="/data/some/folder/file-0001.bin",
        file_bytes=0,
        file_size=10 * MiB,
        total_bytes=0,
        total_size=300 * MiB,
        file_count=12,
    )
    values.update(kwargs)
    return ProgressEvent(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [20, 30, 40, 60, 80, 100, 132, 200])
def test_line_fits_and_names_the_path_once(width: int) -> None:
    event = _event(total_bytes=123 * MiB, stored_bytes=100 * MiB, files_done=3)
    line = render_line(event, 70.0 * MiB, width)
    assert len(line) <= width
    assert line.startswith(" 41% ")
    assert line.count("file-0001") <= 1
    if width >= 80:
        assert "123.0/300.0 MiB" in line and "70.0 MiB/s" in line and "3/12 files" in line
        assert "0001.bin" in line
    if width >= 132:
        assert line.endswith("/data/some/folder/file-0001.bin")


def test_terminal_rate_counts_what_storage_acknowledged() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = TerminalProgress(out, clock=lambda: now[0], width=lambda: 120, interval=0.0)
    # 64 MiB handed to sockets in the first 0.1 s, nothing acknowledged yet
    bar(_event(total_bytes=64 * MiB))
    now[0] = 0.1
    bar(_event(total_bytes=64 * MiB))
    assert bar.rate() is None and "-- MiB/s" in out.getvalue()
    now[0] = 1.0
    bar(_event(total_bytes=72 * MiB, stored_bytes=64 * MiB))  # 64 MiB stored after 1 s
    assert bar.rate() == pytest.approx(64 * MiB)
    assert "64.0 MiB/s" in out.getvalue().rsplit("\r", 1)[-1]


def test_terminal_rate_leaves_resumed_bytes_out() -> None:
    now = [0.0]
    bar = TerminalProgress(io.StringIO(), clock=lambda: now[0], width=lambda: 100, interval=0.0)
    bar(_event(total_bytes=200 * MiB, stored_bytes=200 * MiB, resumed_bytes=200 * MiB))
    now[0] = 2.0
    bar(_event(total_bytes=220 * MiB, stored_bytes=220 * MiB, resumed_bytes=200 * MiB))
    assert bar.rate() == pytest.approx(10 * MiB)


def test_terminal_close_after_interrupt_draws_nothing_more() -> None:
    out = io.StringIO()
    bar = TerminalProgress(out, width=lambda: 80, interval=0.0)
    bar(_event(total_bytes=MiB))
    drawn = out.getvalue().count("\r")
    bar.close(interrupted=True)
    bar(_event(total_bytes=2 * MiB))  # work finishing during the clean-up
    bar.close()
    assert out.getvalue().count("\r") == drawn
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


def test_tracker_counts_stored_resumed_and_files() -> None:
    events: list[ProgressEvent] = []
    tracker = ProgressTracker(events.append)
    tracker.add_file(1, "a", 10, already=4)
    tracker.add_file(2, "b", 6)
    tracker.sent(1, 2, 6)
    assert (events[-1].total_bytes, events[-1].stored_bytes, events[-1].resumed_bytes) == (10, 4, 4)
    tracker.part_done(1, 2, 6)
    tracker.file_done(1)
    tracker.part_done(2, 1, 6)
    tracker.file_done(2)
    last = events[-1]
    assert (last.total_bytes, last.stored_bytes, last.files_done, last.file_count) == (16, 16, 2, 2)


def test_storage_timeout_takes_one_number() -> None:
    assert TransferConfig(storage_timeout=30).storage_timeout == (30.0, 30.0)
    assert TransferConfig(storage_timeout=(5, 60)).storage_timeout == (5, 60)
    with pytest.raises(ValueError, match="positive"):
        TransferConfig(storage_timeout=0)


def test_kept_records_of_a_missing_journal_are_none_and_create_nothing(tmp_path: Path) -> None:
    """Read after an interrupted run that never opened its journal: nothing is kept,
    and no empty journal is left behind."""
    missing = tmp_path / "never-opened.journal"
    assert kept_records(missing) == []
    assert not missing.exists()
