"""The per-user state folder: where the ``lilt`` command keeps resume journals unasked.

``lilt upload big.tar`` interrupted (Ctrl-C, a lost network, a closed
laptop) continues where it stopped when the same command runs again, with
no flag: the command keeps a journal (:mod:`lilt.transfer.journal`) for every
run in this folder, named after what the run uploads and where to:

* the API host and account (a digest of the key, never the key), since an
  upload id means nothing to another server or account;
* each path given on the command line, by its real path, device and inode
  (the file's identity), in any order.

So ``lilt upload b a`` resumes ``lilt upload a b``, and a file replaced by
another of the same name starts afresh. Inside a journal, each file's
record also carries its size, modification time and sampled content, and
the uploader refuses to resume onto a file that changed.

A run that finishes removes its journal. Journals left behind are *stale*
when a path they cover is gone or is another file now, or when nothing was
written to them for ``max_age`` (7 days by default, well inside the usual
storage lifecycle that expires unfinished multipart uploads). Stale journals
of the current host and account are cleaned at the start of the next upload:
their kept multipart uploads are cancelled on the server, then the files are
removed. Those of another host or account cannot be cancelled from here and
are only removed, once they are ``max_age`` old.

Where the folder is: ``$LILT_STATE_DIR`` when set; otherwise
``$XDG_STATE_HOME/lilt`` (default ``~/.local/state/lilt``) on Linux and other
Unix systems, ``~/Library/Application Support/lilt`` on macOS, and
``%LOCALAPPDATA%\\lilt\\State`` on Windows. Journals live in its
``journals`` subfolder, readable by their owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

from lilt.transfer.journal import Journal, JournalError, JournalRecord

__all__ = ["JournalSlot", "KeptUpload", "StateFolder", "Target", "state_home"]

VERSION = 1
DEFAULT_MAX_AGE = 7 * 24 * 3600.0
#: a journal file without its description (or the reverse) older than this is debris
_DEBRIS_AGE = 3600.0


def state_home(environ: Optional[Mapping[str, str]] = None, platform: Optional[str] = None) -> Path:
    """The ``lilt`` state folder of this user on this platform (not created here)."""
    env = os.environ if environ is None else environ
    system = sys.platform if platform is None else platform
    if env.get("LILT_STATE_DIR"):
        return Path(env["LILT_STATE_DIR"])
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    if system == "win32":
        base = env.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "lilt" / "State"
    if system == "darwin":
        return home / "Library" / "Application Support" / "lilt"
    xdg = env.get("XDG_STATE_HOME", "")
    # The XDG spec: a relative path is invalid and must be ignored.
    return (Path(xdg) if os.path.isabs(xdg) else home / ".local" / "state") / "lilt"


@dataclass(frozen=True)
class Target:
    """Where uploads go: the API host and a digest naming the account (not the key)."""

    host: str
    account: str

    @classmethod
    def of(cls, host: str, api_key: str) -> Target:
        digest = hashlib.sha256(b"lilt-account\0" + api_key.encode("utf-8")).hexdigest()
        return cls(host.rstrip("/"), digest[:16])


@dataclass(frozen=True)
class KeptUpload:
    """A multipart upload a journal keeps for resuming."""

    upload_id: str
    key: str
    path: str
    filename: str
    parts: int
    journal: str
    command: Optional[str]
    idle_seconds: float


@dataclass(frozen=True)
class JournalSlot:
    """One run's journal in the state folder, and the description written beside it."""

    path: Path
    description: Path

    def remove(self) -> None:
        """Delete the journal and its description (the run finished: nothing to resume)."""
        for each in (self.path, self.description):
            with contextlib.suppress(FileNotFoundError):
                each.unlink()


@dataclass(frozen=True)
class _Entry:
    slot: JournalSlot
    target: Optional[Target]
    sources: tuple[tuple[str, int, int], ...]
    command: Optional[str]
    idle_seconds: float


class StateFolder:
    """The journals folder: create a run's journal, list what is kept, clean what is stale."""

    def __init__(
        self,
        root: Optional[Path] = None,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root if root is not None else state_home()
        self.journals = self.root / "journals"
        self.max_age = max_age
        self._clock = clock

    def journal_for(
        self, target: Target, sources: Sequence[str], *, command: Optional[str] = None
    ) -> JournalSlot:
        """The journal for uploading ``sources`` to ``target`` (created with its description).

        Raises ``OSError`` when the folder cannot be created or written.
        """
        identities = sorted(_identity(s) for s in sources)
        name = hashlib.sha256(
            json.dumps([target.host, target.account, identities]).encode("utf-8")
        ).hexdigest()[:32]
        self.journals.mkdir(parents=True, exist_ok=True, mode=0o700)
        slot = JournalSlot(self.journals / f"{name}.journal", self.journals / f"{name}.json")
        if not slot.description.exists():
            description = {
                "version": VERSION,
                "host": target.host,
                "account": target.account,
                "sources": [list(i) for i in identities],
                "command": command,
            }
            temporary = slot.description.with_suffix(".json.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(description, handle)
            os.replace(temporary, slot.description)
        return slot

    # --- reading ----------------------------------------------------------------

    def _entries(self) -> Iterator[_Entry]:
        try:
            names = sorted(p.name for p in self.journals.iterdir())
        except OSError:
            return
        now = self._clock()
        for name in names:
            if not name.endswith(".json"):
                continue
            description = self.journals / name
            slot = JournalSlot(description.with_suffix(".journal"), description)
            try:
                data = json.loads(description.read_text(encoding="utf-8"))
                target = Target(str(data["host"]), str(data["account"]))
                sources = tuple((str(p), int(d), int(i)) for p, d, i in data["sources"])
                command = data.get("command")
            except (OSError, ValueError, KeyError, TypeError):
                target, sources, command = None, (), None
            try:
                touched = max(_mtime(slot.path), _mtime(description))
            except OSError:
                continue
            yield _Entry(
                slot,
                target,
                sources,
                command if isinstance(command, str) else None,
                max(0.0, now - touched),
            )

    def kept(self, target: Optional[Target] = None) -> list[KeptUpload]:
        """Multipart uploads kept for resuming (of ``target`` only, when given).

        Journals in use by a running upload are passed over: what they hold is
        being uploaded, not kept.
        """
        found: list[KeptUpload] = []
        for entry in self._entries():
            if target is not None and entry.target != target:
                continue
            for record in _read_records(entry.slot.path):
                if record.upload_id and not record.completed:
                    found.append(
                        KeptUpload(
                            record.upload_id,
                            record.key,
                            record.path,
                            record.filename,
                            len(record.parts),
                            str(entry.slot.path),
                            entry.command,
                            entry.idle_seconds,
                        )
                    )
        return found

    def forget(self, upload_id: str) -> bool:
        """Drop ``upload_id`` from the journals that keep it (it was cancelled); True if any did.

        A journal in use by a running upload is left alone.
        """
        forgot = False
        for entry in self._entries():
            try:
                with Journal(entry.slot.path) as journal:
                    for record in journal.records():
                        if record.upload_id == upload_id and not record.completed:
                            journal.discard(record)
                            forgot = True
            except (OSError, JournalError):
                continue
        return forgot

    # --- cleaning ---------------------------------------------------------------

    def clean(self, target: Target, cancel: Callable[[str, str], None]) -> list[str]:
        """Remove stale journals; cancel the uploads they keep when they are ``target``'s.

        ``cancel(upload_id, key)`` cancels one upload on the server (a
        cancelled or unknown upload is the caller's to ignore). A journal whose
        uploads could not all be cancelled is kept for the next try. Returns a
        line for each journal removed.
        """
        notes: list[str] = []
        for entry in self._entries():
            reason = self._staleness(entry)
            if reason is None:
                continue
            ours = entry.target == target
            if not ours and entry.idle_seconds < self.max_age:
                continue  # another server's uploads: only its own credentials can cancel them
            cancelled = 0
            if ours:
                try:
                    cancelled = _cancel_kept(entry.slot.path, cancel)
                except JournalError:
                    continue  # in use by a running upload, or the server said no: next time
            entry.slot.remove()
            notes.append(_note(entry, reason, cancelled))
        return notes

    def _staleness(self, entry: _Entry) -> Optional[str]:
        if entry.target is None:
            return "unreadable description" if entry.idle_seconds > _DEBRIS_AGE else None
        if not entry.slot.path.exists():
            return "no journal" if entry.idle_seconds > _DEBRIS_AGE else None
        if entry.idle_seconds >= self.max_age:
            return f"unused for {entry.idle_seconds / 86400:.0f} days"
        for path, device, inode in entry.sources:
            try:
                info = os.stat(path)
            except OSError:
                return f"{path} is gone"
            if (info.st_dev, info.st_ino) != (device, inode):
                return f"{path} is another file now"
        return None


def _cancel_kept(path: Path, cancel: Callable[[str, str], None]) -> int:
    """Cancel every upload the journal at ``path`` keeps; JournalError if one could not be."""
    try:
        journal = Journal(path)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise JournalError(str(exc)) from exc
    cancelled = 0
    with journal:
        for record in journal.records():
            if record.upload_id and not record.completed:
                try:
                    cancel(record.upload_id, record.key)
                except Exception as exc:  # the server may be down: keep the journal, try later
                    raise JournalError(f"could not cancel {record.upload_id}: {exc}") from exc
                cancelled += 1
    return cancelled


def _note(entry: _Entry, reason: str, cancelled: int) -> str:
    uploads = ""
    if cancelled:
        uploads = f"; cancelled {cancelled} kept upload{'s' if cancelled != 1 else ''}"
    return f"removed stale resume journal {entry.slot.path.name} ({reason}{uploads})"


def _identity(source: str) -> tuple[str, int, int]:
    real = os.path.realpath(source)
    info = os.stat(real)
    return (real, info.st_dev, info.st_ino)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def kept_records(path: Union[str, Path]) -> list[JournalRecord]:
    """The multipart uploads the journal at ``path`` keeps for resuming; none when
    it is missing or a running upload holds it."""
    return [r for r in _read_records(path) if r.upload_id and not r.completed]


def _read_records(path: Union[str, Path]) -> list[JournalRecord]:
    """A journal's records; none while a running upload holds it (it keeps nothing
    yet), and none, without creating it, when there is no journal."""
    if not os.path.exists(path):
        return []
    try:
        with Journal(path) as journal:
            return journal.records()
    except (JournalError, OSError):
        return []
