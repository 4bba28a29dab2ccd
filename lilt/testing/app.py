"""The emulator's HTTP API: LILT's eight upload routes as a WSGI application (werkzeug).

Every request goes through the same steps, in this order:

1. route (unknown path 404, wrong method 405 with ``Allow``);
2. authentication: HTTP Basic with the API key as user *and* password, or
   ``?key=``; at least one must be present and every one presented must be
   right, else 401;
3. the fault plan (:mod:`lilt.testing.faults`) may delay the request or
   answer it with an injected error;
4. the operation: inputs checked (:mod:`lilt.testing.wire`), storage called
   (:mod:`lilt.testing.s3`), URLs signed (:mod:`lilt.testing.presign`),
   records updated (:mod:`lilt.testing.records`).

Every refusal is ``{"message": ...}`` JSON with its 4xx; a storage refusal
keeps storage's 4xx and names its S3 error code; an unreachable storage is
502. Anything unexpected is logged (logger ``lilt.testing``) and answered
with a JSON 500 without a traceback. Each request, whatever its fate, is
appended to the request log as it arrived.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hmac
import http
import json
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any, Callable, Optional

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from lilt.testing import wire
from lilt.testing.faults import FaultPlan
from lilt.testing.presign import Presigner
from lilt.testing.records import (
    ApiRequest,
    RecordStore,
    RequestLog,
    UploadRecord,
    UploadStatus,
)
from lilt.testing.s3 import Bucket, S3Error, StorageUnavailable
from lilt.testing.wire import ApiError, InitiateItem

__all__ = ["Backend", "EmulatorApp", "QuietRequestHandler", "refresh"]

logger = logging.getLogger("lilt.testing")

_ROUTES = Map(
    [
        Rule("/v2/upload", endpoint="list", methods=["GET"]),
        Rule("/v2/upload/<upload_id>", endpoint="get", methods=["GET"]),
        Rule("/v2/upload/s3/params", endpoint="params", methods=["GET"]),
        Rule("/v2/upload/s3/params", endpoint="initiate", methods=["POST"]),
        Rule("/v2/upload/s3/multipart", endpoint="initiate_multipart", methods=["POST"]),
        Rule("/v2/upload/s3/multipart/<upload_id>/<part_number>", endpoint="sign", methods=["GET"]),
        Rule("/v2/upload/s3/multipart/<upload_id>/complete", endpoint="complete", methods=["POST"]),
        Rule("/v2/upload/s3/multipart/<upload_id>", endpoint="cancel", methods=["DELETE"]),
    ],
    # Never redirect: a client that sends `//v2/...` must see the 404 it deserves.
    strict_slashes=False,
    merge_slashes=False,
)

_CHALLENGE = (("WWW-Authenticate", 'Basic realm="LILT emulator"'),)
#: set in the WSGI environ once the request body has been read to its end
BODY_READ = "lilt.emulator.body_read"


@dataclasses.dataclass
class Backend:
    """Everything the API works with; the emulator may swap ``presigner`` or change
    ``url_lifetime`` while it runs (each request reads them once)."""

    api_key: str
    bucket: Bucket
    presigner: Presigner
    url_lifetime: int
    records: RecordStore
    requests: RequestLog
    faults: FaultPlan
    stopping: threading.Event


@dataclasses.dataclass
class _Exchange:
    """What the request log needs to know about a request besides what arrived."""

    operation: Optional[str] = None
    fault: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class _Call:
    """One routed, authenticated request, as the operations see it."""

    request: Request
    body: bytes
    path: dict[str, str]

    def json(self) -> Any:
        return wire.json_body(self.body, self.request.content_type)


def _json(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    try:  # "Not Found" as servers say it, not werkzeug's "NOT FOUND"
        line: Any = f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        line = status
    return Response(
        json.dumps(payload, separators=(",", ":")),
        line,
        headers=list(headers),
        mimetype="application/json",
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class EmulatorApp:
    """The WSGI application; stateless apart from ``backend``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        request.max_content_length = wire.MAX_BODY
        exchange = _Exchange()
        body = b""
        try:
            body = request.get_data(cache=True)
            environ[BODY_READ] = True  # the connection may serve another request
            response = self._dispatch(request, body, exchange)
        except ApiError as exc:
            response = _json(exc.status, {"message": exc.message}, exc.headers)
        except HTTPException as exc:  # e.g. 413 from werkzeug's body limit
            response = _json(exc.code or 400, {"message": exc.description or exc.name})
        except Exception:
            logger.exception("emulator error on %s %s", request.method, request.path)
            response = _json(
                500,
                {
                    "message": "internal error in the LILT emulator "
                    "(logged by the 'lilt.testing' logger)"
                },
            )
        # Like a real API, every answer names its request, for error reports and support.
        response.headers["X-Request-Id"] = "req_" + os.urandom(12).hex()
        self.backend.requests.append(
            ApiRequest(
                method=request.method,
                path=request.path,
                target=_target(request),
                query=tuple(request.args.items(multi=True)),
                headers=tuple(request.headers.items()),
                body=body,
                operation=exchange.operation,
                status=response.status_code,
                fault=exchange.fault,
            )
        )
        return response(environ, start_response)

    def _dispatch(self, request: Request, body: bytes, exchange: _Exchange) -> Response:
        adapter = _ROUTES.bind_to_environ(request.environ)
        try:
            if _target(request).startswith("//"):  # werkzeug's server folds `//x` into `/x`
                raise NotFound()
            operation, args = adapter.match()
        except NotFound:
            raise ApiError(404, f"no such route: {request.method} {request.path}") from None
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            raise ApiError(
                405,
                f"{request.method} is not allowed on {request.path}; use {allowed}",
                (("Allow", allowed),),
            ) from None
        exchange.operation = str(operation)
        self._authenticate(request)
        fault = self.backend.faults.decide(exchange.operation)
        if fault is not None:
            exchange.fault = fault.kind
            if fault.delay and self.backend.stopping.wait(fault.delay):
                raise ApiError(503, "the emulator is stopping")  # the delay was cut short
            if fault.status is not None:
                return _json(fault.status, {"message": fault.message}, fault.headers)
        handler: Callable[[_Call], Any] = getattr(self, f"_op_{operation}")
        try:
            return _json(200, handler(_Call(request, body, dict(args))))
        except S3Error as exc:
            status = exc.status if 400 <= exc.status < 500 else 502
            raise ApiError(status, f"storage refused: {exc}") from None
        except StorageUnavailable as exc:
            raise ApiError(502, f"storage unavailable: {exc}") from None

    def _authenticate(self, request: Request) -> None:
        key = self.backend.api_key.encode()
        header = request.headers.get("Authorization")
        query_keys = request.args.getlist("key")
        if header is None and not query_keys:
            raise ApiError(
                401,
                "missing credentials: send HTTP Basic auth with the API key as "
                "user and password, or ?key=API_KEY",
                _CHALLENGE,
            )
        if header is not None and not _basic_matches(header, key):
            raise ApiError(
                401,
                "invalid Authorization: expected HTTP Basic with the API key as user and password",
                _CHALLENGE,
            )
        # The first `key` is the API key; the docs' curl examples repeat `key` for the S3 key.
        if query_keys and not hmac.compare_digest(query_keys[0].encode(), key):
            raise ApiError(401, "invalid API key in ?key=", _CHALLENGE)

    # -- operations (each returns the JSON payload of a 200) --------------------

    def _op_list(self, call: _Call) -> Any:
        ids = wire.id_filter(call.request.args.get("ids"))
        statuses = wire.status_filter(call.request.args.get("statuses"))
        if ids is None and statuses is None:  # "Get All Pending Uploads"
            statuses = {UploadStatus.PENDING.value}
        found = []
        for record in self.backend.records.all():
            if ids is not None and record.id not in ids:
                continue
            record = refresh(self.backend, record)
            if statuses is None or record.status.value in statuses:
                found.append(record.to_wire())
        return found

    def _op_get(self, call: _Call) -> Any:
        record_id = wire.integer(call.path["upload_id"], "the upload id", 1, None)
        record = self.backend.records.get(record_id)
        if record is None:
            raise ApiError(404, f"no upload with id {record_id}")
        return refresh(self.backend, record).to_wire()

    def _op_params(self, call: _Call) -> Any:
        (item,) = _named([wire.initiate_item_from_query(call.request.args)])
        return self._start_single(item)

    def _op_initiate(self, call: _Call) -> Any:
        items, many = wire.initiate_items(call.json())
        answers = [self._start_single(item) for item in _named(items)]
        return answers if many else answers[0]

    def _op_initiate_multipart(self, call: _Call) -> Any:
        items, many = wire.initiate_items(call.json())
        items = _named(items)
        started: list[UploadRecord] = []
        try:
            for item in items:
                started.append(self._start_multipart(item))
        except BaseException:
            for record in started:  # all or nothing: leave no orphan behind
                self._abort_quietly(record)
            raise
        answers = [{"uploadId": r.upload_id, "key": r.key} for r in started]
        return answers if many else answers[0]

    def _op_sign(self, call: _Call) -> Any:
        upload_id = call.path["upload_id"]
        number = wire.part_number(call.path["part_number"])
        key = wire.required(call.request.args, "s3Key")
        wire.part_size(wire.required(call.request.args, "size"))
        record = self._multipart(upload_id, key)
        if record.status is not UploadStatus.PENDING:
            raise ApiError(404, f"multipart upload {upload_id!r} is {record.status}")
        backend = self.backend
        url = backend.presigner.part_url(key, upload_id, number, backend.url_lifetime)
        return {"url": url, "method": "PUT"}

    def _op_complete(self, call: _Call) -> Any:
        upload_id = call.path["upload_id"]
        key = wire.required(call.request.args, "s3Key")
        parts = wire.complete_parts(call.json())
        record = self._multipart(upload_id, key)
        location = self.backend.presigner.object_url(key)
        if record.status is UploadStatus.UPLOADED:  # a retry after a lost answer, as S3 allows
            return {"success": True, "location": location}
        if record.status is UploadStatus.CANCELLED:
            raise ApiError(404, f"multipart upload {upload_id!r} was cancelled")
        try:
            self.backend.bucket.complete_multipart(key, upload_id, parts)
        except S3Error as exc:
            # SeaweedFS says NoSuchUpload for a live upload that has no part yet; S3
            # (and so LILT) says InvalidPart: the parts named were never uploaded.
            if exc.code != "NoSuchUpload" or not self.backend.bucket.has_multipart(key, upload_id):
                raise
            raise S3Error(
                400,
                "InvalidPart",
                "One or more of the specified parts could not be "
                "found; none has been uploaded yet.",
            ) from None
        self.backend.records.set_status(record.id, UploadStatus.UPLOADED)
        return {"success": True, "location": location}

    def _op_cancel(self, call: _Call) -> Any:
        upload_id = call.path["upload_id"]
        key = wire.required(call.request.args, "s3Key")
        record = self._multipart(upload_id, key)
        if record.status is not UploadStatus.PENDING:
            raise ApiError(404, f"multipart upload {upload_id!r} is {record.status}")
        self.backend.bucket.abort_multipart(key, upload_id)
        self.backend.records.set_status(record.id, UploadStatus.CANCELLED)
        return {"success": True, "message": f"Multipart upload {upload_id} cancelled"}

    # -- helpers ------------------------------------------------------------

    def _start_single(self, item: InitiateItem) -> dict[str, str]:
        backend = self.backend
        record_id = backend.records.reserve_id()
        key = wire.object_key(record_id, item.filename)
        url = backend.presigner.put_url(key, item.content_type, backend.url_lifetime)
        backend.records.add(
            UploadRecord(
                record_id,
                item.filename,
                item.content_type,
                key,
                "single",
                UploadStatus.PENDING,
                _now(),
                None,
                item.metadata,
            )
        )
        return {"url": url, "key": key, "method": "PUT"}

    def _start_multipart(self, item: InitiateItem) -> UploadRecord:
        backend = self.backend
        record_id = backend.records.reserve_id()
        key = wire.object_key(record_id, item.filename)
        upload_id = backend.bucket.create_multipart(key, item.content_type)
        return backend.records.add(
            UploadRecord(
                record_id,
                item.filename,
                item.content_type,
                key,
                "multipart",
                UploadStatus.PENDING,
                _now(),
                upload_id,
                item.metadata,
            )
        )

    def _abort_quietly(self, record: UploadRecord) -> None:
        assert record.upload_id is not None
        try:
            self.backend.bucket.abort_multipart(record.key, record.upload_id)
        except (S3Error, StorageUnavailable):
            logger.warning("could not abort multipart upload %s", record.upload_id)
        self.backend.records.set_status(record.id, UploadStatus.CANCELLED)

    def _multipart(self, upload_id: str, key: str) -> UploadRecord:
        record = self.backend.records.by_upload_id(upload_id)
        if record is None:
            raise ApiError(404, f"no multipart upload with id {upload_id!r}")
        if record.key != key:
            raise ApiError(400, f"s3Key {key!r} is not the key of multipart upload {upload_id!r}")
        return record


def refresh(backend: Backend, record: UploadRecord) -> UploadRecord:
    """A pending single upload becomes ``uploaded`` once its object is in storage.

    Nothing tells the emulator when a client's PUT to storage finishes, so it
    looks (a HEAD) whenever the record is read.
    """
    if (
        record.kind == "single"
        and record.status is UploadStatus.PENDING
        and backend.bucket.head(record.key) is not None
    ):
        return backend.records.set_status(record.id, UploadStatus.UPLOADED)
    return record


def _named(items: list[InitiateItem]) -> list[InitiateItem]:
    """``items``, once every file name is one storage keys can hold (else a 400).

    JSON can carry a lone surrogate (``"\\ud800"``), which has no UTF-8
    form: no key, URL or header can be made from it.
    """
    for item in items:
        try:
            item.filename.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                400,
                "filename is not valid Unicode (it holds a lone surrogate "
                "code point, which has no UTF-8 form)",
            ) from None
    return items


def _target(request: Request) -> str:
    """The request target exactly as sent (path and query, still percent-encoded)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return str(raw) if raw else request.full_path


def _basic_matches(header: str, key: bytes) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, colon, password = decoded.partition(b":")
    # Compare both halves even when the first fails: constant time, as servers should.
    same_user = hmac.compare_digest(user, key)
    same_password = hmac.compare_digest(password, key)
    return bool(colon) and same_user and same_password


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its access log on stderr (the emulator keeps its own
    request log); its remaining messages go to the ``lilt.testing`` logger at debug level.

    It also keeps the request target exactly as sent: ``http.server`` folds a
    leading ``//`` into ``/`` before werkzeug sees it, which would hide a
    client's doubled slash from the emulator.

    HTTP/1.1 with keep-alive, as LILT's servers: on a link with latency a new
    connection per call would cost every call one round trip more than LILT
    does. werkzeug closes the connection after every response, because it
    cannot skip a body the application left unread: it sends
    ``Connection: close`` and then reads whatever the client sends next. When
    the application did read the body to its end and the client did not ask
    to close, that header is dropped and that read sees nothing, so the next
    request stays intact. Idle connections end after ``timeout`` seconds, and
    at :meth:`Emulator.stop`.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and body go in two writes; no 40 ms stall between
    timeout = 30
    _environ: Optional[dict[str, Any]] = None

    def setup(self) -> None:
        super().setup()
        self.rfile = _KeptAliveInput(self.rfile)  # type: ignore[assignment]
        connections = getattr(self.server, "lilt_connections", None)
        if connections is not None:
            connections.add(self.connection)

    def handle_one_request(self) -> None:
        self.rfile.answered = False  # type: ignore[attr-defined]
        super().handle_one_request()

    def finish(self) -> None:
        connections = getattr(self.server, "lilt_connections", None)
        if connections is not None:
            connections.discard(self.connection)
        super().finish()

    def make_environ(self) -> Any:
        environ = super().make_environ()
        words = self.requestline.split()
        if len(words) == 3:
            environ["RAW_URI"] = environ["REQUEST_URI"] = words[1]
        self._environ = environ
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._reusable():
            self.rfile.answered = True  # type: ignore[attr-defined]
            return
        super().send_header(keyword, value)

    def _reusable(self) -> bool:
        environ = self._environ
        return environ is not None and environ.get(BODY_READ) is True and not self.close_connection

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug("werkzeug %s: " + message, type, *args)


class _KeptAliveInput:
    """A connection's reader that reads nothing once a kept-alive request has its answer.

    werkzeug's handler reads and discards what follows a response (meant for a
    body the application left unread); on a kept-alive connection that would
    be the next request. The application has read the body by then, so no
    read is legitimate until the next request starts.
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.answered = False

    def read(self, size: int = -1) -> bytes:
        return b"" if self.answered else bytes(self._raw.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
