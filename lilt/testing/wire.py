"""Reading LILT API requests: every input is checked, and every refusal is a 4xx.

The emulator answers bad input the way a careful server does: with the right
4xx and a ``{"message": ...}`` body saying what was wrong, never a 500. Each
parser here turns raw query values or a JSON body into typed values, or
raises :class:`ApiError` with the status and message to answer.

The rules (LILT's documented shapes; contract sections 2.3 and 7):

- initiate bodies: one object or a list of 1 to 100 objects, each with string
  ``filename`` and ``type`` (a MIME type) and an optional ``metadata`` object
  (``size`` integer >= 0, ``category``/``uuid`` strings, ``labels`` list of strings);
- complete body: ``{"parts": [{"ETag": str, "PartNumber": 1..10000}, ...]}``, part
  numbers strictly ascending (as AWS S3 requires);
- part numbers 1..10000; part ``size`` an integer 0..5 GiB;
- ``ids``/``statuses`` filters and ``metadata.labels`` comma-separated.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any, Optional

from lilt.testing.records import UploadMetadata

__all__ = ["MAX_BULK", "ApiError", "InitiateItem"]

MAX_BULK = 100
MAX_PARTS = 10_000
MAX_PART_SIZE = 5 * 1024**3
MAX_BODY = 4 * 1024**2  # a complete call with 10,000 parts is about 0.5 MiB

_MIME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[ -~]*)?")
_JSON_TYPE = re.compile(r"application/([\w.+-]+\+)?json\s*(;.*)?", re.IGNORECASE)
_UNSAFE_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")


class ApiError(Exception):
    """An answer other than success: HTTP status, message and extra headers."""

    def __init__(
        self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


@dataclasses.dataclass(frozen=True)
class InitiateItem:
    """One file to initiate: its name, MIME type and metadata."""

    filename: str
    content_type: str
    metadata: UploadMetadata


# -- JSON bodies ---------------------------------------------------------------


def json_body(body: bytes, content_type: Optional[str]) -> Any:
    """The decoded JSON body; 415 unless declared JSON, 400 unless valid JSON."""
    if not content_type or not _JSON_TYPE.fullmatch(content_type.strip()):
        raise ApiError(
            415,
            f"expected a JSON body with Content-Type: application/json, "
            f"got {content_type or 'no Content-Type'}",
        )
    if not body:
        raise ApiError(400, "the request body is empty; expected JSON")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def initiate_items(payload: Any) -> tuple[list[InitiateItem], bool]:
    """The items of an initiate body and whether it was a list (then the answer is one too)."""
    if isinstance(payload, list):
        if not payload:
            raise ApiError(400, f"the list is empty; send 1 to {MAX_BULK} items")
        if len(payload) > MAX_BULK:
            raise ApiError(400, f"too many items: {len(payload)}; at most {MAX_BULK} per request")
        return [_initiate_item(item, f"[{i}]") for i, item in enumerate(payload)], True
    return [_initiate_item(payload, "")], False


def _initiate_item(item: Any, where: str) -> InitiateItem:
    if not isinstance(item, dict):
        raise ApiError(400, f"body{where} must be a JSON object with filename and type")
    filename = _required_string(item, "filename", where)
    content_type = _mime_type(_required_string(item, "type", where), f"body{where}.type")
    metadata = item.get("metadata")
    if metadata is None:
        return InitiateItem(filename, content_type, UploadMetadata())
    if not isinstance(metadata, dict):
        raise ApiError(400, f"body{where}.metadata must be an object")
    labels = metadata.get("labels")
    if labels is not None and (
        not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)
    ):
        raise ApiError(400, f"body{where}.metadata.labels must be a list of strings")
    return InitiateItem(
        filename,
        content_type,
        UploadMetadata(
            size=_optional_size(metadata.get("size"), f"body{where}.metadata.size"),
            category=_optional_string(metadata, "category", f"{where}.metadata"),
            uuid=_optional_string(metadata, "uuid", f"{where}.metadata"),
            labels=None if labels is None else tuple(labels),
        ),
    )


def _required_string(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if value is None:
        raise ApiError(400, f"body{where}.{name} is required")
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"body{where}.{name} must be a non-empty string")
    return value


def _optional_string(item: dict[str, Any], name: str, where: str) -> Optional[str]:
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"body{where}.{name} must be a string")
    return value


def _optional_size(value: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, f"{what} must be an integer >= 0")
    return int(value)


def _mime_type(value: str, what: str) -> str:
    if not _MIME.fullmatch(value):
        raise ApiError(400, f"{what} must be a MIME type such as application/pdf, got {value!r}")
    return value


def complete_parts(payload: Any) -> list[tuple[int, str]]:
    """``(part number, ETag)`` pairs of a complete body, in the order sent."""
    if not isinstance(payload, dict) or "parts" not in payload:
        raise ApiError(400, 'the body must be an object with "parts"')
    parts = payload["parts"]
    if not isinstance(parts, list) or not parts:
        raise ApiError(400, '"parts" must be a non-empty list')
    if len(parts) > MAX_PARTS:
        raise ApiError(400, f"too many parts: {len(parts)}; at most {MAX_PARTS}")
    result: list[tuple[int, str]] = []
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            raise ApiError(400, f"parts[{i}] must be an object with ETag and PartNumber")
        etag, number = part.get("ETag"), part.get("PartNumber")
        if not isinstance(etag, str) or not etag:
            raise ApiError(400, f"parts[{i}].ETag must be a non-empty string")
        if isinstance(number, bool) or not isinstance(number, int):
            raise ApiError(400, f"parts[{i}].PartNumber must be an integer")
        number = _part_range(number, f"parts[{i}].PartNumber")
        # AWS S3 requires strictly ascending numbers; SeaweedFS lets repeats through
        if result and number <= result[-1][0]:
            raise ApiError(
                400,
                f"parts[{i}].PartNumber {number} does not follow "
                f"{result[-1][0]}: parts must be in ascending order, each once",
            )
        result.append((number, etag))
    return result


# -- query and path values -----------------------------------------------------


def required(args: Mapping[str, str], name: str) -> str:
    """A query parameter that must be present and non-empty."""
    value = args.get(name)
    if not value:
        raise ApiError(400, f"the query parameter {name} is required")
    return value


def initiate_item_from_query(args: Mapping[str, str]) -> InitiateItem:
    """The item of ``GET /v2/upload/s3/params?filename=&type=&metadata.*=``."""
    labels = args.get("metadata.labels")
    size = args.get("metadata.size")
    return InitiateItem(
        required(args, "filename"),
        _mime_type(required(args, "type"), "type"),
        UploadMetadata(
            size=None if size is None else integer(size, "metadata.size", 0, None),
            category=args.get("metadata.category"),
            uuid=args.get("metadata.uuid"),
            labels=None if labels is None else tuple(x for x in labels.split(",") if x),
        ),
    )


def integer(text: str, what: str, low: int, high: Optional[int]) -> int:
    """``text`` as a decimal integer in ``low..high``."""
    if not re.fullmatch(r"[0-9]{1,19}", text.strip()):
        raise ApiError(400, f"{what} must be an integer, got {text!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ApiError(400, f"{what} must be {bound}, got {value}")
    return value


def part_number(text: str) -> int:
    return integer(text, "the part number", 1, MAX_PARTS)


def _part_range(number: int, what: str) -> int:
    if not 1 <= number <= MAX_PARTS:
        raise ApiError(400, f"{what} must be between 1 and {MAX_PARTS}, got {number}")
    return number


def part_size(text: str) -> int:
    return integer(text, "size", 0, MAX_PART_SIZE)


def id_filter(text: Optional[str]) -> Optional[set[int]]:
    """The ``ids`` filter: comma-separated upload ids (None: no filter)."""
    if not text:
        return None
    return {integer(x, "each of ids", 1, None) for x in text.split(",") if x.strip()}


def status_filter(text: Optional[str]) -> Optional[set[str]]:
    """The ``statuses`` filter (None: no filter); unknown statuses simply match nothing."""
    if not text:
        return None
    return {x.strip() for x in text.split(",") if x.strip()}


def object_key(record_id: int, filename: str) -> str:
    """The storage key of an upload: ``uploads/{id}/{filename}``, made path-safe.

    The id keeps keys unique; slashes, backslashes and control characters in
    the name become ``_`` so a filename can never climb out of its folder.
    """
    name = _UNSAFE_KEY_CHARS.sub("_", filename)[:200]
    if name in ("", ".", ".."):
        name = "file"
    return f"uploads/{record_id}/{name}"
