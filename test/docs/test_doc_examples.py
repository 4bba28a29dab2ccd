"""Run every ```python example in README.md and docs/*.md against a fresh emulator.

Each fenced block is one test. It runs on its own (fresh globals, as a reader
would paste it), in a temporary working directory, against a new emulator of
the LILT uploads API (``lilt.testing``, on the session's SeaweedFS), with
``LILT_API_HOST`` and ``LILT_API_KEY`` set to it. Connections to any host
other than 127.0.0.1 are refused, so an example can never reach the real API.

After each example nothing may be left pending: no multipart upload neither
completed nor cancelled in storage, and no upload record still ``pending``
(a presigned URL handed out and never used). A reader who runs an example
against their LILT account must not be left with debris.

A block that must not run (it needs something else, or shows a fragment) is
preceded by the line ``<!-- no-run -->``.
"""

from __future__ import annotations

import gc
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

import lilt
from lilt.exceptions import ApiConnectionError
from lilt.testing import Emulator, S3Endpoint

ROOT = Path(__file__).resolve().parents[2]
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
            body = [
                line[len(indent) :] if line.startswith(indent) else line
                for line in lines[i + 1 : end]
            ]
            previous = next(
                (lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), ""
            )
            examples.append(Example(path, i + 1, "\n".join(body) + "\n", previous == NO_RUN))
        i = end + 1
    return examples


def all_examples() -> list[Example]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [example for path in paths if path.exists() for example in extract(path)]


EXAMPLES = all_examples()


# -- running them --------------------------------------------------------------------


@pytest.fixture
def sandbox(
    lilt_storage: S3Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Emulator]:
    """A fresh emulator and environment for one example; undoes what it may change globally."""
    emulator = Emulator(lilt_storage).start()
    monkeypatch.setenv("LILT_API_HOST", emulator.base_url)
    monkeypatch.setenv("LILT_API_KEY", emulator.api_key)
    monkeypatch.setenv("LILT_STATE_DIR", str(tmp_path / ".state"))
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
        yield emulator
    finally:
        emulator.stop()
        for log, handlers, level in saved_logging:
            for handler in log.handlers[:]:
                if handler not in handlers:
                    log.removeHandler(handler)
                    handler.close()
            log.setLevel(level)
        if lilt.ApiClient._default is not saved_client and lilt.ApiClient._default is not None:
            lilt.ApiClient._default.close()
        lilt.ApiClient._default, lilt.Configuration._default = saved_client, saved_config


@pytest.mark.storage
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_runs(example: Example, sandbox: Emulator) -> None:
    if example.skip:
        pytest.skip("marked <!-- no-run -->")
    code = compile(example.code, example.name, "exec")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(code, namespace)
    # What an example leaks (an open file, a socket) warns when collected:
    # make that happen here, so the warning fails this test and not a later one.
    namespace.clear()
    gc.collect()
    assert sandbox.list_multipart_uploads() == [], "the example left multipart uploads open"
    pending = [(r.id, r.filename) for r in sandbox.uploads() if r.status == "pending"]
    assert pending == [], "the example left upload records pending (URLs never used)"


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


@pytest.mark.storage
def test_examples_cannot_leave_loopback(sandbox: Emulator) -> None:
    config = lilt.Configuration(host="https://api.lilt.com", retries=0)
    with (
        lilt.ApiClient(config) as client,
        pytest.raises(ApiConnectionError, match=re.escape("may only connect to 127.0.0.1")),
    ):
        lilt.UploadsApi(client).get_pending_uploads()


def test_extract_marks_no_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```python\nx = 1\n```\n\n<!-- no-run -->\n```python\ny = 2\n```\n```sh\nls\n```\n"
    )
    found = extract(page)
    assert [(e.line, e.code, e.skip) for e in found] == [
        (3, "x = 1\n", False),
        (8, "y = 2\n", True),
    ]
