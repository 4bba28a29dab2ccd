"""In-memory stand-ins for the LILT API and for storage, for socket-free engine tests.

``FakeStorage`` replaces the ``urllib3.PoolManager`` the uploader PUTs with
(it answers like S3: quoted MD5 ETags, ``BadDigest`` on a wrong Content-MD5,
``InvalidPart`` at complete); ``FakeApi`` implements the five ``UploadsApi``
methods the uploader calls on top of it. Faults are scripted per request by a
callable that may raise a urllib3 error or return a canned response.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

from urllib3 import HTTPHeaderDict

from lilt.transfer import SerialExecutor, TransferConfig, Uploader

STORAGE = "http://storage.test"
MiB = 1024 * 1024


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def small_config(**overrides: Any) -> TransferConfig:
    """5 MiB parts and a 5 MiB threshold: many parts from small files."""
    values: dict[str, Any] = {
        "multipart_threshold": 5 * MiB,
        "part_size": 5 * MiB,
        "concurrency": 4,
    }
    values.update(overrides)
    return TransferConfig(**values)


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class Response:
    status: int
    headers: HTTPHeaderDict = field(default_factory=HTTPHeaderDict)
    data: bytes = b""


def xml_error(
    status: int, code: str, message: str = "", headers: Optional[dict[str, str]] = None
) -> Response:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return Response(status, HTTPHeaderDict(headers or {}), body)


Fault = Callable[[Request, int], Optional[Response]]


class FakeStorage:
    """A ``PoolManager`` look-alike that stores what is PUT to it."""

    def __init__(self, fault: Optional[Fault] = None, *, keep: bool = True) -> None:
        self.fault = fault
        self.keep = keep  # False: remember only sizes and MD5s (for memory tests)
        self.objects: dict[str, bytes] = {}
        self.parts: dict[tuple[str, int], tuple[bytes, str]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.cleared = False

    def urlopen(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: Optional[dict[str, str]] = None,
        **kw: Any,
    ) -> Response:
        assert kw.get("retries") is False and kw.get("redirect") is False
        if self.keep:
            data = _read_body(body)
            md5, length = hashlib.md5(data).digest(), len(data)
        else:  # hash as it arrives: hold nothing (the uploader's memory is under test)
            digest, length = hashlib.md5(), 0
            for chunk in [body] if isinstance(body, (bytes, bytearray)) else body:
                data = chunk if isinstance(chunk, (bytes, bytearray, memoryview)) else bytes(chunk)
                digest.update(data)
                length += len(data)
            data, md5 = b"", digest.digest()
        request = Request(method, url, dict(headers or {}), data)
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
        if int(request.headers.get("Content-Length", -1)) != length:
            return xml_error(400, "IncompleteBody")
        if self.fault is not None:
            canned = self.fault(request, number)
            if canned is not None:
                return canned
        sent_md5 = request.headers.get("Content-MD5")
        if sent_md5 is not None and base64.b64decode(sent_md5) != md5:
            return xml_error(400, "BadDigest", "The Content-MD5 you specified did not match")
        etag = f'"{md5.hex()}"'
        query = request.query
        with self.lock:
            if "partNumber" in query:
                self.parts[(query["uploadId"], int(query["partNumber"]))] = (data, etag)
            else:
                self.objects[request.path.lstrip("/")] = data
        return Response(200, HTTPHeaderDict({"ETag": etag}))

    def clear(self) -> None:
        self.cleared = True

    def puts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "PUT"]


def _read_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    return b"".join(bytes(chunk) for chunk in body)


class FakeApi:
    """The five UploadsApi calls the uploader makes, backed by a FakeStorage."""

    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage
        self.calls: list[tuple[str, Any]] = []
        self.open_uploads: dict[str, str] = {}  # upload id -> key
        self.completed: dict[str, str] = {}
        self.aborted: list[str] = []
        self._ids = itertools.count(1)
        self.lock = threading.Lock()
        self.fail_sign: Optional[Callable[[int], Optional[Exception]]] = None

    def _record(self, name: str, detail: Any) -> None:
        with self.lock:
            self.calls.append((name, detail))

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)

    def initiate_s3_upload(self, body: Any) -> Any:
        bodies = body if isinstance(body, list) else [body]
        self._record("initiate_s3_upload", len(bodies))
        answers = []
        for b in bodies:
            key = f"uploads/{next(self._ids)}/{b.filename}"
            answers.append(
                SimpleNamespace(
                    url=f"{STORAGE}/{key}?X-Amz-Signature=sekret&X-Amz-Credential=cred",
                    key=key,
                    method="PUT",
                )
            )
        return answers if isinstance(body, list) else answers[0]

    def initiate_multipart_upload(self, body: Any) -> Any:
        bodies = body if isinstance(body, list) else [body]
        self._record("initiate_multipart_upload", len(bodies))
        answers = []
        for b in bodies:
            n = next(self._ids)
            key, upload_id = f"uploads/{n}/{b.filename}", f"mpu-{n}"
            with self.lock:
                self.open_uploads[upload_id] = key
            answers.append(SimpleNamespace(upload_id=upload_id, key=key))
        return answers if isinstance(body, list) else answers[0]

    def sign_upload_part(self, upload_id: str, part_number: int, s3_key: str, size: int) -> Any:
        self._record("sign_upload_part", (upload_id, part_number, size))
        if self.fail_sign is not None:
            exc = self.fail_sign(part_number)
            if exc is not None:
                raise exc
        if upload_id not in self.open_uploads:  # unknown, cancelled or completed: as LILT does
            from lilt.exceptions import NotFoundException

            raise NotFoundException(status=404, reason=f"no pending upload {upload_id}")
        assert self.open_uploads.get(upload_id) == s3_key
        return SimpleNamespace(
            url=f"{STORAGE}/{s3_key}?uploadId={upload_id}&partNumber={part_number}"
            f"&X-Amz-Signature=sekret{self.count('sign_upload_part')}",
            method="PUT",
        )

    def complete_multipart_upload(self, upload_id: str, s3_key: str, body: Any) -> Any:
        self._record("complete_multipart_upload", upload_id)
        with self.lock:
            assert self.open_uploads.pop(upload_id) == s3_key
            chunks, digests = [], []
            for part in body.parts:
                data, etag = self.storage.parts[(upload_id, part.part_number)]
                assert etag == part.e_tag, "InvalidPart"
                chunks.append(data)
                digests.append(hashlib.md5(data).digest())
            self.storage.objects[s3_key] = b"".join(chunks)
            self.completed[upload_id] = s3_key
        return SimpleNamespace(success=True, location=f"{STORAGE}/{s3_key}")

    def cancel_multipart_upload(self, upload_id: str, s3_key: str) -> Any:
        self._record("cancel_multipart_upload", upload_id)
        with self.lock:
            self.open_uploads.pop(upload_id, None)
            self.aborted.append(upload_id)
        return SimpleNamespace(success=True, message="cancelled")


def faults(*script: Optional[Response | Exception]) -> Fault:
    """A fault function answering the n-th storage request with ``script[n-1]`` (None: normal)."""

    def fault(request: Request, number: int) -> Optional[Response]:
        if number <= len(script):
            item = script[number - 1]
            if isinstance(item, Exception):
                raise item
            return item
        return None

    return fault


def on_part(number: int, response: Response | BaseException, times: int = 1) -> Fault:
    """Answer the first ``times`` PUTs of part ``number`` with ``response``."""
    seen = {"n": 0}
    lock = threading.Lock()

    def fault(request: Request, _: int) -> Optional[Response]:
        if request.query.get("partNumber") != str(number):
            return None
        with lock:
            seen["n"] += 1
            hit = seen["n"] <= times
        if not hit:
            return None
        if isinstance(response, BaseException):
            raise response
        return response

    return fault


def chain(*fault_functions: Fault) -> Fault:
    def fault(request: Request, number: int) -> Optional[Response]:
        for f in fault_functions:
            answer = f(request, number)
            if answer is not None:
                return answer
        return None

    return fault


MakeFile = Callable[..., Path]


class Fakes:
    def __init__(self) -> None:
        self.storage = FakeStorage()
        self.api = FakeApi(self.storage)
        self.sleeps: list[float] = []

    def uploader(
        self, config: TransferConfig | None = None, *, serial: bool = False, **kw: object
    ) -> Uploader:
        kw.setdefault("sleep", self.sleeps.append)
        kw.setdefault("random", lambda: 1.0)
        return Uploader(
            self.api,
            config or TransferConfig(),
            http=self.storage,  # type: ignore[arg-type]
            executor=SerialExecutor() if serial else None,
            **kw,  # type: ignore[arg-type]
        )
