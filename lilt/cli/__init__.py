"""The ``lilt`` command: upload files, folders and pipes; find, cancel and clean up uploads.

Exit codes (stable, for scripts):

====  ==============================================================
0     success
1     an upload or API call failed after requests were sent (or a
      file inside a folder could not be read and was skipped)
2     usage: bad arguments, missing credentials, a bad --host, or
      input refused before any request (missing file, too large, ...)
129   ended by SIGHUP (the terminal closed)
130   interrupted (Ctrl-C)
143   ended by SIGTERM
====  ==============================================================

On an interruption multipart uploads are kept for resuming when a journal is
in use (the default: running the same command again continues), and aborted
otherwise (``--no-resume``, standard input).

Credentials come from ``--api-key``/``--host`` or the ``LILT_API_KEY``/
``LILT_API_HOST`` environment variables. Progress is drawn on stderr when it
is a terminal; ``--json`` prints one JSON document on stdout for every
outcome, errors included, and nothing else there.

Modules, one job each: :mod:`~lilt.cli.parser` (the command line),
:mod:`~lilt.cli.upload` with :mod:`~lilt.cli.upload_report` and
:mod:`~lilt.cli.resume`, :mod:`~lilt.cli.uploads`, :mod:`~lilt.cli.emulator`,
:mod:`~lilt.cli.demo` (the commands), :mod:`~lilt.cli.connection` (host and
key), :mod:`~lilt.cli.signals`, :mod:`~lilt.cli.failures` (errors in one
line), :mod:`~lilt.cli.output`, :mod:`~lilt.cli.progress_bar`,
:mod:`~lilt.cli.values` (sizes, ages) and :mod:`~lilt.cli.exit_codes`.
Everything but :func:`main` is imported lazily where it needs more than the
standard library, so ``lilt --help`` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Callable, Optional

from lilt.cli import emulator
from lilt.cli.connection import DEFAULT_HOST, check_host
from lilt.cli.exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from lilt.cli.failures import is_reportable, report_failure
from lilt.cli.output import print_json_error
from lilt.cli.parser import ParseError, build_parser, wants_json
from lilt.cli.signals import Interrupted, exit_code, signals_as_interrupts
from lilt.cli.values import parse_age, parse_size


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; return (and, as the console script, exit with) its exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["emulator"]:  # everything after it belongs to the emulator
        return emulator.run(words[1:])
    try:
        args = build_parser().parse_args(words)
    except ParseError as exc:
        as_json = wants_json(words)
        code = _usage_failure(str(exc), as_json)
        if not as_json:
            print(f"Run `{exc.prog} --help` for usage.", file=sys.stderr)
        return code
    args.json = getattr(args, "json", False)
    args.argv = words
    with signals_as_interrupts():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """The command's handler, with every way it can end turned into an exit code."""
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        return _usage_failure(str(exc), args.json)
    except KeyboardInterrupt as stop:
        code = exit_code(stop)
        if args.json:
            print_json_error(
                {"message": "interrupted", "type": type(stop).__name__, "exit_code": code}
            )
        return code
    except BrokenPipeError:  # `lilt uploads list | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return EXIT_OK
    except Exception as exc:
        if not is_reportable(exc) and os.environ.get("LILT_LOG", "").lower() in (
            "debug",
            "1",
            "true",
        ):
            raise  # the whole traceback, for a bug report
        return report_failure(exc, as_json=args.json)


def _usage_failure(message: str, as_json: bool) -> int:
    text = message if message.startswith("lilt") else f"lilt: error: {message}"
    if as_json:
        print_json_error({"message": text, "type": "UsageError", "exit_code": EXIT_USAGE})
    else:
        print(text, file=sys.stderr)
    return EXIT_USAGE


__all__ = [
    "DEFAULT_HOST",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Interrupted",
    "UsageError",
    "build_parser",
    "check_host",
    "main",
    "parse_age",
    "parse_size",
]
