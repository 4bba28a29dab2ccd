"""What ``lilt upload`` tells while it runs and when it ends: a line per file uploaded or
skipped, a summary, and, after an interruption or a failure, what is left pending with the
commands that resume or cancel it.

With ``--json`` nothing is printed until the end, where the same facts make
one document on stdout; stderr stays empty.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Any, Optional

from lilt.cli.exit_codes import EXIT_FAILED, EXIT_OK
from lilt.cli.failures import report_failure
from lilt.cli.output import plural, print_json
from lilt.cli.resume import cancel_command, command_line
from lilt.cli.signals import what_stopped

if TYPE_CHECKING:
    from lilt.transfer import ProgressEvent, UploadResult
    from lilt.transfer.journal import JournalRecord
    from lilt.transfer.progress import TerminalProgress
    from lilt.transfer.walk import SkippedPath


@dataclasses.dataclass
class UploadReport:
    """The upload command's output, and what it learns on the way for its summary."""

    as_json: bool
    command: str  # as typed, without the API key: for "run it again"
    host: Optional[str]  # --host, repeated in "cancel" hints
    bar: Optional[TerminalProgress]
    started: float = dataclasses.field(default_factory=time.monotonic)
    last: Optional[ProgressEvent] = None
    skipped: list[SkippedPath] = dataclasses.field(default_factory=list)
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    uploaded: int = 0
    bytes: int = 0

    @classmethod
    def of(cls, args: argparse.Namespace, bar: Optional[TerminalProgress]) -> UploadReport:
        return cls(args.json, command_line(args.argv), getattr(args, "host", None), bar)

    @property
    def skipped_after_error(self) -> list[SkippedPath]:
        """Files that could not be read (a failure, exit code 1), not those left out by rule."""
        return [s for s in self.skipped if s.error]

    # --- while it runs -------------------------------------------------------------

    def progress(self, event: ProgressEvent) -> None:
        """The uploader's progress callback: kept for the summary, drawn on the bar."""
        self.last = event
        if self.bar is not None:
            self.bar(event)

    def file_done(self, result: UploadResult) -> None:
        self.uploaded += 1
        self.bytes += result.size
        already = result.part_count > 0 and result.resumed_parts >= result.part_count
        if self.as_json:
            self.results.append({**dataclasses.asdict(result), "already_uploaded": already})
            return
        from lilt.transfer.progress import format_size

        parts = plural(result.part_count, "part")
        if result.resumed_parts and not already:
            parts += f", {result.resumed_parts} resumed"
        verb = "already uploaded" if already else "uploaded"
        name = result.path if result.path is not None else f"- ({result.filename})"
        self._clear_bar()
        print(f"{verb} {name} -> {result.key} ({format_size(result.size)}, {parts})", flush=True)

    def file_skipped(self, skipped: SkippedPath) -> None:
        self.skipped.append(skipped)
        if not self.as_json:
            self._clear_bar()
            print(f"lilt: skipped {skipped.path}: {skipped.reason}", file=sys.stderr, flush=True)

    def _clear_bar(self) -> None:
        if self.bar is not None:
            self.bar.clear()

    # --- at the end ------------------------------------------------------------------

    def summary(self) -> int:
        """The last line (or the document); the exit code: 1 if a file was skipped after an
        error, else 0."""
        elapsed = time.monotonic() - self.started
        resumed = self.last.resumed_bytes if self.last is not None else 0
        sent = max(0, self.bytes - resumed)
        code = EXIT_FAILED if self.skipped_after_error else EXIT_OK
        if self.as_json:
            print_json(
                {
                    "ok": code == EXIT_OK,
                    "results": self.results,
                    "skipped": [dataclasses.asdict(s) for s in self.skipped],
                    "files": self.uploaded,
                    "bytes": self.bytes,
                    "sent_bytes": sent,
                    "resumed_bytes": resumed,
                    "seconds": round(elapsed, 3),
                }
            )
        else:
            print(self._summary_line(elapsed, sent, resumed))
        return code

    def _summary_line(self, elapsed: float, sent: int, resumed: int) -> str:
        from lilt.transfer.progress import format_size

        files = plural(self.uploaded, "file")
        if self.uploaded == 0:
            line = "nothing to upload" + (
                " (every entry was skipped)" if self.skipped else ": no files matched"
            )
        elif self.bytes and sent == 0:
            line = (
                f"nothing left to send: {files} ({format_size(self.bytes)}) were already "
                f"uploaded by an earlier run"
            )
        else:
            line = (
                f"{files}, {format_size(sent)} sent in {elapsed:.1f} s "
                f"({sent / max(elapsed, 1e-9) / 1024**2:.1f} MiB/s)"
            )
            if resumed:
                line += f"; {format_size(resumed)} resumed from an earlier run"
        errors = self.skipped_after_error
        if errors:
            line += f"; {len(errors)} skipped after an error (see above)"
        return line

    def interrupted(self, stop: KeyboardInterrupt, journal: Optional[str]) -> None:
        """Say how the run was stopped and what it left; with ``--json`` the command's main
        prints the document."""
        if self.as_json:
            return
        print(f"lilt: {what_stopped(stop)}", file=sys.stderr)
        if journal is None:
            print(
                "lilt: unfinished multipart uploads were aborted; nothing is left pending",
                file=sys.stderr,
            )
            return
        self._resume_help(journal, always=True)

    def failed(self, exc: BaseException, journal: Optional[str]) -> int:
        """Report ``exc`` with what finished and what is kept for resuming; exit code 1."""
        if self.as_json:
            more: dict[str, Any] = {"results": self.results}
            if journal is not None:
                more["kept"] = [
                    {"upload_id": r.upload_id, "key": r.key, "path": r.path} for r in _kept(journal)
                ]
            return report_failure(exc, as_json=True, **more)
        code = report_failure(exc, as_json=False)
        if journal is not None:
            self._resume_help(journal, always=False)
        return code

    def _resume_help(self, journal: str, *, always: bool) -> None:
        """How to continue (and, for each kept upload, how to cancel it instead); with
        ``always`` false, nothing when the journal keeps nothing."""
        pending = _kept(journal)
        if not pending and not always:
            return
        done = f"{plural(self.uploaded, 'file')} finished; " if self.uploaded else ""
        if not pending:
            print(
                f"lilt: {done}no upload is left pending. To continue (finished files are "
                f"skipped):\n  {self.command}",
                file=sys.stderr,
            )
            return
        uploads = "s are" if len(pending) != 1 else " is"
        lines = [
            f"lilt: {done}{len(pending)} multipart upload{uploads} "
            f"kept for resuming (journal {journal}).",
            "To resume, run the same command again:",
            f"  {self.command}",
            "To cancel instead:",
        ]
        lines += [f"  {cancel_command(record, self.host)}" for record in pending]
        print("\n".join(lines), file=sys.stderr)


def _kept(journal: str) -> list[JournalRecord]:
    """The uploads ``journal`` keeps for resuming, read after the run."""
    from lilt.transfer.state import kept_records

    return kept_records(journal)
