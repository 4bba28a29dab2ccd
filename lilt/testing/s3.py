"""The emulator's own S3 calls on its bucket, through botocore.

Everything the emulator (and a test) does *to* storage directly, as the LILT
backend would: create and empty the bucket, start, complete and abort
multipart uploads, and look at what is stored (head, read, list). Uploads
themselves never pass through here: clients PUT to presigned URLs
(:mod:`lilt.testing.presign`).

S3 refusals become :class:`S3Error` (status, code, message), so the API layer
can answer with the same status and a readable message; an unreachable
server becomes :class:`StorageUnavailable`.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Optional

from lilt.testing.storage import S3Endpoint

__all__ = ["Bucket", "MultipartInfo", "ObjectInfo", "S3Error", "StorageUnavailable", "client"]

_session_lock = threading.Lock()
_session: Any = None


def client(endpoint: S3Endpoint, url: Optional[str] = None) -> Any:
    """A botocore S3 client for ``endpoint``, addressed at ``url`` (default its own).

    SigV4, path-style, and no checksum unless an operation requires one:
    botocore would otherwise add a CRC32 of the (empty) body to presigned
    requests and to every call, which no client of LILT sends.
    """
    global _session
    import botocore.session
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        region_name=endpoint.region,
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=16,
    )
    # Sessions load botocore's data files once (about 0.1 s); clients are then
    # cheap. A session is not thread-safe, hence the lock.
    with _session_lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session.create_client(
            "s3",
            endpoint_url=url or endpoint.url,
            region_name=endpoint.region,
            aws_access_key_id=endpoint.access_key,
            aws_secret_access_key=endpoint.secret_key,
            config=config,
        )


class S3Error(Exception):
    """The storage server refused a request: its HTTP status, S3 error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status, self.code, self.message = status, code, message


class StorageUnavailable(Exception):
    """The storage server could not be reached."""


@contextmanager
def _s3_errors() -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        raise S3Error(status, str(error.get("Code", "")), str(error.get("Message", ""))) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(str(exc)) from exc


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """A stored object: key, size in bytes, ETag (with its quotes, as S3 sends it)."""

    key: str
    size: int
    etag: str
    content_type: Optional[str] = None
    last_modified: Optional[datetime.datetime] = None


@dataclasses.dataclass(frozen=True)
class MultipartInfo:
    """A multipart upload that was started and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: Optional[datetime.datetime] = None


class Bucket:
    """One bucket on one S3 endpoint, with the operations the emulator needs."""

    def __init__(self, endpoint: S3Endpoint, name: str) -> None:
        self.endpoint = endpoint
        self.name = name
        self._client = client(endpoint)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    # -- the bucket ---------------------------------------------------------

    def create(self) -> None:
        """Create the bucket; an existing bucket of ours is fine."""
        from botocore.exceptions import ClientError

        with _s3_errors():
            try:
                self._client.create_bucket(Bucket=self.name)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise

    def destroy(self) -> None:
        """Abort pending multipart uploads, delete every object, then the bucket."""
        for upload in self.list_multipart_uploads():
            try:
                self.abort_multipart(upload.key, upload.upload_id)
            except S3Error as exc:
                if exc.status != 404:
                    raise
        keys = [info.key for info in self.list_objects()]
        with _s3_errors():
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                self._client.delete_objects(
                    Bucket=self.name,
                    Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
                )
            self._client.delete_bucket(Bucket=self.name)

    # -- objects ------------------------------------------------------------

    def head(self, key: str) -> Optional[ObjectInfo]:
        """The object's size and ETag, or None if there is no such object."""
        from botocore.exceptions import ClientError

        with _s3_errors():
            try:
                answer = self._client.head_object(Bucket=self.name, Key=key)
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    return None
                raise
        return ObjectInfo(
            key,
            int(answer["ContentLength"]),
            str(answer["ETag"]),
            answer.get("ContentType"),
            answer.get("LastModified"),
        )

    def read(self, key: str) -> bytes:
        """The object's bytes (raises :class:`S3Error` 404 ``NoSuchKey`` if absent)."""
        with _s3_errors():
            body = self._client.get_object(Bucket=self.name, Key=key)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix``, in key order."""
        found = []
        with _s3_errors():
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(
                        ObjectInfo(
                            str(item["Key"]),
                            int(item["Size"]),
                            str(item["ETag"]),
                            None,
                            item.get("LastModified"),
                        )
                    )
        return found

    # -- multipart ----------------------------------------------------------

    def list_multipart_uploads(self) -> list[MultipartInfo]:
        """Multipart uploads started and not yet completed or aborted (orphans, in a test)."""
        found = []
        with _s3_errors():
            pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.name)
            for page in pages:
                for item in page.get("Uploads", []):
                    found.append(
                        MultipartInfo(
                            str(item["Key"]), str(item["UploadId"]), item.get("Initiated")
                        )
                    )
        return found

    def has_multipart(self, key: str, upload_id: str) -> bool:
        """Whether storage still has the multipart upload ``upload_id`` of ``key``."""
        with _s3_errors():
            pages = self._client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.name, Prefix=key
            )
            return any(
                item.get("UploadId") == upload_id
                for page in pages
                for item in page.get("Uploads", [])
            )

    def create_multipart(self, key: str, content_type: str) -> str:
        """Start a multipart upload; return its upload id."""
        with _s3_errors():
            answer = self._client.create_multipart_upload(
                Bucket=self.name, Key=key, ContentType=content_type
            )
        return str(answer["UploadId"])

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> str:
        """Complete a multipart upload from ``(part number, ETag)`` pairs; return the ETag."""
        with _s3_errors():
            answer = self._client.complete_multipart_upload(
                Bucket=self.name,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )
        return str(answer.get("ETag", ""))

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload; storage discards its parts."""
        with _s3_errors():
            self._client.abort_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id)
