"""Changing a file the way real tools do, so that every change shows in its identity.

Shared by the transfer and fault suites' tests of files that change while
they are uploaded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def age(path: Path) -> None:
    """Wait until the clock is past ``path``'s status-change time, so a change shows in it.

    File systems stamp times from a coarse clock (a few ms); a change in the
    same tick as the file's creation would keep the old ctime. Not a timing
    assertion: the tests only need the next change to be visible.
    """
    while time.time_ns() - os.stat(path).st_ctime_ns < 30_000_000:
        time.sleep(0.005)


def rewrite_keeping_mtime(path: Path, offset: int = 0, length: int = 16) -> None:
    """Overwrite bytes in place and put the old mtime back (as cp -p, rsync -t, touch -r)."""
    age(path)
    before = os.stat(path)
    with open(path, "r+b") as handle:
        handle.seek(offset)
        old = handle.read(length)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in old))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def replace(path: Path, content: bytes) -> None:
    """Rename a new file with ``content`` over ``path`` (another inode under the same name)."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(content)
    os.replace(fresh, path)


def change(path: Path, how: str) -> bytes:
    """Append to, truncate, rewrite (keeping the mtime) or replace the file; return its new content."""
    age(path)
    if how == "append":
        with open(path, "ab") as handle:
            handle.write(b"appended while uploading")
    elif how == "truncate":
        os.truncate(path, os.stat(path).st_size // 3)
    elif how == "rewrite":  # in place, then the old mtime back, as cp -p and rsync -t do
        rewrite_keeping_mtime(path, offset=os.stat(path).st_size // 2, length=4096)
    elif how == "replace":  # another file renamed over the path
        replace(path, os.urandom(os.stat(path).st_size))
    else:
        raise AssertionError(how)
    return path.read_bytes()
