"""The local LILT uploads emulator: the API on a background thread, storage on real S3.

::

    from lilt.testing import Emulator

    with Emulator() as emu:                # starts its own SeaweedFS
        ...                                 # LILT_API_HOST=emu.base_url, LILT_API_KEY=emu.api_key
        assert emu.read_object(key) == data
        assert emu.list_multipart_uploads() == []

Pass ``storage=`` (an :class:`~lilt.testing.storage.S3Endpoint`, e.g. the
``lilt_storage`` fixture's) to share one storage server between many
emulators: each gets its own bucket, so a new emulator costs milliseconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any, Optional

from werkzeug.serving import make_server

from lilt.testing.app import Backend, EmulatorApp, QuietRequestHandler, refresh
from lilt.testing.faults import FaultPlan, operation_names
from lilt.testing.presign import Presigner
from lilt.testing.records import ApiRequest, RecordStore, RequestLog, UploadRecord
from lilt.testing.s3 import Bucket, MultipartInfo, ObjectInfo, S3Error, StorageUnavailable
from lilt.testing.storage import S3Endpoint, SeaweedFS

__all__ = ["Emulator"]

logger = logging.getLogger("lilt.testing")


class Emulator:
    """LILT's Uploads API on ``http://127.0.0.1:PORT``, backed by a real S3 bucket.

    :param storage: the S3 server to use; None starts a private SeaweedFS for
        this emulator's lifetime (about a second).
    :param api_key: the key clients must present (default: random).
    :param bucket: the bucket to use (created if missing, never deleted);
        default: a fresh ``lilt-emulator-...`` bucket, deleted with its
        contents at :meth:`stop`.
    :param presign_endpoint: the S3 address written into presigned URLs
        (default: the storage's own), e.g. a fault proxy in front of storage.
    :param url_lifetime: seconds a presigned URL stays valid.
    :param port: the API's port on 127.0.0.1 (0: any free port).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        storage: Optional[S3Endpoint] = None,
        *,
        api_key: Optional[str] = None,
        bucket: Optional[str] = None,
        presign_endpoint: Optional[str] = None,
        url_lifetime: int = 3600,
        port: int = 0,
    ) -> None:
        if url_lifetime < 1:
            raise ValueError(f"url_lifetime must be at least 1 second, got {url_lifetime}")
        self.api_key = api_key or "lilt-emulator-" + os.urandom(12).hex()
        self.bucket = bucket or "lilt-emulator-" + os.urandom(6).hex()
        self.faults = FaultPlan()
        self._storage = storage
        self._own_storage: Optional[SeaweedFS] = None
        self._keep_bucket = bucket is not None
        self._presign_endpoint = presign_endpoint
        self._url_lifetime = url_lifetime
        self._port = port
        self._records = RecordStore()
        self._requests = RequestLog()
        self._backend: Optional[Backend] = None
        self._server: Any = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> Emulator:
        """Start storage (if it is ours), create the bucket, serve the API; idempotent."""
        with self._lock:
            if self._backend is not None:
                return self
            try:
                self._start()
            except BaseException:
                self._stop()
                raise
            return self

    def stop(self) -> None:
        """Stop serving, delete our bucket, stop our storage; safe to call twice."""
        with self._lock:
            self._stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.base_url if self._server is not None else "stopped"
        return f"<Emulator {state} bucket={self.bucket!r}>"

    def _start(self) -> None:
        if self._storage is None:
            self._own_storage = SeaweedFS()
            self._storage = self._own_storage.start()
        self._backend = Backend(
            api_key=self.api_key,
            bucket=Bucket(self._storage, self.bucket),
            presigner=Presigner(self._storage, self.bucket, self._presign_endpoint),
            url_lifetime=self._url_lifetime,
            records=self._records,
            requests=self._requests,
            faults=self.faults,
            stopping=threading.Event(),
        )
        self._backend.bucket.create()
        self._server = make_server(
            "127.0.0.1",
            self._port,
            EmulatorApp(self._backend),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
        self._server.lilt_connections = set()  # kept alive; closed at stop
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"lilt-emulator:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()

    def _stop(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.stopping.set()  # ends injected delays at once
        if self._server is not None:
            if self._thread is not None:
                _shut_down(self._server, self._thread)
            self._server.server_close()
            for connection in list(self._server.lilt_connections):
                with contextlib.suppress(OSError):  # a keep-alive connection, maybe idle
                    connection.shutdown(socket.SHUT_RDWR)
            self._server = self._thread = None
        if backend is not None:
            # Storage of our own goes with its directory: emptying the bucket
            # object by object first would only cost time (minutes for 10,000s).
            if not self._keep_bucket and self._own_storage is None:
                try:
                    backend.bucket.destroy()
                except (S3Error, StorageUnavailable) as exc:
                    logger.warning("could not delete bucket %s: %s", self.bucket, exc)
            backend.bucket.close()
            backend.presigner.close()
        if self._own_storage is not None:
            self._own_storage.stop()
            self._own_storage = self._storage = None

    # -- addresses and knobs ------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the host to give the SDK (``LILT_API_HOST``)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def env(self) -> dict[str, str]:
        """``LILT_API_KEY`` and ``LILT_API_HOST`` for this emulator."""
        return {"LILT_API_KEY": self.api_key, "LILT_API_HOST": self.base_url}

    @property
    def storage(self) -> S3Endpoint:
        """The S3 endpoint the emulator stores into."""
        if self._storage is None:
            raise RuntimeError("the emulator is not running")
        return self._storage

    @property
    def presign_endpoint(self) -> str:
        """The S3 address written into presigned URLs; settable while running."""
        return self._running().presigner.public_url

    @presign_endpoint.setter
    def presign_endpoint(self, url: Optional[str]) -> None:
        self._presign_endpoint = url
        backend = self._backend
        if backend is not None:
            old, backend.presigner = backend.presigner, Presigner(self.storage, self.bucket, url)
            old.close()

    @property
    def url_lifetime(self) -> int:
        """Seconds a presigned URL handed out from now on stays valid; settable."""
        return self._url_lifetime

    @url_lifetime.setter
    def url_lifetime(self, seconds: int) -> None:
        if seconds < 1:
            raise ValueError(f"url_lifetime must be at least 1 second, got {seconds}")
        self._url_lifetime = seconds
        if self._backend is not None:
            self._backend.url_lifetime = seconds

    # -- what happened ------------------------------------------------------

    def uploads(self) -> list[UploadRecord]:
        """Every upload record, by id, with single uploads' status brought up to date."""
        backend = self._running()
        return [refresh(backend, record) for record in self._records.all()]

    def upload(self, upload_id: int) -> UploadRecord:
        """One upload record (KeyError if there is none)."""
        record = self._records.get(upload_id)
        if record is None:
            raise KeyError(upload_id)
        return refresh(self._running(), record)

    def requests(self, *operations: str) -> list[ApiRequest]:
        """The API requests received so far (the latest 10,000), oldest first; only
        ``operations`` if named (operation names or the SDK's method names)."""
        return self._requests.snapshot(operation_names(operations) if operations else None)

    def clear_requests(self) -> None:
        self._requests.clear()

    # -- storage ------------------------------------------------------------

    def read_object(self, key: str) -> bytes:
        """The stored object's bytes."""
        return self._running().bucket.read(key)

    def head_object(self, key: str) -> Optional[ObjectInfo]:
        """The stored object's size and ETag, or None if it is not there."""
        return self._running().bucket.head(key)

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        """The objects in the bucket under ``prefix``, by key."""
        return self._running().bucket.list_objects(prefix)

    def list_multipart_uploads(self) -> list[MultipartInfo]:
        """Multipart uploads neither completed nor aborted: after a test, orphans."""
        return self._running().bucket.list_multipart_uploads()

    def _running(self) -> Backend:
        backend = self._backend
        if backend is None:
            raise RuntimeError("the emulator is not running: call start() or use `with`")
        return backend


def _shut_down(server: Any, thread: threading.Thread) -> None:
    """Stop ``serve_forever`` at once rather than at its next poll.

    ``shutdown()`` only sets a flag that the serving loop reads when its
    ``select`` returns; a connection makes it return now. The poked
    connection is closed unsent, which the handler shrugs off.
    """
    stopper = threading.Thread(target=server.shutdown, daemon=True)
    stopper.start()
    deadline = time.monotonic() + 10
    while stopper.is_alive() and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", server.server_port), timeout=1).close()
        stopper.join(0.005)
    thread.join(timeout=max(0.0, deadline - time.monotonic()))
