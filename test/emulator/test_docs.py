"""The examples of docs/testing.md run, against real storage.

They show the SDK used against the emulator, as a reader would use it, so
this module (alone among the emulator's tests) imports the SDK, inside the
examples only; the emulator's own behaviour is tested with urllib3 in the
other modules. The generic docs runner (test/docs) skips these blocks
(``<!-- no-run -->``) because it has no emulator.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any

import pytest

from lilt.testing import Emulator, S3Endpoint

pytestmark = pytest.mark.storage

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[Any]:
    text = DOC.read_text(encoding="utf-8")
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(pytest.param(match.group(1), id=f"testing.md:{line}"))
    return blocks


@pytest.mark.parametrize("code", _examples())
def test_example(
    code: str, lilt_storage: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    try:
        exec(compile(code, str(DOC), "exec"), namespace)
        for name, function in list(namespace.items()):
            if name.startswith("test_") and callable(function):
                _run_as_test(function, lilt_storage, tmp_path / name)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run_as_test(function: Any, storage: S3Endpoint, directory: Path) -> None:
    """Call an example's test function with the fixtures it names."""
    directory.mkdir()
    with Emulator(storage) as emulator:
        available = {"lilt_emulator": emulator, "lilt_storage": storage, "tmp_path": directory}
        wanted = inspect.signature(function).parameters
        function(**{name: available[name] for name in wanted})
