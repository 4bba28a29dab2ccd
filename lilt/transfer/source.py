"""Where the bytes come from: positional reads from files, bounded reads from streams.

Files are read with ``os.pread`` on one descriptor, so any number of worker
threads read their own part without sharing a file position. A part is
hashed 1 MiB at a time and then sent as :class:`FileRegion` chunks, which
storage connections hand to ``sendfile``: the bytes go from the page cache to
the socket without being copied through Python or held whole.

A file that changes under an upload would be stored as a mixture of old and
new bytes with every checksum agreeing, so the file's whole identity (size,
modification time, status-change time, inode and device: :class:`Snapshot`)
is taken when the upload is planned and compared at every read, between the
chunks of every body, before the last bytes of every body are sent (the tail
of a body is read into memory and checked first, so a change found there
stops the request before storage has the whole body), after every PUT, and
before the upload is completed. The status-change time (``ctime``) catches a
rewrite whose tool put the old modification time back (``cp -p``,
``rsync --inplace -t``, ``touch -r``): no program can set it.

Streams (``upload_fileobj``) are read sequentially by one thread, a part at a
time, so memory stays bounded even when the total size is unknown.
"""

from __future__ import annotations

import errno
import hashlib
import os
import select
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Callable, Optional, Union

from lilt.transfer.plan import PartSpec

__all__ = [
    "BodyAborted",
    "FileIdentity",
    "FileRange",
    "FileSource",
    "Snapshot",
    "SourceChangedError",
    "StreamSource",
    "file_identity",
]

_SAMPLE_BLOCK = 64 * 1024
_HAS_PREAD = hasattr(os, "pread")
#: the last bytes of a body sent from a file are read and checked before they are sent
TAIL = 64 * 1024
#: a non-blocking stream that says "no data" this often although readable is refused
_MAX_IDLE_WAKEUPS = 10_000


class SourceChangedError(OSError):
    """The file changed (size, modification time or content) while it was being uploaded."""


class BodyAborted(Exception):
    """A request body stopped because its source changed; ``error`` says how.

    Deliberately not an ``OSError``: urllib3 would take it for a network
    failure and the request would be retried. Raised inside the body, it
    closes the connection before storage has the whole body (so nothing is
    stored) and reaches the storage client as itself.
    """

    def __init__(self, error: SourceChangedError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Snapshot:
    """Everything ``stat`` says about a file's identity and version.

    Size and modification time change with ordinary writes; the
    status-change time (``ctime``) changes with every write and every
    metadata change and cannot be set by any program, so it also catches a
    rewrite whose tool restored the old modification time; inode and device
    tell a file replaced by another (a rename over the path) from the one
    opened.
    """

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, info: os.stat_result) -> Snapshot:
        return cls(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)

    def change(self, now: Snapshot) -> Optional[str]:
        """Why ``now`` is not this version of the file, or None when it is."""
        if (self.inode, self.device) != (now.inode, now.device):
            return "the file was replaced by another file (its inode changed)"
        if self.size != now.size:
            return f"size changed from {self.size} to {now.size} bytes"
        if self.mtime_ns != now.mtime_ns:
            return "the file was modified (its modification time changed)"
        if self.ctime_ns != now.ctime_ns:
            return (
                "the file was rewritten or its metadata changed (its status-change time "
                "changed, though its size and modification time did not)"
            )
        return None


@dataclass(frozen=True)
class FileIdentity:
    """Enough about a file to tell whether it is still the same content (kept in journals).

    Size and modification time catch ordinary edits; the sampled hash (the
    first, middle and last 64 KiB) catches a copy that kept the old mtime;
    the status-change time, inode and device (None in journals written
    before they were recorded) catch a rewrite in place and a replaced file.
    """

    size: int
    mtime_ns: int
    sample: str
    ctime_ns: Optional[int] = None
    inode: Optional[int] = None
    device: Optional[int] = None

    def describe_change(self, other: FileIdentity) -> Optional[str]:
        """A short reason why ``other`` is not this file, or None when they match."""
        if self.size != other.size:
            return f"size changed from {self.size} to {other.size} bytes"
        if self.mtime_ns != other.mtime_ns:
            return "modification time changed"
        if self.sample != other.sample:
            return "content changed"
        if _known_and_differ(self.inode, other.inode) or _known_and_differ(
            self.device, other.device
        ):
            return "the file was replaced by another file"
        if _known_and_differ(self.ctime_ns, other.ctime_ns):
            return "the file was rewritten or its metadata changed (status-change time)"
        return None


def _known_and_differ(first: Optional[int], second: Optional[int]) -> bool:
    return first is not None and second is not None and first != second


class FileSource:
    """A regular file opened for positional reads.

    Opening it is the pre-flight check: a missing path raises
    ``FileNotFoundError``, a directory ``IsADirectoryError``, anything else
    that is not a regular file (a FIFO, a device) or a pseudo-file that
    claims a size of 0 but has content (``/proc/...``) ``OSError(EINVAL)``,
    and an unreadable file ``PermissionError``, each before any request is sent.
    """

    def __init__(
        self, path: Union[str, bytes, os.PathLike[Any]], *, expect: Optional[Snapshot] = None
    ) -> None:
        """Open ``path``; with ``expect`` also check it is still that version of that file."""
        self.path = os.fsdecode(path)
        # stat before open: opening a FIFO for reading blocks until a writer appears.
        info = os.stat(self.path)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", self.path)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", self.path)
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        self._fd: Optional[int] = os.open(self.path, flags)
        self._lock = threading.Lock()  # only used where os.pread does not exist
        self.snapshot = Snapshot.of(os.fstat(self._fd))
        self.size = self.snapshot.size
        self.mtime_ns = self.snapshot.mtime_ns
        if expect is not None:
            change = expect.change(self.snapshot)
            if change is not None:
                self.close()
                raise SourceChangedError(
                    errno.EIO, f"file changed between planning and uploading: {change}", self.path
                )
        if self.size == 0 and self._pread(1, 0):
            self.close()
            raise OSError(
                errno.EINVAL,
                "the file reports a size of 0 but has content (a pseudo-file, as in /proc); "
                "its size is unknown until it is read, so upload it as a stream: "
                "upload_fileobj(open(path, 'rb'), filename)",
                self.path,
            )

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path}: source is closed")
        return self._fd

    def identity(self) -> FileIdentity:
        snap = self.snapshot
        return FileIdentity(
            snap.size,
            snap.mtime_ns,
            _sample_hash(self.size, self._pread),
            snap.ctime_ns,
            snap.inode,
            snap.device,
        )

    def read(self, spec: PartSpec) -> bytes:
        """The bytes of ``spec``, exactly ``spec.length`` of them, or SourceChangedError.

        The identity is checked after the read: if it still matches, no
        write had started before the bytes were read.
        """
        data = self._pread(spec.length, spec.offset)
        if len(data) != spec.length:
            raise SourceChangedError(
                errno.EIO,
                f"file shrank during the upload: part {spec.number} at offset {spec.offset} "
                f"read {len(data)} of {spec.length} bytes",
                self.path,
            )
        self.check_unchanged()
        return data

    def md5(self, spec: PartSpec) -> bytes:
        """MD5 digest of ``spec``'s bytes, read 1 MiB at a time (nothing else is held)."""
        digest = hashlib.md5()
        offset, end = spec.offset, spec.end
        while offset < end:
            piece = PartSpec(spec.number, offset, min(FileRange.CHUNK, end - offset))
            digest.update(self.read(piece))
            offset = piece.end
        return digest.digest()

    def range(self, spec: PartSpec) -> FileRange:
        """``spec``'s bytes as a body that the kernel sends straight from the file."""
        return FileRange(self, spec)

    def check_unchanged(self) -> None:
        """Raise SourceChangedError unless the open file is the version that was planned."""
        change = self.snapshot.change(Snapshot.of(os.fstat(self.fd)))
        if change is not None:
            raise SourceChangedError(errno.EIO, f"{change} during the upload", self.path)

    def check_path(self) -> None:
        """Like :meth:`check_unchanged`, and the path still names this file (not a replacement)."""
        try:
            now = Snapshot.of(os.stat(self.path))
        except FileNotFoundError:
            raise SourceChangedError(
                errno.EIO, "the file was removed or renamed during the upload", self.path
            ) from None
        change = self.snapshot.change(now)
        if change is not None:
            raise SourceChangedError(errno.EIO, f"{change} during the upload", self.path)
        self.check_unchanged()

    def _pread(self, length: int, offset: int) -> bytes:
        if length == 0:
            return b""
        if _HAS_PREAD:
            first = os.pread(self.fd, length, offset)
            if len(first) == length or not first:
                return first
            # A short read is legal (signals, network file systems): keep reading.
            chunks = [first]
            got = len(first)
            while got < length:
                more = os.pread(self.fd, length - got, offset + got)
                if not more:
                    break
                chunks.append(more)
                got += len(more)
            return b"".join(chunks)
        with self._lock:  # pragma: no cover - platforms without pread (Windows)
            os.lseek(self.fd, offset, os.SEEK_SET)
            out = bytearray()
            while len(out) < length:
                more = os.read(self.fd, length - len(out))
                if not more:
                    break
                out += more
            return bytes(out)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileRegion:
    """A byte range of an open file, as one chunk of a request body.

    Storage connections made by :class:`~lilt.transfer.storage_client.StorageClient`
    send it with ``sendfile``: the kernel moves the bytes from the page cache
    to the socket, with no copy through Python (on TLS sockets it is read in
    1 MiB blocks). Any other connection reads it like a file (``read``), and
    ``bytes(region)`` gives its content, so it works wherever a body does.
    ``path`` names the file in errors.
    """

    __slots__ = ("_pos", "fd", "length", "offset", "path")

    def __init__(self, fd: int, offset: int, length: int, path: str = "") -> None:
        self.fd = fd
        self.offset = offset
        self.length = length
        self.path = path
        self._pos = offset

    def __len__(self) -> int:
        return self.length

    def __bool__(self) -> bool:
        return self.length > 0

    def __bytes__(self) -> bytes:
        return os.pread(self.fd, self.length, self.offset)

    def fileno(self) -> int:
        return self.fd

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        # absolute file offsets, as socket.sendfile uses them; a position of our own,
        # so threads sharing the descriptor never disturb each other
        self._pos = position if whence == os.SEEK_SET else self._pos + position
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self.offset + self.length
        if size < 0 or self._pos + size > end:
            size = max(0, end - self._pos)
        data = os.pread(self.fd, size, self._pos) if size else b""
        self._pos += len(data)
        return data

    def shrank(self, sent: int) -> BodyAborted:
        """The error for a region of which only ``sent`` bytes could be read: the file shrank."""
        return BodyAborted(
            SourceChangedError(
                errno.EIO,
                f"file shrank during the upload: {sent} of {self.length} bytes at offset "
                f"{self.offset} could be sent",
                self.path,
            )
        )


class FileRange:
    """A byte range of a file as a request body: :class:`FileRegion` chunks, then a checked tail.

    Nothing but the tail (at most :data:`TAIL` bytes) is held in memory; each
    attempt calls :meth:`chunks` afresh. Between regions and before the tail
    the file's identity is checked, and the tail is read into memory before
    that last check: a body whose file changed is cut short before storage
    has all of it, so storage stores nothing. (Bytes the kernel already took
    with ``sendfile`` may still be in the socket's queue when the tail is
    checked; the check after the PUT covers them.)
    """

    CHUNK = 1024 * 1024

    def __init__(self, source: FileSource, spec: PartSpec) -> None:
        self._source = source
        self._spec = spec

    def __len__(self) -> int:
        return self._spec.length

    def chunks(self, size: Optional[int] = None) -> Iterator[Union[FileRegion, bytes]]:
        """The range as regions of at most ``size`` bytes (one region when None), then the tail."""
        source = self._source
        fd = source.fd
        offset, end = self._spec.offset, self._spec.end
        tail_at = max(offset, end - TAIL)
        step = size or max(tail_at - offset, 1)
        while offset < tail_at:
            length = min(step, tail_at - offset)
            yield FileRegion(fd, offset, length, source.path)
            offset += length
            try:
                source.check_unchanged()
            except SourceChangedError as exc:
                raise BodyAborted(exc) from None
        if offset < end:
            try:
                tail = source.read(PartSpec(self._spec.number, offset, end - offset))
            except SourceChangedError as exc:
                raise BodyAborted(exc) from None
            yield tail


def file_identity(path: Union[str, os.PathLike[str]]) -> FileIdentity:
    """The identity of the file at ``path`` now (used to check a journal before resuming)."""
    with FileSource(path) as source:
        return source.identity()


def _sample_hash(size: int, pread: Callable[[int, int], bytes]) -> str:
    digest = hashlib.sha256(str(size).encode())
    offsets = sorted({0, max(0, size // 2 - _SAMPLE_BLOCK // 2), max(0, size - _SAMPLE_BLOCK)})
    for offset in offsets:
        digest.update(pread(min(_SAMPLE_BLOCK, size - offset), offset))
    return digest.hexdigest()


class StreamSource:
    """A binary file object read front to back, one part at a time.

    Only the orchestrating thread reads (parts must come out in order), so no
    lock is needed; each part is read into a fresh buffer that the worker
    uploading it drops when done. ``size`` is known when the caller gave it
    or the object is seekable; otherwise None until the end is reached.
    """

    def __init__(self, fileobj: IO[bytes], name: str, size: Optional[int] = None) -> None:
        given: object = fileobj  # checked at run time: callers pass anything
        if isinstance(given, (str, bytes, os.PathLike)):
            raise TypeError("upload_fileobj needs a file object; use upload_file for paths")
        if not hasattr(given, "read"):
            raise TypeError("upload_fileobj needs a binary file object with a read() method")
        self._fileobj = fileobj
        self.name = name
        self.size = size if size is not None else _remaining_size(fileobj)
        if self.size is not None and self.size < 0:
            raise ValueError(f"size must not be negative, got {self.size}")
        self.consumed = 0

    def read(self, length: int) -> bytearray:
        """Up to ``length`` bytes; fewer only at the end of the stream.

        Read into one preallocated buffer and returned without a copy. Only
        an empty read is the end: a non-blocking stream that has no data yet
        (``readinto`` or ``read`` gives None) is waited on until it has, when
        it has a file descriptor to wait on, and refused otherwise.
        """
        if length == 0:
            return bytearray()
        buf = bytearray(length)
        got = 0
        readinto = getattr(self._fileobj, "readinto", None)
        idle = 0
        with memoryview(buf) as view:
            while got < length:
                n: Optional[int]
                if readinto is not None:
                    n = readinto(view[got:])
                else:
                    chunk: object = self._fileobj.read(length - got)
                    if chunk is None:
                        n = None
                    elif not isinstance(chunk, (bytes, bytearray)):
                        raise TypeError(
                            "upload_fileobj needs a binary stream (open the file with 'rb')"
                        )
                    else:
                        n = len(chunk)
                        view[got : got + n] = chunk
                if n is None:  # no data yet, which is not the end
                    idle += 1
                    self._wait_readable(idle)
                    continue
                idle = 0
                if not n:
                    break
                got += n
        self.consumed += got
        if self.size is not None and self.consumed > self.size:
            raise SourceChangedError(
                errno.EIO,
                f"stream is longer than its declared size of {self.size} bytes",
                self.name,
            )
        if got < length:
            del buf[got:]  # the memoryview is released, so the buffer may shrink
        return buf

    def _wait_readable(self, idle: int) -> None:
        """Block until a non-blocking stream's descriptor has data (or its end)."""
        fileno = getattr(self._fileobj, "fileno", None)
        try:
            fd = fileno() if fileno is not None else None
        except (OSError, ValueError):  # io.UnsupportedOperation is both
            fd = None
        if fd is None or idle > _MAX_IDLE_WAKEUPS:
            raise ValueError(
                f"{self.name}: the stream is non-blocking and has no data yet (read gave None), "
                "and it has no file descriptor to wait on; pass a blocking stream"
                if fd is None
                else f"{self.name}: the stream keeps answering 'no data yet' although its "
                "descriptor is readable; pass a blocking stream"
            )
        try:
            select.select([fd], [], [])
        except (OSError, ValueError) as exc:  # e.g. Windows, where only sockets can be selected
            raise ValueError(
                f"{self.name}: the stream is non-blocking and its descriptor cannot be waited "
                f"on ({exc}); pass a blocking stream"
            ) from exc

    def check_complete(self) -> None:
        """Raise if a stream of declared size ended early."""
        if self.size is not None and self.consumed != self.size:
            raise SourceChangedError(
                errno.EIO,
                f"stream ended after {self.consumed} of its declared {self.size} bytes",
                self.name,
            )


def _remaining_size(fileobj: IO[bytes]) -> Optional[int]:
    """The bytes left in a seekable stream; None when unknown.

    Zero counts as unknown: pseudo-files (``/proc/...``) seek to an end of 0
    whatever they hold, and a stream that really is empty is found to be so
    by its first read.
    """
    try:
        if not fileobj.seekable():
            return None
        here = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(here, os.SEEK_SET)
    except (AttributeError, OSError, ValueError):
        return None
    remaining = end - here
    return remaining if remaining > 0 else None
