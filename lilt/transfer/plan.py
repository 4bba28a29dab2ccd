"""Planning: from a size and a config to the exact parts, with no I/O.

Kept pure so the arithmetic that decides every request (single or multipart,
how big each part is, whether the file fits at all) is tested exhaustively
without sockets, and so a plan can be shown before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

from lilt.transfer.config import MAX_PART_SIZE, MAX_PARTS, MiB, TransferConfig


class PlanError(ValueError):
    """The content cannot be uploaded within S3's limits; raised before any request."""


@dataclass(frozen=True)
class PartSpec:
    """One part: its 1-based ``number`` and the byte range ``[offset, offset + length)``."""

    number: int
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class Plan:
    """How one piece of content of known ``size`` is uploaded.

    ``multipart`` False means one PUT of the whole content (``parts`` then has
    one entry, of length ``size``, possibly 0).
    """

    size: int
    multipart: bool
    part_size: int

    @property
    def part_count(self) -> int:
        if not self.multipart:
            return 1
        return -(-self.size // self.part_size)

    @property
    def parts(self) -> tuple[PartSpec, ...]:
        return tuple(self.iter_parts())

    def iter_parts(self) -> Iterator[PartSpec]:
        if not self.multipart:
            yield PartSpec(1, 0, self.size)
            return
        for index in range(self.part_count):
            offset = index * self.part_size
            yield PartSpec(index + 1, offset, min(self.part_size, self.size - offset))

    def part(self, number: int) -> PartSpec:
        if not 1 <= number <= self.part_count:
            raise ValueError(f"part {number} is outside 1..{self.part_count}")
        if not self.multipart:
            return PartSpec(1, 0, self.size)
        offset = (number - 1) * self.part_size
        return PartSpec(number, offset, min(self.part_size, self.size - offset))


def fit_part_size(size: int, part_size: int) -> int:
    """The part size to use for ``size`` bytes: ``part_size`` unless that needs > 10,000 parts.

    Grows to the smallest whole number of MiB that fits in 10,000 parts, so
    parts stay as small (and memory as low) as the limit allows. Raises
    :class:`PlanError` when even 5 GiB parts cannot hold the content.
    """
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    if size <= part_size * MAX_PARTS:
        return part_size
    needed = -(-size // MAX_PARTS)
    grown = -(-needed // MiB) * MiB
    if grown > MAX_PART_SIZE:
        raise PlanError(
            f"{size} bytes do not fit in {MAX_PARTS} parts of at most {MAX_PART_SIZE} bytes "
            f"(the S3 limits; the largest object is {MAX_PARTS * MAX_PART_SIZE} bytes)"
        )
    return grown


def plan_upload(size: int, config: TransferConfig) -> Plan:
    """Single PUT when ``size <= multipart_threshold``, otherwise multipart parts."""
    if size <= config.multipart_threshold:
        return Plan(size=size, multipart=False, part_size=size)
    return Plan(size=size, multipart=True, part_size=fit_part_size(size, config.part_size))


def stream_part_size(size_hint: Optional[int], config: TransferConfig) -> int:
    """The part size for a stream: fitted to ``size_hint`` when given, else the configured one.

    A stream of unknown size keeps the configured part size (memory stays
    bounded by it) and so is limited to 10,000 parts of that size.
    """
    if size_hint is None:
        return config.part_size
    return fit_part_size(size_hint, config.part_size)
