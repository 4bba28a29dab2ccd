"""Fixtures for the managed-uploader tests: files of exact sizes, fakes, and the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from transfer._transfer_fakes import Fakes, MakeFile, random_bytes


@pytest.fixture
def make_file(tmp_path: Path) -> MakeFile:
    """``make_file(size, name=..., seed=...)`` writes a file of random bytes and returns its path."""
    counter = iter(range(1_000_000))

    def make(size: int, name: str | None = None, seed: int | None = None) -> Path:
        n = next(counter)
        path = tmp_path / (name or f"file-{n}.bin")
        path.write_bytes(random_bytes(size, n if seed is None else seed))
        return path

    return make


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    yield Fakes()
