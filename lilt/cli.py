"""The ``lilt`` command: upload files, inspect and cancel uploads, run the emulator, see a demo.

Exit codes (stable, for scripts):

====  ==============================================================
0     success
1     an upload or API call failed after requests were sent
2     usage: bad arguments, missing credentials, or input refused
      before any request (missing or unreadable file, too large, ...)
130   interrupted (Ctrl-C); multipart uploads were aborted unless a
      journal keeps them for ``--journal`` to resume
====  ==============================================================

Credentials come from ``--api-key``/``--host`` or the ``LILT_API_KEY``/
``LILT_API_HOST`` environment variables. Progress bars are drawn on stderr
when it is a terminal; ``--json`` prints one machine-readable document on
stdout instead of the human summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    import lilt
    from lilt.testing import Emulator
    from lilt.transfer import ProgressCallback, UploadResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


class UsageError(Exception):
    """Bad input found before any request was sent (exit code 2)."""


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


# --- the parser ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # Connection options work before or after the command: `lilt --host H upload f`
    # and `lilt upload f --host H`. SUPPRESS keeps a later default from
    # overwriting an earlier value.
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument("--api-key", default=argparse.SUPPRESS, metavar="KEY",
                       help="LILT API key (default: $LILT_API_KEY)")
    group.add_argument("--host", default=argparse.SUPPRESS, metavar="URL",
                       help="API base URL (default: $LILT_API_HOST, else https://api.lilt.com)")

    parser = argparse.ArgumentParser(
        prog="lilt", parents=[connection],
        description="Upload files to LILT and manage uploads.",
        epilog="Exit codes: 0 ok, 1 upload or API failure, 2 usage or bad input "
               "(nothing sent), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    upload = commands.add_parser(
        "upload", parents=[connection], help="upload files (multipart, resumable)",
        description="Upload files: one PUT up to the threshold, a multipart upload above it, "
                    "all files sharing one pool of connections.",
    )
    upload.add_argument("paths", nargs="+", metavar="PATH", help="files to upload")
    upload.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                        help="parts and small files in flight at once (default 8); memory "
                             "is about (N + 1) x part size")
    upload.add_argument("--part-size", type=parse_size, default=8 * 1024**2, metavar="SIZE",
                        help="bytes per part, e.g. 8MiB (default; minimum 5MiB); grown "
                             "automatically past 10,000 parts")
    upload.add_argument("--threshold", type=parse_size, default=16 * 1024**2, metavar="SIZE",
                        help="files larger than this use multipart uploads (default 16MiB)")
    upload.add_argument("--journal", metavar="FILE",
                        help="resume journal: an interrupted or failed upload is kept, and "
                             "running the same command again continues where it stopped")
    upload.add_argument("--no-checksum", action="store_true",
                        help="do not send Content-MD5 (saves CPU; storage can no longer "
                             "reject a corrupted part)")
    upload.add_argument("--category", help="category stored with each upload")
    upload.add_argument("--label", action="append", dest="labels", metavar="LABEL",
                        help="label stored with each upload (repeatable)")
    upload.add_argument("--json", action="store_true",
                        help="print one JSON document with every result (or the error) on stdout")
    upload.add_argument("--no-progress", action="store_true",
                        help="no progress bar even on a terminal")
    upload.set_defaults(handler=_cmd_upload)

    uploads = commands.add_parser("uploads", help="list, show or cancel uploads",
                                  description="Inspect and cancel uploads known to the API.")
    sub = uploads.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", parents=[connection], help="list pending uploads")
    listing.add_argument("--ids", help="comma-separated upload ids to show")
    listing.add_argument("--statuses", help="comma-separated statuses, e.g. pending")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_cmd_list)
    show = sub.add_parser("show", parents=[connection], help="show one upload")
    show.add_argument("id", type=_positive_int, metavar="ID", help="numeric upload id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_cmd_show)
    cancel = sub.add_parser("cancel", parents=[connection],
                            help="abort a multipart upload and discard its parts")
    cancel.add_argument("upload_id", metavar="UPLOAD_ID", help="multipart upload id")
    cancel.add_argument("key", metavar="S3KEY", help="the upload's storage key")
    cancel.add_argument("--json", action="store_true", help="print JSON")
    cancel.set_defaults(handler=_cmd_cancel)

    emulator = commands.add_parser(
        "emulator", help="run the local LILT uploads emulator (see `lilt emulator --help`)",
        add_help=False, description="Run the local emulator; arguments are passed through.",
    )
    emulator.add_argument("args", nargs=argparse.REMAINDER)
    emulator.set_defaults(handler=_cmd_emulator)

    demo = commands.add_parser(
        "demo", help="upload a generated file to a local emulator and verify it",
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
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; return (and, as the console script, exit with) its exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if args_list[:1] == ["emulator"]:  # everything after it belongs to the emulator
        return _cmd_emulator(argparse.Namespace(args=args_list[1:]))
    args = parser.parse_args(args_list)  # exits 2 on bad usage
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"lilt: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lilt: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `lilt uploads list | head`
        return EXIT_OK


# --- commands -------------------------------------------------------------------------------


def _cmd_upload(args: argparse.Namespace) -> int:
    import lilt
    from lilt.exceptions import ApiException
    from lilt.transfer import JournalError, PlanError, TransferConfig

    progress = None if args.no_progress else _progress_for(sys.stderr)
    try:
        config = TransferConfig(
            multipart_threshold=args.threshold, part_size=args.part_size,
            concurrency=args.concurrency, journal=args.journal,
            checksum=not args.no_checksum, progress=progress,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    started = time.monotonic()
    try:
        with _client(args) as client, lilt.Uploader(client, config) as uploader:
            results = uploader.upload_files(args.paths, category=args.category, labels=args.labels)
    except (OSError, PlanError, JournalError, ValueError) as exc:
        _close(progress)
        if isinstance(exc, ApiException):  # a ResponseDecodeError is also a ValueError
            return _report_failure(args, exc)
        raise UsageError(_describe(exc)) from None
    except ApiException as exc:
        _close(progress)
        return _report_failure(args, exc)
    except KeyboardInterrupt:
        _close(progress)
        if args.journal:
            print(f"lilt: unfinished uploads are kept in {args.journal}; run the same command "
                  f"to resume", file=sys.stderr)
        else:
            print("lilt: unfinished multipart uploads were aborted", file=sys.stderr)
        raise
    _close(progress)
    elapsed = time.monotonic() - started
    if args.json:
        _print_json({"ok": True, "results": [_result_dict(r) for r in results],
                     "seconds": round(elapsed, 3)})
    else:
        for result in results:
            parts = f"{result.part_count} part{'s' if result.part_count != 1 else ''}"
            print(f"uploaded {result.path} -> {result.key} ({_human(result.size)}, {parts})")
        total = sum(r.size for r in results)
        print(f"{len(results)} file{'s' if len(results) != 1 else ''}, {_human(total)} in "
              f"{elapsed:.1f} s ({total / max(elapsed, 1e-9) / 1024**2:.1f} MiB/s)")
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    import lilt

    with _client(args) as client:
        uploads = _api_call(args, lambda: lilt.UploadsApi(client).get_pending_uploads(
            ids=args.ids, statuses=args.statuses))
    if uploads is None:
        return EXIT_FAILED
    if args.json:
        _print_json([json.loads(u.to_json()) for u in uploads])
    elif not uploads:
        print("no uploads")
    else:
        print(f"{'ID':>8}  {'STATUS':<12} {'CREATED':<26} FILENAME")
        for u in uploads:
            created = u.created_at.isoformat() if u.created_at else "-"
            print(f"{u.id or '-':>8}  {u.status or '-':<12} {created:<26} {u.filename or '-'}")
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    import lilt

    with _client(args) as client:
        upload = _api_call(args, lambda: lilt.UploadsApi(client).get_upload_by_id(args.id))
    if upload is None:
        return EXIT_FAILED
    data = json.loads(upload.to_json())
    if args.json:
        _print_json(data)
    else:
        for name, value in data.items():
            print(f"{name}: {value}")
    return EXIT_OK


def _cmd_cancel(args: argparse.Namespace) -> int:
    import lilt

    with _client(args) as client:
        answer = _api_call(args, lambda: lilt.UploadsApi(client).cancel_multipart_upload(
            args.upload_id, args.key))
    if answer is None:
        return EXIT_FAILED
    if args.json:
        _print_json(json.loads(answer.to_json()) if hasattr(answer, "to_json") else {})
    else:
        print(f"cancelled {args.upload_id}" + (f": {answer.message}" if answer.message else ""))
    return EXIT_OK


def _cmd_emulator(args: argparse.Namespace) -> int:
    try:
        from lilt.testing.__main__ import main as emulator_main
    except ImportError as exc:
        raise UsageError(
            f"the emulator needs its extra: pip install 'lilt[emulator]' ({exc})"
        ) from None
    return emulator_main(list(args.args))


def _cmd_demo(args: argparse.Namespace) -> int:
    """The README's main job: emulator, a multipart upload with a bar, byte-for-byte check."""
    import hashlib
    import tempfile

    import lilt
    from lilt.transfer import TextProgress, TqdmProgress, TransferConfig

    if args.size <= 16 * 1024**2:
        raise UsageError("--size must exceed 16MiB so the upload is multipart")
    emulator_class = _emulator_class()

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    say("starting the emulator (LILT uploads API on SeaweedFS) ...")
    with emulator_class() as emulator, tempfile.TemporaryDirectory(prefix="lilt-demo-") as tmp:
        path = os.path.join(tmp, "sample.bin")
        say(f"generating {_human(args.size)} of random data in {path}")
        expected = _write_sample(path, args.size)
        progress: ProgressCallback
        if sys.stderr.isatty() and not args.json:
            progress = TqdmProgress(desc="sample.bin")
        else:  # CI logs: a line per 10 % instead of a redrawn bar
            progress = TextProgress(sys.stderr)
        config = TransferConfig(part_size=args.part_size, concurrency=args.concurrency,
                                progress=progress)
        configuration = lilt.Configuration(host=emulator.base_url, username=emulator.api_key,
                                           password=emulator.api_key)
        started = time.monotonic()
        with lilt.ApiClient(configuration) as client, lilt.Uploader(client, config) as uploader:
            result = uploader.upload_file(path)
        elapsed = time.monotonic() - started
        _close(progress)
        say(f"reading {result.key} back from storage ...")
        verified = hashlib.sha256(emulator.read_object(result.key)).hexdigest() == expected
        summary = {
            "size": result.size, "parts": result.part_count, "part_size": args.part_size,
            "seconds": round(elapsed, 3),
            "mib_per_s": round(result.size / max(elapsed, 1e-9) / 1024**2, 1),
            "key": result.key, "upload_id": result.upload_id,
            "sha256": expected, "verified": verified,
            "expected_etag": result.checksums.expected_etag,
        }
    if args.json:
        _print_json(summary)
    else:
        print(f"uploaded {_human(result.size)} in {result.part_count} parts of "
              f"{_human(args.part_size)} in {elapsed:.2f} s ({summary['mib_per_s']} MiB/s)")
        print(f"read back and compared: SHA-256 {expected[:16]}... "
              f"{'verified' if verified else 'MISMATCH'}")
        print("emulator stopped")
    return EXIT_OK if verified else EXIT_FAILED


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


def _client(args: argparse.Namespace) -> lilt.ApiClient:
    import lilt

    key = getattr(args, "api_key", None) or os.environ.get("LILT_API_KEY")
    host = getattr(args, "host", None)
    if not key:
        raise UsageError("no API key: pass --api-key or set LILT_API_KEY")
    return lilt.ApiClient(lilt.Configuration(host=host, username=key, password=key))


def _api_call(args: argparse.Namespace, call: Callable[[], Any]) -> Any:
    from lilt.exceptions import ApiException

    try:
        return call()
    except ApiException as exc:
        _report_failure(args, exc)
        return None


def _report_failure(args: argparse.Namespace, exc: BaseException) -> int:
    from lilt.exceptions import TransferError

    if getattr(args, "json", False):
        error: dict[str, Any] = {"message": _describe(exc), "type": type(exc).__name__,
                                 "status": getattr(exc, "status", None)}
        if isinstance(exc, TransferError):
            error.update(file=exc.file, upload_id=exc.upload_id, key=exc.key,
                         completed_parts=list(exc.completed_parts), aborted=exc.aborted)
        _print_json({"ok": False, "error": error})
    else:
        print(f"lilt: {_describe(exc)}", file=sys.stderr)
        if isinstance(exc, TransferError) and exc.upload_id and not exc.aborted:
            print(f"lilt: upload {exc.upload_id} is kept; resume with the same --journal, or "
                  f"cancel it: lilt uploads cancel {exc.upload_id} {exc.key}", file=sys.stderr)
    return EXIT_FAILED


def _describe(exc: BaseException) -> str:
    from lilt._redact import redact_text
    from lilt.exceptions import ApiException, TransferError

    if isinstance(exc, TransferError):
        return str(exc)
    if isinstance(exc, ApiException):
        detail = exc.message or exc.reason or ""
        return redact_text(f"API error {exc.status}: {detail}".strip())
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return redact_text(str(exc))


def _progress_for(stream: IO[str]) -> Optional[ProgressCallback]:
    """A bar on a terminal, nothing otherwise (logs stay clean)."""
    if not stream.isatty():
        return None
    try:
        import tqdm  # noqa: F401
    except ImportError:
        from lilt.transfer import TextProgress

        return TextProgress(stream)
    from lilt.transfer import TqdmProgress

    return TqdmProgress(file=stream)


def _close(progress: Any) -> None:
    close = getattr(progress, "close", None)
    if close is not None:
        close()


def _result_dict(result: UploadResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _version() -> str:
    import lilt

    return lilt.__version__
