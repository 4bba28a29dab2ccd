"""Where the bytes come from: positional reads from files, bounded reads from streams.

Files are read with ``os.pread`` on one descriptor, so any number of worker
threads read their own part without sharing a file position. A part is
hashed 1 MiB at a time and then sent as a :class:`FileRegion`, which storage
connections hand to ``sendfile``: the bytes go from the page cache to the
socket without being copied through Python or held whole. Every read also
checks that the file still has the size and modification time it had when
the upload was planned, and so does every PUT: a file that changes under an
upload would otherwise be stored as a mixture of old and new bytes with every
checksum agreeing.

Streams (``upload_fileobj``) are read sequentially by one thread, a part at a
time, so memory stays bounded even when the total size is unknown.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Callable, Optional, Union

from lilt.transfer.plan import PartSpec

__all__ = [
    "FileIdentity",
    "FileRange",
    "FileSource",
    "SourceChangedError",
    "StreamSource",
    "file_identity",
]

_SAMPLE_BLOCK = 64 * 1024
_HAS_PREAD = hasattr(os, "pread")


class SourceChangedError(OSError):
    """The file changed (size, modification time or content) while it was being uploaded."""


@dataclass(frozen=True)
class FileIdentity:
    """Enough about a file to tell whether it is still the same content.

    Size and modification time catch ordinary edits; the sampled hash (the
    first, middle and last 64 KiB) catches a copy that kept the old mtime.
    """

    size: int
    mtime_ns: int
    sample: str

    def describe_change(self, other: FileIdentity) -> Optional[str]:
        """A short reason why ``other`` is not this file, or None when they match."""
        if self.size != other.size:
            return f"size changed from {self.size} to {other.size} bytes"
        if self.mtime_ns != other.mtime_ns:
            return "modification time changed"
        if self.sample != other.sample:
            return "content changed"
        return None


class FileSource:
    """A regular file opened for positional reads.

    Opening it is the pre-flight check: a missing path raises
    ``FileNotFoundError``, a directory ``IsADirectoryError``, anything else
    that is not a regular file (a FIFO, a device) ``OSError(EINVAL)``, and an
    unreadable file ``PermissionError``, each before any request is sent.
    """

    def __init__(
        self, path: Union[str, os.PathLike[str]], *, expect: Optional[tuple[int, int]] = None
    ) -> None:
        """Open ``path``; with ``expect=(size, mtime_ns)`` also check it is still that file."""
        self.path = os.fspath(path)
        # stat before open: opening a FIFO for reading blocks until a writer appears.
        info = os.stat(self.path)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", self.path)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", self.path)
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        self._fd: Optional[int] = os.open(self.path, flags)
        self._lock = threading.Lock()  # only used where os.pread does not exist
        opened = os.fstat(self._fd)
        self.size = opened.st_size
        self.mtime_ns = opened.st_mtime_ns
        if expect is not None and expect != (self.size, self.mtime_ns):
            self.close()
            raise SourceChangedError(
                errno.EIO, "file changed between planning and uploading", self.path
            )

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path}: source is closed")
        return self._fd

    def identity(self) -> FileIdentity:
        return FileIdentity(self.size, self.mtime_ns, _sample_hash(self.size, self._pread))

    def read(self, spec: PartSpec) -> bytes:
        """The bytes of ``spec``, exactly ``spec.length`` of them, or SourceChangedError."""
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
        """Raise SourceChangedError unless size and modification time are as when opened."""
        now = os.fstat(self.fd)
        if now.st_size != self.size:
            reason = f"size changed from {self.size} to {now.st_size} bytes during the upload"
        elif now.st_mtime_ns != self.mtime_ns:
            reason = "file was modified during the upload"
        else:
            return
        raise SourceChangedError(errno.EIO, reason, self.path)

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

    Storage connections made by :class:`~lilt.transfer.storage.StorageClient`
    send it with ``sendfile``: the kernel moves the bytes from the page cache
    to the socket, with no copy through Python (on TLS sockets it is read in
    1 MiB blocks). Any other connection reads it like a file (``read``), and
    ``bytes(region)`` gives its content, so it works wherever a body does.
    """

    __slots__ = ("_pos", "fd", "length", "offset")

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self.fd = fd
        self.offset = offset
        self.length = length
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


class FileRange:
    """A byte range of a file as a request body, sent as :class:`FileRegion` chunks.

    Nothing of it is held in memory; each attempt calls :meth:`chunks` afresh.
    """

    CHUNK = 1024 * 1024

    def __init__(self, source: FileSource, spec: PartSpec) -> None:
        self._source = source
        self._spec = spec

    def __len__(self) -> int:
        return self._spec.length

    def chunks(self, size: Optional[int] = None) -> Iterator[FileRegion]:
        """The range as regions of at most ``size`` bytes (one region when None)."""
        fd = self._source.fd
        offset, end = self._spec.offset, self._spec.end
        step = size or max(end - offset, 1)
        while offset < end:
            length = min(step, end - offset)
            yield FileRegion(fd, offset, length)
            offset += length


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

        Read into one preallocated buffer and returned without a copy.
        """
        if length == 0:
            return bytearray()
        buf = bytearray(length)
        got = 0
        readinto = getattr(self._fileobj, "readinto", None)
        with memoryview(buf) as view:
            while got < length:
                if readinto is not None:
                    n = readinto(view[got:])
                else:
                    chunk: object = self._fileobj.read(length - got)
                    if not isinstance(chunk, (bytes, bytearray)):
                        raise TypeError(
                            "upload_fileobj needs a binary stream (open the file with 'rb')"
                        )
                    n = len(chunk)
                    view[got : got + n] = chunk
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

    def check_complete(self) -> None:
        """Raise if a stream of declared size ended early."""
        if self.size is not None and self.consumed != self.size:
            raise SourceChangedError(
                errno.EIO,
                f"stream ended after {self.consumed} of its declared {self.size} bytes",
                self.name,
            )


def _remaining_size(fileobj: IO[bytes]) -> Optional[int]:
    try:
        if not fileobj.seekable():
            return None
        here = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(here, os.SEEK_SET)
        return max(0, end - here)
    except (AttributeError, OSError, ValueError):
        return None
