"""Resuming ``lilt upload``: where a run keeps its journal, what it leaves pending, and the
commands that continue or cancel it.

By default a run's journal lives in the per-user state folder, named after the
host, the account and the files given, so running the same command again
continues it without any option; ``--journal FILE`` puts it where the user
says (and keeps it), ``--no-resume`` and standard input keep none.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

from lilt.cli.exit_codes import UsageError
from lilt.cli.output import warn

if TYPE_CHECKING:
    from lilt.api.uploads_api import UploadsApi
    from lilt.api_client import ApiClient
    from lilt.transfer.journal import JournalRecord
    from lilt.transfer.state import StateFolder, Target


def journal_choice(
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
        slot = state.journal_for(target, args.paths, command=command_line(args.argv))
    except OSError as exc:
        warn(
            f"resuming is off: cannot write the state folder {state.root} "
            f"({exc.strerror or exc}); set LILT_STATE_DIR to a writable folder",
            as_json=args.json,
        )
        return None, None
    return state, str(slot.path)


def remove_journal(journal: str) -> None:
    """Remove a finished run's journal (and its description) from the state folder."""
    from pathlib import Path

    from lilt.transfer.state import JournalSlot

    path = Path(journal)
    JournalSlot(path, path.with_suffix(".json")).remove()


def clean_stale(state: StateFolder, target: Target, client: ApiClient, *, as_json: bool) -> None:
    """Remove the state folder's stale journals, cancelling what they kept on ``target``."""
    import lilt

    for note in state.clean(target, functools.partial(cancel_upload, lilt.UploadsApi(client))):
        warn(note, as_json=as_json)


def cancel_upload(api: UploadsApi, upload_id: str, key: str) -> None:
    """Cancel a multipart upload; one already gone (cancelled, completed or expired) is
    fine: nothing is left to do either way."""
    from lilt.exceptions import NotFoundException

    with contextlib.suppress(NotFoundException):
        api.cancel_multipart_upload(upload_id, key)


def command_line(argv: Sequence[str]) -> str:
    """The command as typed, for "run it again" hints, without the API key."""
    words: list[str] = []
    given = iter(argv)
    for word in given:
        if word == "--api-key":
            next(given, None)  # and its value
        elif not word.startswith("--api-key="):
            words.append(word)
    return "lilt " + " ".join(shlex.quote(w) for w in words)


def cancel_command(record: JournalRecord, host: Optional[str]) -> str:
    """The ``lilt uploads cancel`` command that cancels ``record`` (on ``host``, if given)."""
    command = f"lilt uploads cancel {shlex.quote(record.upload_id or '')} {shlex.quote(record.key)}"
    return command + (f" --host {shlex.quote(host)}" if host else "")
