"""Which local files an upload covers: file arguments as given, folders walked lazily.

A folder is walked one directory at a time (``os.listdir``), and files are
yielded as they are found, so a tree of any size never becomes one list, an
argument list, or one open descriptor per file. The rules, also in
``docs/uploads.md``:

* **Names.** A file inside a folder is sent with its path relative to the
  folder's parent, ``/``-separated: ``lilt upload photos`` sends
  ``photos/2024/a.jpg``. A file given directly is sent with its base name.
* **Filters.** ``include`` and ``exclude`` are shell patterns (``fnmatch``:
  ``*``, ``?``, ``[abc]``; ``*`` also crosses ``/``). A pattern without ``/``
  matches a name (a file's, or a folder's); one with ``/`` matches the path
  inside the folder given (``drafts/*.txt``). A file is taken when no
  ``include`` is given or one matches, and no ``exclude`` matches. A folder
  matched by an ``exclude`` is not entered at all (``--exclude .git``).
* **Hidden files** (names starting with ``.``) are uploaded like any other,
  as ``aws s3 cp``, ``gsutil cp`` and ``rclone`` do; ``--exclude '.*'`` leaves
  them (and hidden folders) out.
* **Symbolic links** are followed, to files and to folders, and can never
  loop: a folder already entered (by its device and inode) is skipped, and
  so is a file already taken under another name (a second link or hard link
  to it), so each file is uploaded once, under the first name found.
  Links that point nowhere are skipped.
* **Empty folders** upload nothing: object storage has files, not folders.
* **Other entries** (FIFOs, sockets, devices) are skipped: reading a FIFO
  would block, and a device has no size.

Everything skipped is reported to ``on_skip`` with the reason; ``error`` is
True for what the user probably wanted uploaded (a folder or file that
could not be read) and False for what the rules leave out by design.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Callable, Optional, Union

__all__ = ["LocalFile", "SkippedPath", "collect", "walk"]


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: where it is, and the name the API is told."""

    path: str
    filename: str


@dataclass(frozen=True)
class SkippedPath:
    """A path left out of an upload, and why."""

    path: str
    reason: str
    error: bool = False


OnSkip = Callable[[SkippedPath], None]
StrPath = Union[str, "os.PathLike[str]"]


def _ignore(_: SkippedPath) -> None:
    pass


class _Filter:
    """``include``/``exclude`` patterns: a pattern without ``/`` matches a name, one with ``/``
    the path inside the folder walked."""

    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self.include = tuple(p.strip("/") for p in include)
        self.exclude = tuple(p.strip("/") for p in exclude)

    @staticmethod
    def _matches(patterns: Sequence[str], inner: str) -> bool:
        name = inner.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(inner if "/" in p else name, p) for p in patterns)

    def takes_file(self, inner: str) -> bool:
        if self._matches(self.exclude, inner):
            return False
        return not self.include or self._matches(self.include, inner)

    def enters_folder(self, inner: str) -> bool:
        return not self._matches(self.exclude, inner)


def walk(
    folder: StrPath,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    on_skip: OnSkip = _ignore,
    _seen_files: Optional[dict[tuple[int, int], str]] = None,
) -> Iterator[LocalFile]:
    """The files under ``folder``, lazily, in name order (a folder's files before its subfolders).

    Raises ``FileNotFoundError``/``NotADirectoryError`` for ``folder`` itself;
    anything below it that cannot be read is reported to ``on_skip``.
    """
    root = os.fspath(folder)
    info = os.stat(root)  # follows a link; a missing folder raises here
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", root)
    top = os.path.basename(os.path.normpath(os.path.abspath(root))) or "root"
    rules = _Filter(include, exclude)
    entered: set[tuple[int, int]] = {(info.st_dev, info.st_ino)}
    seen = _seen_files if _seen_files is not None else {}
    # Depth first with an explicit stack: no recursion limit on deep trees.
    stack: list[tuple[str, str]] = [(root, "")]
    while stack:
        directory, inner_dir = stack.pop()
        names = _names_in(directory, on_skip)
        if names is None:
            continue
        folders: list[tuple[str, str]] = []
        for name in names:
            path = os.path.join(directory, name)
            inner = f"{inner_dir}/{name}" if inner_dir else name
            target = _stat_of(path, on_skip)
            if target is None:
                continue
            identity = (target.st_dev, target.st_ino)
            if stat.S_ISDIR(target.st_mode):
                if not rules.enters_folder(inner):
                    continue
                if identity in entered:
                    on_skip(
                        SkippedPath(
                            path, "folder already walked (a link loop or a second link to it)"
                        )
                    )
                    continue
                entered.add(identity)
                folders.append((path, inner))
            elif stat.S_ISREG(target.st_mode):
                if not rules.takes_file(inner):
                    continue
                first = seen.get(identity)
                if first is not None:
                    on_skip(SkippedPath(path, f"same file as {first} (a link to it)"))
                    continue
                seen[identity] = path
                yield LocalFile(path, f"{top}/{inner}")
            else:
                on_skip(SkippedPath(path, "not a regular file"))
        stack.extend(reversed(folders))


def _names_in(directory: str, on_skip: OnSkip) -> Optional[list[str]]:
    """The sorted names in ``directory``; None (and reported) if it cannot be listed."""
    try:
        # Names only (not DirEntry objects): a folder of 100,000 files costs a few MiB
        # while it is walked, then nothing.
        return sorted(os.listdir(directory))
    except OSError as exc:
        on_skip(SkippedPath(directory, _reason(exc), error=True))
        return None


def _stat_of(path: str, on_skip: OnSkip) -> Optional[os.stat_result]:
    """What ``path`` is, links followed; None (and reported) if that cannot be known."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            on_skip(SkippedPath(path, "symbolic link to nothing"))
        else:  # removed while we looked
            on_skip(SkippedPath(path, "removed during the walk", error=True))
    except OSError as exc:
        on_skip(SkippedPath(path, _reason(exc), error=True))
    return None


def collect(
    paths: Iterable[StrPath],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    on_skip: OnSkip = _ignore,
) -> Iterator[LocalFile]:
    """Files given directly (as they are: no filters) and the files of folders given, lazily.

    A missing path raises ``FileNotFoundError`` when it is reached. A file
    reached twice (given twice, or also inside a folder given) is taken once.
    """
    seen: dict[tuple[int, int], str] = {}
    for item in paths:
        path = os.fspath(item)
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            yield from walk(
                path, include=include, exclude=exclude, on_skip=on_skip, _seen_files=seen
            )
            continue
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            on_skip(SkippedPath(path, f"same file as {seen[identity]}"))
            continue
        seen[identity] = path
        yield LocalFile(path, os.path.basename(path))


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
