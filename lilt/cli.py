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
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Optional
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import lilt
    from lilt.testing import Emulator
    from lilt.transfer import ProgressEvent, UploadResult
    from lilt.transfer.progress import TerminalProgress
    from lilt.transfer.state import KeptUpload, StateFolder, Target
    from lilt.transfer.walk import SkippedPath

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DEFAULT_HOST = "https://api.lilt.com"


class UsageError(Exception):
    """Bad input found before any request was sent (exit code 2)."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that they act exactly as Ctrl-C does.

    A subclass of KeyboardInterrupt: everything that cleans up after Ctrl-C
    (the uploader aborts or keeps its uploads, then re-raises) does so for
    these too. ``signum`` gives the exit code, 128 + the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def check_host(host: str, source: str = "--host") -> str:
    """``host`` if it is an http(s) URL with a host name; otherwise a UsageError saying why."""
    parts = urlsplit(host.strip())
    if not parts.scheme:
        guess = host.strip()
        if re.match(r"^https?//", guess):
            fixed = re.sub(r"^(https?)//", r"\1://", guess)
            raise UsageError(f"{source} {host!r} is not a URL (missing ':'); did you mean {fixed}?")
        raise UsageError(f"{source} {host!r} has no scheme; use https://{guess.lstrip('/')} "
                         f"(or http:// for a local emulator)")
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{source} {host!r}: the scheme must be https or http, "
                         f"not {parts.scheme!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise UsageError(f"{source} {host!r}: {exc}") from None
    if not parts.hostname:
        raise UsageError(f"{source} {host!r} has no host name")
    if parts.query or parts.fragment:
        raise UsageError(f"{source} {host!r}: a base URL takes no '?' or '#' part")
    return host.strip().rstrip("/")


# --- the parser ---------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting, so --json can report it too."""

    def error(self, message: str) -> NoReturn:
        raise _ParseError(message, self.prog)


class _ParseError(UsageError):
    def __init__(self, message: str, prog: str) -> None:
        super().__init__(f"{prog}: error: {message}")
        self.prog = prog


def build_parser() -> argparse.ArgumentParser:
    # Connection options work before or after the command: `lilt --host H upload f`
    # and `lilt upload f --host H`. SUPPRESS keeps a later default from
    # overwriting an earlier value.
    connection = _Parser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument("--api-key", default=argparse.SUPPRESS, metavar="KEY",
                       help="LILT API key (default: $LILT_API_KEY)")
    group.add_argument("--host", default=argparse.SUPPRESS, metavar="URL",
                       help=f"API base URL (default: $LILT_API_HOST, else {DEFAULT_HOST})")
    output = _Parser(add_help=False)
    output.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document on stdout, whatever the outcome")

    parser = _Parser(
        prog="lilt", parents=[connection, output],
        description="Upload files to LILT and manage uploads.",
        epilog="Exit codes: 0 ok, 1 upload or API failure, 2 usage or bad input "
               "(nothing sent), 130 interrupted (129 SIGHUP, 143 SIGTERM).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    upload = commands.add_parser(
        "upload", parents=[connection, output],
        help="upload files, folders or standard input (resumable)",
        description="Upload files, folders (recursively) or standard input (-): one PUT up to "
                    "the threshold, a multipart upload above it, everything sharing one pool "
                    "of connections. An interrupted or failed upload continues where it "
                    "stopped when the same command runs again.",
        epilog="Folders: each file is sent with its path from the folder's name down "
               "(photos/2024/a.jpg). Links are followed (never in a loop), hidden files are "
               "included, empty folders upload nothing. Resume journals live in the state "
               "folder ($LILT_STATE_DIR, else $XDG_STATE_HOME/lilt or ~/.local/state/lilt).",
    )
    upload.add_argument("paths", nargs="+", metavar="PATH",
                        help="files and folders to upload, or - for standard input")
    upload.add_argument("--include", action="append", default=[], metavar="PATTERN",
                        help="in folders, upload only files matching this shell pattern "
                             "(repeatable; without / it matches the name, with / the path "
                             "inside the folder)")
    upload.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="in folders, leave out files and folders matching this pattern "
                             "(repeatable; wins over --include), e.g. '.*' or '*.tmp'")
    upload.add_argument("--filename", metavar="NAME",
                        help="the name the API is told (one file, or required with -)")
    upload.add_argument("--content-type", metavar="TYPE",
                        help="the MIME type to declare (default: guessed from the name)")
    upload.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                        help="parts and small files in flight at once (default 8); memory "
                             "is about (N + 1) x part size")
    upload.add_argument("--part-size", type=parse_size, default=8 * 1024**2, metavar="SIZE",
                        help="bytes per part, e.g. 8MiB (default; minimum 5MiB); grown "
                             "automatically past 10,000 parts")
    upload.add_argument("--threshold", type=parse_size, default=16 * 1024**2, metavar="SIZE",
                        help="files larger than this use multipart uploads (default 16MiB)")
    upload.add_argument("--no-resume", action="store_true",
                        help="keep no journal: an interrupted or failed upload is aborted")
    upload.add_argument("--journal", metavar="FILE",
                        help="keep the resume journal in FILE instead of the state folder "
                             "(and keep it after success)")
    upload.add_argument("--no-checksum", action="store_true",
                        help="do not send Content-MD5 (saves CPU; storage can no longer "
                             "reject a corrupted part)")
    upload.add_argument("--category", help="category stored with each upload")
    upload.add_argument("--label", action="append", dest="labels", metavar="LABEL",
                        help="label stored with each upload (repeatable)")
    upload.add_argument("--no-progress", action="store_true",
                        help="no progress bar even on a terminal")
    upload.set_defaults(handler=_cmd_upload)

    uploads = commands.add_parser("uploads", help="list, show, cancel or clean up uploads",
                                  description="Inspect, cancel and clean up uploads.")
    sub = uploads.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser(
        "list", parents=[connection, output], help="list pending uploads",
        description="List the API's upload records (pending ones unless --ids or --statuses "
                    "say otherwise), then the multipart uploads this computer keeps for "
                    "resuming, with their upload ids and keys.")
    listing.add_argument("--ids", help="comma-separated record ids to show")
    listing.add_argument("--statuses", help="comma-separated statuses, e.g. pending,uploaded")
    listing.set_defaults(handler=_cmd_list)
    show = sub.add_parser("show", parents=[connection, output], help="show one upload record")
    show.add_argument("id", type=_positive_int, metavar="ID", help="numeric record id")
    show.set_defaults(handler=_cmd_show)
    cancel = sub.add_parser(
        "cancel", parents=[connection, output],
        help="abort a multipart upload and discard its parts",
        description="Abort a multipart upload: by its upload id (the key is looked up in this "
                    "computer's resume journals when not given), or by its numeric record id.")
    cancel.add_argument("upload_id", metavar="ID", help="multipart upload id, or record id")
    cancel.add_argument("key", nargs="?", metavar="S3KEY",
                        help="the upload's storage key (looked up when left out)")
    cancel.set_defaults(handler=_cmd_cancel)
    clean = sub.add_parser(
        "clean", parents=[connection, output],
        help="cancel stale multipart uploads (dry run unless --yes)",
        description="Find multipart uploads left pending for longer than --older-than: those "
                    "this computer keeps for resuming (idle that long), and pending records "
                    "whose upload id the API reports. Lists them; --yes cancels them.")
    clean.add_argument("--older-than", type=parse_age, default=86400.0, metavar="AGE",
                       help="how long an upload must have been idle, e.g. 12h, 7d (default 1d)")
    clean.add_argument("--yes", action="store_true", help="cancel them (default: only list)")
    clean.set_defaults(handler=_cmd_clean)

    commands.add_parser(
        "emulator", help="run the local LILT uploads emulator (see `lilt emulator --help`)",
        add_help=False, description="Run the local emulator; arguments are passed through.",
    )

    demo = commands.add_parser(
        "demo", parents=[output], help="upload a generated file to a local emulator and verify it",
        description="Start the emulator (on a real S3 server), generate a sample file, upload "
                    "it multipart with a progress bar, read it back, verify it byte for byte "
                    "(SHA-256), print a summary and stop everything.",
    )
    demo.add_argument("--size", type=parse_size, default=64 * 1024**2, metavar="SIZE",
                      help="size of the sample file (default 64MiB; at least 16MiB + 1 byte "
                           "so it is a multipart upload)")
    demo.add_argument("--part-size", type=parse_size, default=8 * 1024**2, metavar="SIZE",
                      help="bytes per part (default 8MiB)")
    demo.add_argument("--concurrency", type=_positive_int, default=4, metavar="N",
                      help="parts in flight (default 4)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; return (and, as the console script, exit with) its exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["emulator"]:  # everything after it belongs to the emulator
        return _cmd_emulator(args_list[1:])
    as_json = "--json" in args_list[: args_list.index("--")] if "--" in args_list else (
        "--json" in args_list)
    try:
        args = build_parser().parse_args(args_list)
    except _ParseError as exc:
        code = _usage_failure(str(exc), as_json)
        if not as_json:
            print(f"Run `{exc.prog} --help` for usage.", file=sys.stderr)
        return code
    args.json = getattr(args, "json", False)
    args.argv = args_list
    handler: Callable[[argparse.Namespace], int] = args.handler
    with _signals_as_interrupts():
        try:
            return handler(args)
        except UsageError as exc:
            return _usage_failure(str(exc), args.json)
        except KeyboardInterrupt as exc:
            code = 128 + exc.signum if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
            if args.json:
                _print_json({"ok": False, "error": {"message": "interrupted",
                                                    "type": type(exc).__name__,
                                                    "exit_code": code}})
            return code
        except BrokenPipeError:  # `lilt uploads list | head`
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
            return EXIT_OK
        except Exception as exc:
            from lilt.exceptions import ApiException

            if not isinstance(exc, (ApiException, OSError)) and os.environ.get(
                "LILT_LOG", ""
            ).lower() in ("debug", "1", "true"):
                raise  # the whole traceback, for a bug report
            return _report_failure(args, exc)


def _usage_failure(message: str, as_json: bool) -> int:
    text = message if message.startswith("lilt") else f"lilt: error: {message}"
    if as_json:
        _print_json({"ok": False, "error": {"message": text, "type": "UsageError",
                                            "exit_code": EXIT_USAGE}})
    else:
        print(text, file=sys.stderr)
    return EXIT_USAGE


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` (once) in the main thread while the
    command runs; previous handlers come back afterwards.

    Only the first signal raises: a second one while the uploads are being
    aborted or kept must not cut that short (SIGKILL remains for the impatient).
    """
    if sys.platform == "win32" or not _in_main_thread():
        yield
        return
    raised: list[int] = []

    def handler(signum: int, _frame: Optional[FrameType]) -> None:
        if not raised:
            raised.append(signum)
            raise Interrupted(signum)

    names = ("SIGTERM", "SIGHUP")
    previous = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# --- upload -------------------------------------------------------------------------


@dataclasses.dataclass
class _Run:
    """What the upload command learns while it runs, for its summary."""

    started: float
    last: Optional[ProgressEvent] = None
    skipped: list[SkippedPath] = dataclasses.field(default_factory=list)
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    uploaded: int = 0
    bytes: int = 0


def _cmd_upload(args: argparse.Namespace) -> int:
    import lilt
    from lilt.transfer import JournalError, PlanError, TransferConfig

    paths: list[str] = args.paths
    stdin = "-" in paths
    if stdin and len(paths) > 1:
        raise UsageError("- (standard input) cannot be combined with other paths")
    if stdin and not args.filename:
        raise UsageError("--filename is required with - (standard input has no name)")
    folders = [] if stdin else _check_sources(paths)
    if args.filename and (len(paths) > 1 or folders):
        raise UsageError("--filename names one file; it cannot be used with several files "
                         "or a folder")
    if (args.include or args.exclude) and not folders:
        raise UsageError("--include and --exclude choose files inside folders; no folder given")
    target = _target(args)
    state, journal = _journal_choice(args, target, stdin)
    run = _Run(started=time.monotonic())
    display = _terminal_progress(args)

    def progress(event: ProgressEvent) -> None:
        run.last = event
        if display is not None:
            display(event)

    try:
        config = TransferConfig(
            multipart_threshold=args.threshold, part_size=args.part_size,
            concurrency=args.concurrency, journal=journal,
            checksum=not args.no_checksum, progress=progress,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        with _client(args, target) as client, lilt.Uploader(client, config) as uploader:
            if state is not None and journal is not None:
                _clean_stale(state, target, client, args)
            if stdin:
                result = uploader.upload_fileobj(
                    sys.stdin.buffer, args.filename, content_type=args.content_type,
                    category=args.category, labels=args.labels,
                )
                _record(run, result, args, display)
            else:
                files = _files(paths, args, run)
                expected = _count(paths, args) if display is not None and folders else None
                for result in uploader.iter_upload(
                    files, content_type=args.content_type, category=args.category,
                    labels=args.labels, on_skip=lambda s: _skipped(run, s, args, display),
                    expected=expected, restart_changed=state is not None,
                ):
                    _record(run, result, args, display)
    except KeyboardInterrupt as exc:
        _close(display, interrupted=True)
        _report_interrupt(args, exc, journal, run)
        raise
    except (PlanError, JournalError) as exc:
        _close(display, interrupted=True)
        raise UsageError(_describe(exc)) from None
    except Exception as exc:
        _close(display, interrupted=True)
        from lilt.exceptions import ApiException

        if isinstance(exc, (ApiException, OSError)) or _is_transfer_error(exc):
            return _report_failure(args, exc, journal, run)
        raise
    _close(display)
    if state is not None and journal is not None and not any(s.error for s in run.skipped):
        _remove_journal(journal)  # finished: nothing to resume (kept when files were skipped)
    return _summary(args, run)


def _check_sources(paths: Sequence[str]) -> list[str]:
    """Check every path given before anything is sent; return the folders among them."""
    import stat

    from lilt.transfer.source import FileSource

    folders = []
    for path in paths:
        try:
            info = os.stat(path)
            if stat.S_ISDIR(info.st_mode):
                os.scandir(path).close()  # readable?
                folders.append(path)
            else:
                FileSource(path).close()  # a regular, readable file?
        except OSError as exc:
            raise UsageError(_describe(exc)) from None
    return folders


def _files(paths: Sequence[str], args: argparse.Namespace, run: _Run) -> Iterator[Any]:
    from lilt.transfer.walk import LocalFile, collect

    for file in collect(paths, include=args.include, exclude=args.exclude,
                        on_skip=lambda s: _skipped(run, s, args, None)):
        yield LocalFile(file.path, args.filename) if args.filename else file


def _count(paths: Sequence[str], args: argparse.Namespace) -> tuple[int, int]:
    """Files and bytes the upload will cover (for the bar's totals): one quick walk."""
    from lilt.transfer.walk import collect

    files = size = 0
    for file in collect(paths, include=args.include, exclude=args.exclude):
        try:
            size += os.stat(file.path).st_size
        except OSError:
            continue
        files += 1
    return files, size


def _journal_choice(
    args: argparse.Namespace, target: Target, stdin: bool
) -> tuple[Optional[StateFolder], Optional[str]]:
    """Where this run's journal is: ``--journal``, none, or the state folder (the default)."""
    if args.journal:
        if args.no_resume:
            raise UsageError("--journal and --no-resume contradict each other")
        if stdin:
            raise UsageError("standard input cannot be resumed; --journal needs files")
        return None, args.journal
    if args.no_resume or stdin:
        return None, None
    from lilt.transfer.state import StateFolder

    state = StateFolder()
    try:
        slot = state.journal_for(target, args.paths, command=_command_line(args))
    except OSError as exc:
        _warn(args, f"resuming is off: cannot write the state folder {state.root} "
                    f"({exc.strerror or exc}); set LILT_STATE_DIR to a writable folder")
        return None, None
    return state, str(slot.path)


def _remove_journal(journal: str) -> None:
    """Remove a finished run's journal (and its description) from the state folder."""
    from pathlib import Path

    from lilt.transfer.state import JournalSlot

    path = Path(journal)
    JournalSlot(path, path.with_suffix(".json")).remove()


def _clean_stale(state: StateFolder, target: Target, client: Any, args: argparse.Namespace
                 ) -> None:
    import lilt
    from lilt.exceptions import NotFoundException

    api = lilt.UploadsApi(client)

    def cancel(upload_id: str, key: str) -> None:
        with contextlib.suppress(NotFoundException):  # already cancelled, completed or expired
            api.cancel_multipart_upload(upload_id, key)

    for note in state.clean(target, cancel):
        _warn(args, note)


def _kept(journal: str) -> list[Any]:
    """The multipart uploads ``journal`` keeps (unfinished), read after the run."""
    from lilt.transfer import JournalError
    from lilt.transfer.journal import Journal

    try:
        with Journal(journal) as opened:
            return [r for r in opened.records() if r.upload_id and not r.completed]
    except (OSError, JournalError):
        return []


def _record(run: _Run, result: UploadResult, args: argparse.Namespace,
            display: Optional[TerminalProgress]) -> None:
    run.uploaded += 1
    run.bytes += result.size
    already = result.part_count > 0 and result.resumed_parts >= result.part_count
    if args.json:
        entry = dataclasses.asdict(result)
        entry["already_uploaded"] = already
        run.results.append(entry)
        return
    if display is not None:
        display.clear()
    parts = f"{result.part_count} part{'s' if result.part_count != 1 else ''}"
    if result.resumed_parts and not already:
        parts += f", {result.resumed_parts} resumed"
    from lilt.transfer.progress import format_size

    verb = "already uploaded" if already else "uploaded"
    name = result.path if result.path is not None else f"- ({result.filename})"
    print(f"{verb} {name} -> {result.key} ({format_size(result.size)}, {parts})", flush=True)


def _skipped(run: _Run, skipped: SkippedPath, args: argparse.Namespace,
             display: Optional[TerminalProgress]) -> None:
    run.skipped.append(skipped)
    if not args.json:
        if display is not None:
            display.clear()
        print(f"lilt: skipped {skipped.path}: {skipped.reason}", file=sys.stderr, flush=True)


def _summary(args: argparse.Namespace, run: _Run) -> int:
    from lilt.transfer.progress import format_size

    elapsed = time.monotonic() - run.started
    resumed = run.last.resumed_bytes if run.last is not None else 0
    sent = max(0, run.bytes - resumed)
    errors = [s for s in run.skipped if s.error]
    code = EXIT_FAILED if errors else EXIT_OK
    if args.json:
        _print_json({
            "ok": not errors, "results": run.results,
            "skipped": [dataclasses.asdict(s) for s in run.skipped],
            "files": run.uploaded, "bytes": run.bytes, "sent_bytes": sent,
            "resumed_bytes": resumed, "seconds": round(elapsed, 3),
        })
        return code
    files = f"{run.uploaded} file{'s' if run.uploaded != 1 else ''}"
    if run.uploaded == 0:
        line = "nothing to upload" + (" (every entry was skipped)" if run.skipped else
                                      ": no files matched")
    elif run.bytes and sent == 0:
        line = (f"nothing left to send: {files} ({format_size(run.bytes)}) were already "
                f"uploaded by an earlier run")
    else:
        line = (f"{files}, {format_size(sent)} sent in {elapsed:.1f} s "
                f"({sent / max(elapsed, 1e-9) / 1024**2:.1f} MiB/s)")
        if resumed:
            line += f"; {format_size(resumed)} resumed from an earlier run"
    if errors:
        line += f"; {len(errors)} skipped after an error (see above)"
    print(line)
    return code


def _report_interrupt(args: argparse.Namespace, exc: KeyboardInterrupt, journal: Optional[str],
                      run: _Run) -> None:
    if args.json:
        return  # main prints the document
    what = {signal.SIGTERM: "terminated (SIGTERM)"}.get(
        getattr(exc, "signum", signal.SIGINT), "interrupted")
    if getattr(exc, "signum", None) == getattr(signal, "SIGHUP", None):
        what = "hung up (SIGHUP)"
    print(f"lilt: {what}", file=sys.stderr)
    if journal is None:
        print("lilt: unfinished multipart uploads were aborted; nothing is left pending",
              file=sys.stderr)
        return
    _print_resume_help(args, journal, run)


def _print_resume_help(args: argparse.Namespace, journal: str, run: _Run, *,
                       always: bool = True) -> None:
    kept = _kept(journal)
    if not kept and not always:
        return
    done = ""
    if run.uploaded:
        done = f"{run.uploaded} file{'s' if run.uploaded != 1 else ''} finished; "
    if not kept:
        print(f"lilt: {done}no upload is left pending. To continue (finished files are "
              f"skipped):\n  {_command_line(args)}", file=sys.stderr)
        return
    lines = [f"lilt: {done}{len(kept)} multipart upload{'s are' if len(kept) != 1 else ' is'} "
             f"kept for resuming (journal {journal}).",
             "To resume, run the same command again:",
             f"  {_command_line(args)}",
             "To cancel instead:"]
    host = _host_option(args)
    for record in kept:
        lines.append(f"  lilt uploads cancel {shlex.quote(record.upload_id)} "
                     f"{shlex.quote(record.key)}{host}")
    print("\n".join(lines), file=sys.stderr)


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed, for "run it again" hints, without the API key."""
    words: list[str] = []
    skip = False
    for word in args.argv:
        if skip:
            skip = False
            continue
        if word == "--api-key":
            skip = True
            continue
        if word.startswith("--api-key="):
            continue
        words.append(word)
    return "lilt " + " ".join(shlex.quote(w) for w in words)


def _host_option(args: argparse.Namespace) -> str:
    host = getattr(args, "host", None)
    return f" --host {shlex.quote(host)}" if host else ""


def _terminal_progress(args: argparse.Namespace) -> Optional[TerminalProgress]:
    """A bar on a terminal, nothing otherwise (logs and pipes stay clean)."""
    if args.json or args.no_progress or not sys.stderr.isatty():
        return None
    from lilt.transfer.progress import TerminalProgress

    return TerminalProgress(sys.stderr)


def _close(display: Optional[TerminalProgress], *, interrupted: bool = False) -> None:
    if display is not None:
        display.close(interrupted=interrupted)


# --- uploads list / show / cancel / clean ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Record:
    """An upload record as the API sent it, with the multipart fields when it has them."""

    id: Optional[int]
    filename: Optional[str]
    status: Optional[str]
    created_at: Optional[datetime.datetime]
    upload_id: Optional[str] = None
    key: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Any) -> _Record:
        from lilt.models import GetPendingUploads200ResponseInner

        if not isinstance(data, dict):
            raise ValueError(f"an upload record must be an object, got {type(data).__name__}")
        model = GetPendingUploads200ResponseInner.from_dict(data)
        assert model is not None
        upload_id = data.get("uploadId", data.get("upload_id"))
        key = data.get("key", data.get("s3Key"))
        return cls(model.id, model.filename, model.status, model.created_at,
                   upload_id if isinstance(upload_id, str) else None,
                   key if isinstance(key, str) else None)

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "filename": self.filename, "status": self.status,
                "created_at": _date(self.created_at)}
        if self.upload_id or self.key:
            data.update(upload_id=self.upload_id, key=self.key)
        return data


def _records(args: argparse.Namespace, call: Callable[[Any], Any]) -> Any:
    """Call the API with the raw body kept: records may carry fields the model drops."""
    import lilt

    with _client(args, _target(args)) as client:
        response = call(lilt.UploadsApi(client))
    try:
        return json.loads(response.raw_data)
    except ValueError as exc:
        from lilt.exceptions import ApiException

        raise ApiException(status=response.status_code,
                           reason=f"the API answered with something that is not JSON: {exc}"
                           ) from None


def _cmd_list(args: argparse.Namespace) -> int:
    target = _target(args)
    data = _records(args, lambda api: api.get_pending_uploads_with_http_info(
        ids=args.ids, statuses=args.statuses))
    records = [_Record.from_wire(item) for item in (data if isinstance(data, list) else [data])]
    kept = _state().kept(target)
    if args.json:
        _print_json({"ok": True, "uploads": [r.to_json() for r in records],
                     "kept": [_kept_json(k) for k in kept]})
        return EXIT_OK
    if not records:
        print("no uploads" if not (args.ids or args.statuses) else "no uploads match")
    else:
        columns = ["ID", "STATUS", "CREATED", "FILENAME"]
        rows = [[str(r.id) if r.id is not None else "-", r.status or "-", _date(r.created_at),
                 r.filename or "-"] for r in records]
        if any(r.upload_id or r.key for r in records):
            columns += ["UPLOAD ID", "KEY"]
            for row, r in zip(rows, records):
                row += [r.upload_id or "-", r.key or "-"]
        _table(columns, rows, right=[0])
    if kept:
        print(f"\nkept for resuming on this computer ({len(kept)}; `lilt uploads cancel "
              f"UPLOAD_ID` cancels one, running the upload again resumes it):")
        _table(["UPLOAD ID", "KEY", "PARTS", "IDLE", "FILE"],
               [[k.upload_id, k.key, str(k.parts), _duration(k.idle_seconds), k.path]
                for k in kept], right=[2])
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    data = _records(args, lambda api: api.get_upload_by_id_with_http_info(args.id))
    record = _Record.from_wire(data)
    if args.json:
        _print_json({"ok": True, "upload": record.to_json()})
        return EXIT_OK
    rows = [("id", str(record.id)), ("filename", record.filename or "-"),
            ("status", record.status or "-"), ("created", _date(record.created_at))]
    if record.upload_id or record.key:
        rows += [("upload id", record.upload_id or "-"), ("key", record.key or "-")]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name + ':':<{width + 1}} {value}")
    return EXIT_OK


_UPLOAD_ID = re.compile(r"^[A-Za-z0-9._~+=:-]+$")


def _cmd_cancel(args: argparse.Namespace) -> int:
    import lilt

    ident: str = args.upload_id.strip()
    target = _target(args)
    state = _state()
    if ident.isdigit() and len(ident) <= 18 and args.key is None:
        upload_id, key = _from_record(args, int(ident), state, target)
    else:
        if not _UPLOAD_ID.match(ident) or ident in (".", ".."):
            raise UsageError(f"{args.upload_id!r} is not an upload id (see `lilt uploads list`)")
        upload_id, key = ident, args.key
        if key is None:
            matches = {k.key for k in state.kept() if k.upload_id == upload_id}
            if len(matches) != 1:
                raise UsageError(
                    f"no resume journal on this computer knows upload {upload_id!r}; "
                    f"give its key too: lilt uploads cancel {upload_id} S3KEY")
            key = matches.pop()
    if not key.strip() or key.strip() in (".", ".."):
        raise UsageError(f"{key!r} is not a storage key")
    with _client(args, target) as client:
        answer = lilt.UploadsApi(client).cancel_multipart_upload(upload_id, key)
    forgot = state.forget(upload_id)
    if args.json:
        _print_json({"ok": True, "upload_id": upload_id, "key": key,
                     "message": getattr(answer, "message", None), "journal_updated": forgot})
    else:
        message = getattr(answer, "message", None)
        print(f"cancelled {upload_id} ({key})" + (f": {message}" if message else ""))
    return EXIT_OK


def _from_record(args: argparse.Namespace, record_id: int, state: StateFolder, target: Target
                 ) -> tuple[str, str]:
    """The upload id and key of record ``record_id``: from the API if it tells, else from
    this computer's journals (the one kept upload of that file name)."""
    record = _Record.from_wire(_records(args, lambda api: api.get_upload_by_id_with_http_info(
        record_id)))
    if record.upload_id and record.key:
        return record.upload_id, record.key
    if record.status not in (None, "pending"):
        raise UsageError(f"upload {record_id} ({record.filename}) is {record.status}: "
                         f"there is nothing to cancel")
    kept = [k for k in state.kept(target) if k.filename == record.filename]
    if len(kept) == 1:
        return kept[0].upload_id, kept[0].key
    if not kept:
        raise UsageError(
            f"upload {record_id} ({record.filename}): the API does not say which multipart "
            f"upload it is, and no resume journal on this computer keeps one of that name; "
            f"cancel it by upload id and key: lilt uploads cancel UPLOAD_ID S3KEY")
    ids = ", ".join(k.upload_id for k in kept)
    raise UsageError(f"upload {record_id} ({record.filename}) could be any of {len(kept)} kept "
                     f"uploads of that name ({ids}); cancel one by its upload id")


def _cmd_clean(args: argparse.Namespace) -> int:
    import lilt
    from lilt.exceptions import NotFoundException

    target = _target(args)
    state = _state()
    candidates: dict[str, tuple[str, str, str]] = {}  # upload id -> key, age, what
    now = datetime.datetime.now(datetime.timezone.utc)
    for kept in state.kept(target):
        if kept.idle_seconds >= args.older_than:
            candidates[kept.upload_id] = (kept.key, _duration(kept.idle_seconds), kept.path)
    data = _records(args, lambda api: api.get_pending_uploads_with_http_info(statuses="pending"))
    for item in data if isinstance(data, list) else []:
        record = _Record.from_wire(item)
        if not (record.upload_id and record.key and record.created_at):
            continue
        created = record.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=datetime.timezone.utc)
        age = (now - created).total_seconds()
        if age >= args.older_than and record.upload_id not in candidates:
            candidates[record.upload_id] = (record.key, _duration(age),
                                            f"record {record.id} ({record.filename})")
    done: list[str] = []
    failed: list[str] = []
    if args.yes and candidates:
        with _client(args, target) as client:
            api = lilt.UploadsApi(client)
            for upload_id, (key, _, _) in candidates.items():
                try:
                    api.cancel_multipart_upload(upload_id, key)
                except NotFoundException:
                    pass  # already gone: only the journal still remembered it
                except lilt.ApiException as exc:
                    failed.append(f"{upload_id}: {_describe(exc)}")
                    continue
                state.forget(upload_id)
                done.append(upload_id)
    if args.json:
        _print_json({"ok": not failed, "dry_run": not args.yes,
                     "stale": [{"upload_id": u, "key": k, "idle": a, "what": w}
                               for u, (k, a, w) in candidates.items()],
                     "cancelled": done, "failed": failed})
        return EXIT_FAILED if failed else EXIT_OK
    if not candidates:
        print(f"no multipart upload idle for more than {_duration(args.older_than)}")
        return EXIT_OK
    print(("cancelled" if args.yes else "would cancel") + f" {len(candidates)} multipart "
          f"upload{'s' if len(candidates) != 1 else ''} idle for more than "
          f"{_duration(args.older_than)}:")
    _table(["UPLOAD ID", "KEY", "IDLE", "WHAT"],
           [[u, k, a, w] for u, (k, a, w) in candidates.items()], right=[])
    for line in failed:
        print(f"lilt: could not cancel {line}", file=sys.stderr)
    if not args.yes:
        print("(dry run: add --yes to cancel them)")
    return EXIT_FAILED if failed else EXIT_OK


def _kept_json(kept: KeptUpload) -> dict[str, Any]:
    return {"upload_id": kept.upload_id, "key": kept.key, "path": kept.path,
            "filename": kept.filename, "parts": kept.parts,
            "idle_seconds": round(kept.idle_seconds), "command": kept.command}


def _state() -> StateFolder:
    from lilt.transfer.state import StateFolder

    return StateFolder()


# --- emulator and demo ---------------------------------------------------------------


def _cmd_emulator(argv: list[str]) -> int:
    try:
        from lilt.testing.__main__ import main as emulator_main
    except ImportError as exc:
        print(f"lilt: error: the emulator needs its extra: pip install 'lilt[emulator]' ({exc})",
              file=sys.stderr)
        return EXIT_USAGE
    return emulator_main(argv, prog="lilt emulator")


def _cmd_demo(args: argparse.Namespace) -> int:
    """The README's main job: emulator, a multipart upload with a bar, byte-for-byte check."""
    import hashlib
    import tempfile

    import lilt
    from lilt.transfer import TextProgress, TransferConfig
    from lilt.transfer.progress import TerminalProgress, format_size

    if args.size <= 16 * 1024**2:
        raise UsageError("--size must exceed 16MiB so the upload is multipart")
    emulator_class = _emulator_class()

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    say("starting the emulator (LILT uploads API on SeaweedFS) ...")
    with emulator_class() as emulator, tempfile.TemporaryDirectory(prefix="lilt-demo-") as tmp:
        path = os.path.join(tmp, "sample.bin")
        say(f"generating {format_size(args.size)} of random data in {path}")
        expected = _write_sample(path, args.size)
        progress: Any
        if sys.stderr.isatty() and not args.json:
            progress = TerminalProgress(sys.stderr)
        else:  # CI logs: a line per 10 % instead of a redrawn bar
            progress = TextProgress(sys.stderr)
        config = TransferConfig(part_size=args.part_size, concurrency=args.concurrency,
                                progress=progress)
        configuration = lilt.Configuration(host=emulator.base_url, username=emulator.api_key,
                                           password=emulator.api_key)
        started = time.monotonic()
        try:
            with lilt.ApiClient(configuration) as client, \
                    lilt.Uploader(client, config) as uploader:
                result = uploader.upload_file(path)
        except KeyboardInterrupt:
            _close_any(progress, interrupted=True)
            raise
        elapsed = time.monotonic() - started
        _close_any(progress)
        say(f"reading {result.key} back from storage ...")
        verified = hashlib.sha256(emulator.read_object(result.key)).hexdigest() == expected
        summary = {
            "ok": verified, "size": result.size, "parts": result.part_count,
            "part_size": args.part_size, "seconds": round(elapsed, 3),
            "mib_per_s": round(result.size / max(elapsed, 1e-9) / 1024**2, 1),
            "key": result.key, "upload_id": result.upload_id,
            "sha256": expected, "verified": verified,
            "expected_etag": result.checksums.expected_etag,
        }
    if args.json:
        _print_json(summary)
    else:
        print(f"uploaded {format_size(result.size)} in {result.part_count} parts of "
              f"{format_size(args.part_size)} in {elapsed:.2f} s ({summary['mib_per_s']} MiB/s)")
        print(f"read back and compared: SHA-256 {expected[:16]}... "
              f"{'verified' if verified else 'MISMATCH'}")
        print("emulator stopped")
    return EXIT_OK if verified else EXIT_FAILED


def _close_any(progress: Any, *, interrupted: bool = False) -> None:
    close = getattr(progress, "close", None)
    if close is None:
        return
    try:
        close(interrupted=interrupted)
    except TypeError:
        close()


def _write_sample(path: str, size: int) -> str:
    """Write ``size`` random bytes to ``path``; return their SHA-256."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 1024**2))
            digest.update(block)
            handle.write(block)
            left -= len(block)
    return digest.hexdigest()


def _emulator_class() -> type[Emulator]:
    try:
        from lilt.testing import Emulator
    except ImportError as exc:
        raise UsageError(
            f"the demo needs the emulator: pip install 'lilt[emulator]' ({exc})"
        ) from None
    return Emulator


# --- helpers -----------------------------------------------------------------------------------


def _target(args: argparse.Namespace) -> Target:
    """The host and account of this command, both checked before anything is sent."""
    from lilt.transfer.state import Target

    key = getattr(args, "api_key", None) or os.environ.get("LILT_API_KEY")
    host = getattr(args, "host", None)
    if host is not None:
        host = check_host(host, "--host")
    elif os.environ.get("LILT_API_HOST"):
        host = check_host(os.environ["LILT_API_HOST"], "LILT_API_HOST")
    if not key:
        raise UsageError("no API key: pass --api-key or set LILT_API_KEY")
    return Target.of(host or DEFAULT_HOST, key)


def _client(args: argparse.Namespace, target: Target) -> lilt.ApiClient:
    import lilt

    key = getattr(args, "api_key", None) or os.environ.get("LILT_API_KEY")
    return lilt.ApiClient(lilt.Configuration(host=target.host, username=key, password=key))


def _report_failure(args: argparse.Namespace, exc: BaseException, journal: Optional[str] = None,
                    run: Optional[_Run] = None) -> int:
    transfer = _is_transfer_error(exc)
    if args.json:
        error: dict[str, Any] = {"message": _describe(exc), "type": type(exc).__name__,
                                 "status": _status(exc), "exit_code": EXIT_FAILED}
        request_id = _request_id(exc)
        if request_id:
            error["request_id"] = request_id
        if transfer:
            error.update(file=getattr(exc, "file", None),
                         upload_id=getattr(exc, "upload_id", None), key=getattr(exc, "key", None),
                         completed_parts=list(getattr(exc, "completed_parts", ())),
                         aborted=getattr(exc, "aborted", False))
        document: dict[str, Any] = {"ok": False, "error": error}
        if run is not None:
            document["results"] = run.results
        if journal is not None:
            document["kept"] = [{"upload_id": r.upload_id, "key": r.key, "path": r.path}
                                for r in _kept(journal)]
        _print_json(document)
        return EXIT_FAILED
    print(f"lilt: {_describe(exc)}", file=sys.stderr)
    if journal is not None and run is not None:
        _print_resume_help(args, journal, run, always=False)
    return EXIT_FAILED


def _is_transfer_error(exc: BaseException) -> bool:
    from lilt.exceptions import TransferError

    return isinstance(exc, TransferError)


def _status(exc: BaseException) -> Optional[int]:
    cause = _api_cause(exc)
    status = getattr(cause if cause is not None else exc, "status", None)
    return status if isinstance(status, int) else None


def _request_id(exc: BaseException) -> Optional[str]:
    cause = _api_cause(exc)
    value = getattr(cause if cause is not None else exc, "request_id", None)
    return value if isinstance(value, str) else None


def _api_cause(exc: BaseException) -> Optional[BaseException]:
    """The API error behind a TransferError (``api_error`` where it exists, else the cause)."""
    from lilt.exceptions import ApiException

    found = getattr(exc, "api_error", None)
    if isinstance(found, ApiException):
        return found
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ApiException):
            return cause
        cause = cause.__cause__
    return None


def _describe(exc: BaseException) -> str:
    """One line saying what went wrong: no headers, no body dumps, no secrets."""
    from lilt._redact import redact_text
    from lilt.exceptions import ApiException

    if _is_transfer_error(exc):
        cause = _api_cause(exc) or exc.__cause__
        reason = _describe(cause) if cause is not None else str(getattr(exc, "reason", exc))
        where = getattr(exc, "file", None) or "upload"
        if getattr(exc, "aborted", False):
            reason += "; its multipart upload was aborted"
        return redact_text(f"{where}: {reason}")
    if isinstance(exc, ApiException):
        detail = exc.message or exc.reason or type(exc).__name__
        status = f"API error {exc.status}" if exc.status else "API error"
        request = f" (request id {exc.request_id})" if exc.request_id else ""
        return redact_text(_one_line(f"{status}: {detail}{request}"))
    if isinstance(exc, OSError) and exc.filename is not None:
        return _one_line(f"{exc.filename}: {exc.strerror or exc}")
    return redact_text(_one_line(str(exc) or type(exc).__name__))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _warn(args: argparse.Namespace, message: str) -> None:
    if not getattr(args, "json", False):
        print(f"lilt: {message}", file=sys.stderr)


def _date(value: Optional[datetime.datetime]) -> str:
    """The one date format of the command's output: ISO 8601, UTC, to the second."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int]) -> None:
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


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _version() -> str:
    import lilt

    return lilt.__version__


__all__ = ["Interrupted", "UsageError", "build_parser", "check_host", "main", "parse_age",
           "parse_size"]
