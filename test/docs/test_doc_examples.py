"""Run every ```python example in README.md and docs/*.md against a local fake LILT API.

Each fenced block is one test. It runs on its own (fresh globals, as a reader
would paste it), in a temporary working directory, with ``LILT_API_HOST``
pointing at a stdlib HTTP server on 127.0.0.1 that answers LILT's eight upload
routes (plus presigned storage PUTs), and ``LILT_API_KEY`` set to the key that
server accepts. Connections to any other host are refused, so an example can
never reach the real API.

A block that must not run (it needs the emulator, say) is preceded by the line
``<!-- no-run -->``.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import itertools
import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import urllib3.util.connection

import lilt
from lilt.exceptions import ApiConnectionError

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "docs-test-key-7f3a"
NO_RUN = "<!-- no-run -->"
_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


# -- extracting the examples ----------------------------------------------------


@dataclass(frozen=True)
class Example:
    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip: bool

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def extract(path: Path) -> list[Example]:
    """The ```python blocks of one Markdown file, with their line numbers."""
    examples: list[Example] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, lang = opening.groups()
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if lang in ("python", "py"):
            body = [line[len(indent):] if line.startswith(indent) else line
                    for line in lines[i + 1:end]]
            previous = next((lines[j].strip() for j in range(i - 1, -1, -1)
                             if lines[j].strip()), "")
            examples.append(Example(path, i + 1, "\n".join(body) + "\n", previous == NO_RUN))
        i = end + 1
    return examples


def all_examples() -> list[Example]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [example for path in paths if path.exists() for example in extract(path)]


EXAMPLES = all_examples()


# -- the fake LILT API -------------------------------------------------------------


class FakeLilt:
    """LILT's upload routes with plausible answers; ``url`` is the base URL.

    Auth is Basic with the key as user and password, or ``?key=``. Upload
    records 12345 and 12346 are listed; any other id below 1,000,000 can be
    fetched, larger ones are 404. Presigned URLs point back at this server,
    which stores PUT bodies and answers with their MD5 ETag.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.objects: dict[str, bytes] = {}
        self.uploads = {
            12345: {"id": 12345, "filename": "document.xliff", "status": "pending",
                    "created_at": "2026-01-13T09:30:00Z"},
            12346: {"id": 12346, "filename": "large-file.zip", "status": "uploaded",
                    "created_at": "2026-01-13T09:31:12Z"},
        }
        self._ids = itertools.count(1)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path))
                status, payload, headers = outer.answer(self.command, self.path,
                                                        dict(self.headers), body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("X-Request-Id", f"req-{next(outer._ids)}")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLilt:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _signed(self, key: str) -> str:
        return f"{self.url}/storage/{key}?X-Amz-Expires=900&X-Amz-Signature=0123abcd"

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(target)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        if method == "PUT" and path.startswith("/storage/"):
            self.objects[unquote(path[len("/storage/"):])] = body
            return 200, None, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}
        if not self._authorized(headers, query):
            return 401, {"message": "Invalid API key"}, {}
        parts = path.strip("/").split("/")
        if parts[:2] != ["v2", "upload"]:
            return 404, {"message": "Not found"}, {}
        rest = parts[2:]
        if method == "GET" and rest == []:
            return 200, self._list(query), {}
        if method == "GET" and len(rest) == 1 and rest[0].isdigit():
            upload_id = int(rest[0])
            if upload_id >= 1_000_000:
                return 404, {"message": "Upload not found"}, {}
            upload = self.uploads.get(upload_id) or {
                "id": upload_id, "filename": "report.pdf", "status": "uploaded",
                "created_at": "2026-01-12T17:05:44Z"}
            return 200, upload, {}
        if rest == ["s3", "params"]:
            if method == "GET":
                if "filename" not in query or "type" not in query:
                    return 400, {"message": "filename and type are required"}, {}
                return 200, self._single(query["filename"]), {}
            if method == "POST":
                return self._initiate(body, self._single)
        if rest[:2] == ["s3", "multipart"]:
            tail = rest[2:]
            if method == "POST" and tail == []:
                return self._initiate(body, self._multipart)
            if method == "GET" and len(tail) == 2 and tail[1].isdigit():
                return 200, {"url": self._signed(f"{query.get('s3Key')}/{tail[1]}"),
                             "method": "PUT"}, {}
            if method == "POST" and len(tail) == 2 and tail[1] == "complete":
                key = query.get("s3Key", "")
                return 200, {"success": True, "location": f"{self.url}/storage/{key}"}, {}
            if method == "DELETE" and len(tail) == 1:
                return 200, {"success": True, "message": "Multipart upload aborted"}, {}
        return 404, {"message": "Not found"}, {}

    @staticmethod
    def _authorized(headers: dict[str, str], query: dict[str, str]) -> bool:
        if query.get("key") == API_KEY:
            return True
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        expected = base64.b64encode(f"{API_KEY}:{API_KEY}".encode()).decode()
        return auth == f"Basic {expected}"

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        uploads = list(self.uploads.values())
        if "ids" in query:
            wanted = {int(i) for i in query["ids"].split(",") if i.strip().isdigit()}
            uploads = [u for u in uploads if u["id"] in wanted]
        if "statuses" in query:
            statuses = set(query["statuses"].split(","))
            uploads = [u for u in uploads if u["status"] in statuses]
        return uploads

    def _single(self, filename: str) -> dict[str, str]:
        key = f"uploads/{next(self._ids)}/{filename}"
        return {"url": self._signed(key), "key": key, "method": "PUT"}

    def _multipart(self, filename: str) -> dict[str, str]:
        n = next(self._ids)
        return {"uploadId": f"mpu-{n}", "key": f"uploads/{n}/{filename}"}

    def _initiate(self, body: bytes, make: Any) -> tuple[int, Any, dict[str, str]]:
        try:
            parsed = json.loads(body)
        except ValueError:
            return 400, {"message": "Body is not JSON"}, {}
        items = parsed if isinstance(parsed, list) else [parsed]
        if not items or len(items) > 100 or not all(isinstance(i, dict) for i in items):
            return 400, {"message": "Expected an object or a list of 1 to 100"}, {}
        if any("filename" not in i or "type" not in i for i in items):
            return 400, {"message": "filename and type are required"}, {}
        answers = [make(i["filename"]) for i in items]
        return 200, answers if isinstance(parsed, list) else answers[0], {}


# -- running them --------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_lilt() -> Iterator[FakeLilt]:
    with FakeLilt() as server:
        yield server


@pytest.fixture
def sandbox(
    fake_lilt: FakeLilt, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FakeLilt]:
    """Environment for one example; undoes what an example may change globally."""
    monkeypatch.setenv("LILT_API_HOST", fake_lilt.url)
    monkeypatch.setenv("LILT_API_KEY", API_KEY)
    monkeypatch.chdir(tmp_path)
    real_connect = urllib3.util.connection.create_connection

    def loopback_only(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"doc examples may only connect to 127.0.0.1, not {address[0]}")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", loopback_only)
    loggers = [logging.getLogger(name) for name in ("", "lilt", "urllib3")]
    saved_logging = [(log, list(log.handlers), log.level) for log in loggers]
    saved_config, saved_client = lilt.Configuration._default, lilt.ApiClient._default
    try:
        yield fake_lilt
    finally:
        for log, handlers, level in saved_logging:
            for handler in log.handlers[:]:
                if handler not in handlers:
                    log.removeHandler(handler)
                    handler.close()
            log.setLevel(level)
        if lilt.ApiClient._default is not saved_client and lilt.ApiClient._default is not None:
            lilt.ApiClient._default.close()
        lilt.ApiClient._default, lilt.Configuration._default = saved_client, saved_config


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_runs(example: Example, sandbox: FakeLilt) -> None:
    if example.skip:
        pytest.skip("marked <!-- no-run -->")
    code = compile(example.code, example.name, "exec")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(code, namespace)
    # What an example leaks (an open file, a socket) warns when collected:
    # make that happen here, so the warning fails this test and not a later one.
    namespace.clear()
    gc.collect()


def test_examples_were_found() -> None:
    pages = {e.path.name for e in EXAMPLES}
    assert {"UploadsApi.md", "index.md", "migration.md"} <= pages


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower().replace("`", "")
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_relative_links_resolve() -> None:
    """Links between pages and to headings resolve.

    A page that does not exist yet (guides are written by several people) is
    reported as a skip rather than a failure; a link to a missing heading fails.
    """
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken, missing = [], set()
    for page in pages:
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                missing.add(str(resolved.relative_to(ROOT)))
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{page.name}: {target}")
    assert not broken, "links to missing headings:\n" + "\n".join(broken)
    if missing:
        pytest.skip(f"linked pages not written yet: {', '.join(sorted(missing))}")


def test_examples_cannot_leave_loopback(sandbox: FakeLilt) -> None:
    config = lilt.Configuration(host="https://api.lilt.com", retries=0)
    with lilt.ApiClient(config) as client, pytest.raises(
        ApiConnectionError, match=re.escape("may only connect to 127.0.0.1")
    ):
        lilt.UploadsApi(client).get_pending_uploads()


def test_extract_marks_no_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nx = 1\n```\n\n<!-- no-run -->\n```python\ny = 2\n```\n"
                    "```sh\nls\n```\n")
    found = extract(page)
    assert [(e.line, e.code, e.skip) for e in found] == [(3, "x = 1\n", False),
                                                         (8, "y = 2\n", True)]


def test_fake_lilt_answers_lists_for_list_bodies(fake_lilt: FakeLilt) -> None:
    config = lilt.Configuration(host=fake_lilt.url, username=API_KEY, password=API_KEY)
    with lilt.ApiClient(config) as client:
        api = lilt.UploadsApi(client)
        bodies = [lilt.InitiateUploadBody(filename=f"{n}.txt", type="text/plain")
                  for n in range(3)]
        answers = api.initiate_s3_upload(bodies)
        assert [a.key.rsplit("/", 1)[1] for a in answers] == ["0.txt", "1.txt", "2.txt"]
        one = api.initiate_multipart_upload(
            lilt.InitiateMultipartUploadBody(filename="a.zip", type="application/zip"))
        assert one.upload_id.startswith("mpu-")
