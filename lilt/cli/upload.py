"""``lilt upload``: files, folders (walked lazily) and standard input, resumable by default.

Every argument is checked before the first request (paths readable, options
consistent, the host a URL), so bad input is exit code 2 with nothing sent.
Then one :class:`~lilt.Uploader` sends everything through one pool of
connections; :class:`~lilt.cli.upload_report.UploadReport` says what happened.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Optional

from lilt.cli import connection, resume
from lilt.cli.exit_codes import UsageError
from lilt.cli.failures import describe, is_reportable
from lilt.cli.progress_bar import closed_at_end, terminal_bar
from lilt.cli.upload_report import UploadReport
from lilt.cli.values import parse_size, positive_int

if TYPE_CHECKING:
    from lilt.cli.parser import Commands, Parser
    from lilt.transfer import ProgressCallback, TransferConfig, Uploader
    from lilt.transfer.walk import LocalFile, OnSkip

MiB = 1024**2


def add_command(
    commands: Commands,
    parents: list[Parser],
) -> None:
    upload = commands.add_parser(
        "upload",
        parents=parents,
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
    _add_what_options(upload)
    _add_how_options(upload)
    upload.add_argument("--category", help="category stored with each upload")
    upload.add_argument(
        "--label",
        action="append",
        dest="labels",
        metavar="LABEL",
        help="label stored with each upload (repeatable)",
    )
    upload.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )
    upload.set_defaults(handler=run)


def _add_what_options(upload: argparse.ArgumentParser) -> None:
    """What is uploaded, and under which name and type."""
    upload.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files and folders to upload, or - for standard input",
    )
    upload.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help="in folders, upload only files matching this shell pattern "
        "(repeatable; without / it matches the name, with / the path "
        "inside the folder)",
    )
    upload.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="in folders, leave out files and folders matching this pattern "
        "(repeatable; wins over --include), e.g. '.*' or '*.tmp'",
    )
    upload.add_argument(
        "--filename", metavar="NAME", help="the name the API is told (one file, or required with -)"
    )
    upload.add_argument(
        "--content-type",
        metavar="TYPE",
        help="the MIME type to declare (default: guessed from the name)",
    )


def _add_how_options(upload: argparse.ArgumentParser) -> None:
    """How it is sent: parts, concurrency, resuming and checksums."""
    upload.add_argument(
        "--concurrency",
        type=positive_int,
        default=8,
        metavar="N",
        help="parts and small files in flight at once (default 8); memory "
        "is about (N + 1) x part size",
    )
    upload.add_argument(
        "--part-size",
        type=parse_size,
        default=8 * MiB,
        metavar="SIZE",
        help="bytes per part, e.g. 8MiB (default; minimum 5MiB); grown "
        "automatically past 10,000 parts",
    )
    upload.add_argument(
        "--threshold",
        type=parse_size,
        default=16 * MiB,
        metavar="SIZE",
        help="files larger than this use multipart uploads (default 16MiB)",
    )
    upload.add_argument(
        "--no-resume",
        action="store_true",
        help="keep no journal: an interrupted or failed upload is aborted",
    )
    upload.add_argument(
        "--journal",
        metavar="FILE",
        help="keep the resume journal in FILE instead of the state folder "
        "(and keep it after success)",
    )
    upload.add_argument(
        "--no-checksum",
        action="store_true",
        help="do not send Content-MD5 (saves CPU; storage can no longer reject a corrupted part)",
    )


def run(args: argparse.Namespace) -> int:
    """Check everything, upload, report; the exit code (an interruption is re-raised, for
    :func:`lilt.cli.main` to turn into 130, 129 or 143)."""
    import lilt
    from lilt.transfer import JournalError, PlanError

    stdin, folders = _check_arguments(args)
    target = connection.target(args)
    state, journal = resume.journal_choice(args, target, stdin)
    report = UploadReport.of(args, terminal_bar(wanted=not (args.json or args.no_progress)))
    config = _config(args, journal, report.progress)
    try:
        with (
            closed_at_end(report.bar),
            connection.api_client(args, target) as client,
            lilt.Uploader(client, config) as uploader,
        ):
            if state is not None and journal is not None:
                resume.clean_stale(state, target, client, as_json=args.json)
            _send(
                uploader,
                args,
                report,
                stdin=stdin,
                folders=folders,
                restart_changed=state is not None,
            )
    except KeyboardInterrupt as stop:
        report.interrupted(stop, journal)
        raise
    except (PlanError, JournalError) as exc:
        raise UsageError(describe(exc)) from None
    except Exception as exc:
        if is_reportable(exc):
            return report.failed(exc, journal)
        raise
    if state is not None and journal is not None and not report.skipped_after_error:
        resume.remove_journal(journal)  # finished: nothing to resume (kept when files were skipped)
    return report.summary()


def _check_arguments(args: argparse.Namespace) -> tuple[bool, list[str]]:
    """Whether the upload reads standard input, and the folders among the paths; UsageError
    for a combination that cannot work."""
    paths: list[str] = args.paths
    stdin = "-" in paths
    if stdin and len(paths) > 1:
        raise UsageError("- (standard input) cannot be combined with other paths")
    if stdin and not args.filename:
        raise UsageError("--filename is required with - (standard input has no name)")
    folders = [] if stdin else _check_sources(paths)
    if args.filename and (len(paths) > 1 or folders):
        raise UsageError(
            "--filename names one file; it cannot be used with several files or a folder"
        )
    if (args.include or args.exclude) and not folders:
        raise UsageError("--include and --exclude choose files inside folders; no folder given")
    return stdin, folders


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
            raise UsageError(describe(exc)) from None
    return folders


def _config(
    args: argparse.Namespace, journal: Optional[str], progress: ProgressCallback
) -> TransferConfig:
    from lilt.transfer import TransferConfig

    try:
        return TransferConfig(
            multipart_threshold=args.threshold,
            part_size=args.part_size,
            concurrency=args.concurrency,
            journal=journal,
            checksum=not args.no_checksum,
            progress=progress,
        )
    except ValueError as exc:  # a part size or threshold storage would refuse
        raise UsageError(str(exc)) from None


def _send(
    uploader: Uploader,
    args: argparse.Namespace,
    report: UploadReport,
    *,
    stdin: bool,
    folders: list[str],
    restart_changed: bool,
) -> None:
    if stdin:
        report.file_done(
            uploader.upload_fileobj(
                sys.stdin.buffer,
                args.filename,
                content_type=args.content_type,
                category=args.category,
                labels=args.labels,
            )
        )
        return
    expected = _count(args.paths, args) if report.bar is not None and folders else None
    for result in uploader.iter_upload(
        _files(args.paths, args, report.file_skipped),
        content_type=args.content_type,
        category=args.category,
        labels=args.labels,
        on_skip=report.file_skipped,
        expected=expected,
        restart_changed=restart_changed,
    ):
        report.file_done(result)


def _files(paths: Sequence[str], args: argparse.Namespace, on_skip: OnSkip) -> Iterator[LocalFile]:
    """The files to upload, as the walk finds them (named ``--filename`` when given)."""
    from lilt.transfer.walk import LocalFile, collect

    for file in collect(paths, include=args.include, exclude=args.exclude, on_skip=on_skip):
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
