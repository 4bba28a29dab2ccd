"""Presigned storage URLs, as LILT hands them out: SigV4 query-signed, path-style.

The emulator talks to storage at one address and writes *another* into the
URLs it hands out, the way a backend behind a load balancer does; a test can
then route the client's PUTs through a fault-injecting proxy. SigV4 signs the
``Host`` header, so the URLs are signed for the address written into them
(the public one): a proxy that forwards the ``Host`` it received unchanged
keeps the signature valid.

- Single upload: ``put_object`` signed *with* ``Content-Type``, so storage
  refuses a PUT that declares another type (403 SignatureDoesNotMatch).
- Part upload: ``upload_part``; ``Content-MD5`` is left unsigned, so a client
  may add it and storage checks it (400 BadDigest on a mismatch).

Signing is pure computation (no request is made), so it is cheap.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from lilt.testing.s3 import client
from lilt.testing.storage import S3Endpoint

__all__ = ["Presigner"]


class Presigner:
    """Signs upload URLs for ``bucket`` on ``endpoint``, addressed at ``public_url``.

    :param public_url: the S3 address written into URLs (default: the
        endpoint's own). Must be an ``http(s)://host:port`` without a path.
    """

    def __init__(self, endpoint: S3Endpoint, bucket: str, public_url: Optional[str] = None) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.public_url = (public_url or endpoint.url).rstrip("/")
        self._client: Any = client(endpoint, self.public_url)

    def close(self) -> None:
        self._client.close()

    def put_url(self, key: str, content_type: str, expires_in: int) -> str:
        """A URL for one PUT of the whole object, bound to ``content_type``."""
        return str(
            self._client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
                ExpiresIn=expires_in,
                HttpMethod="PUT",
            )
        )

    def part_url(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        """A URL for the PUT of part ``part_number`` of multipart upload ``upload_id``."""
        return str(
            self._client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "UploadId": upload_id,
                    "PartNumber": part_number,
                },
                ExpiresIn=expires_in,
                HttpMethod="PUT",
            )
        )

    def object_url(self, key: str) -> str:
        """The object's unsigned address (the ``location`` of a completed upload)."""
        return f"{self.public_url}/{quote(self.bucket)}/{quote(key)}"
