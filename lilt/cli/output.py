"""The shapes of the command's output, each decided once: JSON documents, aligned tables,
dates, durations and the ``lilt:`` lines on stderr.

One date format (ISO 8601, UTC, to the second) and one duration format
everywhere, so what ``uploads list`` prints can be pasted into ``uploads
show`` output or a script without conversions.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Sequence
from typing import Any, Optional

# (seconds in the unit, its letter, seconds in the next smaller unit, its letter)
_SPANS = ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s"))


def print_json(data: Any) -> None:
    """``data`` as the one JSON document on stdout (non-ASCII kept readable)."""
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def print_json_error(error: dict[str, Any], **more: Any) -> None:
    """The document of an unsuccessful run: ``ok`` false, the ``error``, then ``more``."""
    print_json({"ok": False, "error": error, **more})


def warn(message: str, *, as_json: bool) -> None:
    """``lilt: message`` on stderr, unless the run speaks JSON (then stderr stays empty)."""
    if not as_json:
        print(f"lilt: {message}", file=sys.stderr)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, newlines included, as one space."""
    return " ".join(text.split())


def date(value: Optional[datetime.datetime]) -> str:
    """The one date format of the command's output: ISO 8601, UTC, to the second."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> str:
    """``45s``, ``12m05s``, ``3h20m``, ``2d04h``: the largest unit and the one below it."""
    whole = int(seconds)
    for size, unit, smaller, smaller_unit in _SPANS:
        if whole >= size:
            return f"{whole // size}{unit}{whole % size // smaller:02d}{smaller_unit}"
    return f"{whole}s"


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {noun}{'s' if count != 1 else ''}"


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int]) -> None:
    """Columns as wide as their widest cell; ``right`` ones aligned right; the last one ragged."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1:
                out.append(cell)
            elif i in right:
                out.append(cell.rjust(widths[i]))
            else:
                out.append(cell.ljust(widths[i]))
        return "  ".join(out)

    print(line(columns))
    for row in rows:
        print(line(row))
