"""The ``lilt`` command's exit codes, and the exception that means exit code 2.

A module of their own so that every command can use them without importing
:mod:`lilt.cli`, which imports the commands. 129 and 143 are not constants:
they are 128 + the signal's number (:func:`lilt.cli.signals.exit_code`).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input found before any request was sent (exit code 2)."""
