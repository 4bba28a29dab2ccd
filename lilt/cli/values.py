"""Option values as people type them: sizes (``8MiB``), ages (``7d``) and counts.

Each is an argparse ``type=``: a value it cannot read raises
:class:`argparse.ArgumentTypeError` with an example of what would work, and
argparse names the option in the message.
"""

from __future__ import annotations

import argparse
import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str) -> int:
    """``8388608``, ``8MiB``, ``8M`` (binary) or ``8MB`` (decimal) as bytes."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8MiB or 8388608)")
    number, unit, binary, byte = match.groups()
    decimal = unit and byte and not binary  # "MB" is 10**6; "M" and "MiB" are 2**20
    base = 1000 if decimal else 1024
    value = float(number) * base ** _UNITS[unit.lower()]
    if value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number of bytes: {text!r}")
    return int(value)


def parse_age(text: str) -> float:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` or plain seconds, as seconds."""
    match = _AGE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (try 12h, 7d or 3600)")
    number, unit = match.groups()
    return float(number) * _AGE_UNITS[unit.lower()]


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a concurrency, a record id)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value
