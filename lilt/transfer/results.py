"""Typed results: what was stored, where, and how it can be checked.

Also the ETag arithmetic, kept here so results, the engine and the tests
agree on one definition: S3 reports a single PUT's ETag as the MD5 of the
body, and a multipart object's as ``md5(md5(part 1) + ... + md5(part N))-N``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

__all__ = ["Checksums", "UploadResult", "UploadedPart", "multipart_etag", "normalize_etag"]


@dataclass(frozen=True)
class UploadedPart:
    """A part storage acknowledged: its number and the ETag exactly as received (quotes kept)."""

    number: int
    etag: str


@dataclass(frozen=True)
class Checksums:
    """Integrity information for one upload (all None when checksums are off).

    Attributes:
        md5: hex MD5 of the whole content, for single-PUT uploads (a multipart
            upload hashes each part once and never the whole file).
        part_md5s: hex MD5 of every part, in part order (multipart only).
        expected_etag: the ETag S3 gives this object if stored as sent:
            the MD5 for one PUT, ``md5-of-md5s-N`` for N parts.
        etag_match: whether every ETag storage reported agreed with the MD5s
            computed here; None when there was nothing to compare (checksums
            off, or ETags that are not MD5s, as with SSE-KMS encryption).
            Storage verified each body against ``Content-MD5`` already, so a
            mismatch means opaque ETags, not corrupted data.
    """

    md5: Optional[str] = None
    part_md5s: tuple[str, ...] = ()
    expected_etag: Optional[str] = None
    etag_match: Optional[bool] = None


@dataclass(frozen=True)
class UploadResult:
    """One file stored by the managed uploader.

    Attributes:
        path: the local path, or None for a stream.
        filename: the name sent to the API.
        key: the storage key the API assigned.
        location: where the object lives: what the complete call reported for
            multipart uploads, the presigned URL without its query for one PUT.
        size: bytes stored.
        part_count: parts uploaded (1 for a single PUT, including empty files).
        upload_id: the multipart upload id, None for single-PUT uploads.
        multipart: whether a multipart upload was used.
        checksums: MD5s and the expected ETag, see :class:`Checksums`.
        resumed_parts: parts taken from the resume journal instead of sent again.
    """

    path: Optional[str]
    filename: str
    key: str
    location: Optional[str]
    size: int
    part_count: int
    upload_id: Optional[str]
    multipart: bool
    checksums: Checksums
    resumed_parts: int = 0


def normalize_etag(etag: str) -> str:
    """An ETag without quotes or a weak prefix, lower case, for comparison only."""
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').lower()


def multipart_etag(part_md5s: Sequence[bytes]) -> str:
    """The ETag S3 reports for a multipart object made of parts with these MD5 digests."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"


def looks_like_md5(etag: str) -> bool:
    """True for a plain 32-hex-digit ETag (what S3 gives unencrypted or SSE-S3 objects)."""
    value = normalize_etag(etag)
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
