"""``lilt uploads list|show|cancel|clean``: the API's upload records, and the multipart uploads
this computer keeps for resuming.

Records are read from the raw response body, not only through the model: an
API that reports a record's ``uploadId`` and ``key`` (LILT's documented one
does not) lets ``cancel`` by record id and ``clean`` work without a journal.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable, Optional

from lilt.cli import connection, resume
from lilt.cli.exit_codes import EXIT_FAILED, EXIT_OK, UsageError
from lilt.cli.failures import describe
from lilt.cli.output import date, duration, plural, print_json, table
from lilt.cli.values import parse_age, positive_int

if TYPE_CHECKING:
    from lilt.api.uploads_api import UploadsApi
    from lilt.api_response import ApiResponse
    from lilt.cli.parser import Commands, Parser
    from lilt.transfer.state import KeptUpload, StateFolder, Target


def add_command(commands: Commands, parents: list[Parser]) -> None:
    uploads = commands.add_parser(
        "uploads",
        help="list, show, cancel or clean up uploads",
        description="Inspect, cancel and clean up uploads.",
    )
    actions = uploads.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for add in (_add_list, _add_show, _add_cancel, _add_clean):
        add(actions, parents)


def _action(
    actions: Commands,
    parents: list[Parser],
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    description: Optional[str] = None,
) -> argparse.ArgumentParser:
    """The sub-parser of ``lilt uploads NAME``, which runs ``handler``; ``summary`` is its
    line in ``lilt uploads --help``."""
    parser = actions.add_parser(name, parents=parents, help=summary, description=description)
    parser.set_defaults(handler=handler)
    return parser


# --- records -------------------------------------------------------------------------


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
        return cls(
            model.id,
            model.filename,
            model.status,
            model.created_at,
            upload_id if isinstance(upload_id, str) else None,
            key if isinstance(key, str) else None,
        )

    @property
    def multipart(self) -> bool:
        """Whether the API named this record's multipart upload (or its key)."""
        return bool(self.upload_id or self.key)

    def to_json(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "filename": self.filename,
            "status": self.status,
            "created_at": date(self.created_at),
        }
        if self.multipart:
            data.update(upload_id=self.upload_id, key=self.key)
        return data


def _fetch(
    args: argparse.Namespace, target: Target, call: Callable[[UploadsApi], ApiResponse[Any]]
) -> Any:
    """Call the API with the raw body kept: records may carry fields the model drops."""
    import lilt

    with connection.api_client(args, target) as client:
        response = call(lilt.UploadsApi(client))
    try:
        return json.loads(response.raw_data)
    except ValueError as exc:
        from lilt.exceptions import ApiException

        raise ApiException(
            status=response.status_code,
            reason=f"the API answered with something that is not JSON: {exc}",
        ) from None


def _fetch_record(args: argparse.Namespace, target: Target, record_id: int) -> _Record:
    return _Record.from_wire(
        _fetch(args, target, lambda api: api.get_upload_by_id_with_http_info(record_id))
    )


def _state() -> StateFolder:
    from lilt.transfer.state import StateFolder

    return StateFolder()


# --- list and show -------------------------------------------------------------------


def _add_list(actions: Commands, parents: list[Parser]) -> None:
    listing = _action(
        actions,
        parents,
        "list",
        run_list,
        "list pending uploads",
        "List the API's upload records (pending ones unless --ids or --statuses "
        "say otherwise), then the multipart uploads this computer keeps for "
        "resuming, with their upload ids and keys.",
    )
    listing.add_argument("--ids", help="comma-separated record ids to show")
    listing.add_argument("--statuses", help="comma-separated statuses, e.g. pending,uploaded")


def run_list(args: argparse.Namespace) -> int:
    target = connection.target(args)
    data = _fetch(
        args,
        target,
        lambda api: api.get_pending_uploads_with_http_info(ids=args.ids, statuses=args.statuses),
    )
    records = [_Record.from_wire(item) for item in (data if isinstance(data, list) else [data])]
    kept = _state().kept(target)
    if args.json:
        print_json(
            {
                "ok": True,
                "uploads": [r.to_json() for r in records],
                "kept": [_kept_json(k) for k in kept],
            }
        )
        return EXIT_OK
    if records:
        _print_records(records)
    else:
        print("no uploads" if not (args.ids or args.statuses) else "no uploads match")
    if kept:
        print(
            f"\nkept for resuming on this computer ({len(kept)}; `lilt uploads cancel "
            f"UPLOAD_ID` cancels one, running the upload again resumes it):"
        )
        table(
            ["UPLOAD ID", "KEY", "PARTS", "IDLE", "FILE"],
            [[k.upload_id, k.key, str(k.parts), duration(k.idle_seconds), k.path] for k in kept],
            right=[2],
        )
    return EXIT_OK


def _print_records(records: list[_Record]) -> None:
    columns = ["ID", "STATUS", "CREATED", "FILENAME"]
    rows = [
        [
            str(r.id) if r.id is not None else "-",
            r.status or "-",
            date(r.created_at),
            r.filename or "-",
        ]
        for r in records
    ]
    if any(r.multipart for r in records):
        columns += ["UPLOAD ID", "KEY"]
        for row, r in zip(rows, records):
            row += [r.upload_id or "-", r.key or "-"]
    table(columns, rows, right=[0])


def _kept_json(kept: KeptUpload) -> dict[str, Any]:
    return {
        "upload_id": kept.upload_id,
        "key": kept.key,
        "path": kept.path,
        "filename": kept.filename,
        "parts": kept.parts,
        "idle_seconds": round(kept.idle_seconds),
        "command": kept.command,
    }


def _add_show(actions: Commands, parents: list[Parser]) -> None:
    show = _action(actions, parents, "show", run_show, "show one upload record")
    show.add_argument("id", type=positive_int, metavar="ID", help="numeric record id")


def run_show(args: argparse.Namespace) -> int:
    record = _fetch_record(args, connection.target(args), args.id)
    if args.json:
        print_json({"ok": True, "upload": record.to_json()})
        return EXIT_OK
    rows = [
        ("id", str(record.id)),
        ("filename", record.filename or "-"),
        ("status", record.status or "-"),
        ("created", date(record.created_at)),
    ]
    if record.multipart:
        rows += [("upload id", record.upload_id or "-"), ("key", record.key or "-")]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name + ':':<{width + 1}} {value}")
    return EXIT_OK


# --- cancel ---------------------------------------------------------------------------

# what an upload id may hold: it ends up in a URL path, so no "/", "?" or "#"
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9._~+=:-]+$")


def _add_cancel(actions: Commands, parents: list[Parser]) -> None:
    cancel = _action(
        actions,
        parents,
        "cancel",
        run_cancel,
        "abort a multipart upload and discard its parts",
        "Abort a multipart upload: by its upload id (the key is looked up in this "
        "computer's resume journals when not given), or by its numeric record id.",
    )
    cancel.add_argument("upload_id", metavar="ID", help="multipart upload id, or record id")
    cancel.add_argument(
        "key", nargs="?", metavar="S3KEY", help="the upload's storage key (looked up when left out)"
    )


def run_cancel(args: argparse.Namespace) -> int:
    import lilt

    target = connection.target(args)
    state = _state()
    upload_id, key = _which_upload(args, target, state)
    if not key.strip() or key.strip() in (".", ".."):
        raise UsageError(f"{key!r} is not a storage key")
    with connection.api_client(args, target) as client:
        answer = lilt.UploadsApi(client).cancel_multipart_upload(upload_id, key)
    forgot = state.forget(upload_id)
    message = getattr(answer, "message", None)
    if args.json:
        print_json(
            {
                "ok": True,
                "upload_id": upload_id,
                "key": key,
                "message": message,
                "journal_updated": forgot,
            }
        )
    else:
        print(f"cancelled {upload_id} ({key})" + (f": {message}" if message else ""))
    return EXIT_OK


def _which_upload(args: argparse.Namespace, target: Target, state: StateFolder) -> tuple[str, str]:
    """The upload id and key the arguments mean: a record id, or an upload id with its key
    given or found in this computer's journals."""
    ident: str = args.upload_id.strip()
    if ident.isdigit() and len(ident) <= 18 and args.key is None:
        return _from_record(args, target, int(ident), state)
    if not _UPLOAD_ID.match(ident) or ident in (".", ".."):
        raise UsageError(f"{args.upload_id!r} is not an upload id (see `lilt uploads list`)")
    if args.key is not None:
        return ident, args.key
    matches = {k.key for k in state.kept() if k.upload_id == ident}
    if len(matches) != 1:
        raise UsageError(
            f"no resume journal on this computer knows upload {ident!r}; "
            f"give its key too: lilt uploads cancel {ident} S3KEY"
        )
    return ident, matches.pop()


def _from_record(
    args: argparse.Namespace, target: Target, record_id: int, state: StateFolder
) -> tuple[str, str]:
    """The upload id and key of record ``record_id``: from the API if it tells, else from
    this computer's journals (the one kept upload of that file name)."""
    record = _fetch_record(args, target, record_id)
    if record.upload_id and record.key:
        return record.upload_id, record.key
    if record.status not in (None, "pending"):
        raise UsageError(
            f"upload {record_id} ({record.filename}) is {record.status}: there is nothing to cancel"
        )
    kept = [k for k in state.kept(target) if k.filename == record.filename]
    if len(kept) == 1:
        return kept[0].upload_id, kept[0].key
    if not kept:
        raise UsageError(
            f"upload {record_id} ({record.filename}): the API does not say which multipart "
            f"upload it is, and no resume journal on this computer keeps one of that name; "
            f"cancel it by upload id and key: lilt uploads cancel UPLOAD_ID S3KEY"
        )
    ids = ", ".join(k.upload_id for k in kept)
    raise UsageError(
        f"upload {record_id} ({record.filename}) could be any of {len(kept)} kept "
        f"uploads of that name ({ids}); cancel one by its upload id"
    )


# --- clean ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Stale:
    """A multipart upload idle for longer than ``--older-than``: what ``clean`` cancels."""

    upload_id: str
    key: str
    idle_seconds: float
    what: str  # the local file it uploads, or the record that names it

    def to_json(self) -> dict[str, Any]:
        return {
            "upload_id": self.upload_id,
            "key": self.key,
            "idle": duration(self.idle_seconds),
            "what": self.what,
        }


def _add_clean(actions: Commands, parents: list[Parser]) -> None:
    clean = _action(
        actions,
        parents,
        "clean",
        run_clean,
        "cancel stale multipart uploads (dry run unless --yes)",
        "Find multipart uploads left pending for longer than --older-than: those "
        "this computer keeps for resuming (idle that long), and pending records "
        "whose upload id the API reports. Lists them; --yes cancels them.",
    )
    clean.add_argument(
        "--older-than",
        type=parse_age,
        default=86400.0,
        metavar="AGE",
        help="how long an upload must have been idle, e.g. 12h, 7d (default 1d)",
    )
    clean.add_argument("--yes", action="store_true", help="cancel them (default: only list)")


def run_clean(args: argparse.Namespace) -> int:
    target = connection.target(args)
    state = _state()
    stale = _stale_uploads(args, target, state)
    cancelled: list[str] = []
    failed: list[str] = []
    if args.yes and stale:
        cancelled, failed = _cancel_all(args, target, state, stale)
    if args.json:
        print_json(
            {
                "ok": not failed,
                "dry_run": not args.yes,
                "stale": [s.to_json() for s in stale],
                "cancelled": cancelled,
                "failed": failed,
            }
        )
    else:
        _print_clean(args, stale, failed)
    return EXIT_FAILED if failed else EXIT_OK


def _stale_uploads(args: argparse.Namespace, target: Target, state: StateFolder) -> list[_Stale]:
    """Kept uploads idle that long, then pending records of that age the API names an upload
    for (each upload once)."""
    found: dict[str, _Stale] = {}
    for kept in state.kept(target):
        if kept.idle_seconds >= args.older_than:
            found[kept.upload_id] = _Stale(kept.upload_id, kept.key, kept.idle_seconds, kept.path)
    for stale in _pending_records(args, target):
        if stale.idle_seconds >= args.older_than:
            found.setdefault(stale.upload_id, stale)
    return list(found.values())


def _pending_records(args: argparse.Namespace, target: Target) -> Iterator[_Stale]:
    """Pending records that name their multipart upload, aged from their creation."""
    now = datetime.datetime.now(datetime.timezone.utc)
    data = _fetch(
        args, target, lambda api: api.get_pending_uploads_with_http_info(statuses="pending")
    )
    for item in data if isinstance(data, list) else []:
        record = _Record.from_wire(item)
        if not (record.upload_id and record.key and record.created_at):
            continue
        created = record.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=datetime.timezone.utc)
        yield _Stale(
            record.upload_id,
            record.key,
            (now - created).total_seconds(),
            f"record {record.id} ({record.filename})",
        )


def _cancel_all(
    args: argparse.Namespace, target: Target, state: StateFolder, stale: list[_Stale]
) -> tuple[list[str], list[str]]:
    """Cancel each one (already gone counts as done); the ids cancelled, and the failures."""
    import lilt

    cancelled: list[str] = []
    failed: list[str] = []
    with connection.api_client(args, target) as client:
        api = lilt.UploadsApi(client)
        for upload in stale:
            try:
                resume.cancel_upload(api, upload.upload_id, upload.key)
            except lilt.ApiException as exc:
                failed.append(f"{upload.upload_id}: {describe(exc)}")
                continue
            state.forget(upload.upload_id)
            cancelled.append(upload.upload_id)
    return cancelled, failed


def _print_clean(args: argparse.Namespace, stale: list[_Stale], failed: list[str]) -> None:
    older_than = duration(args.older_than)
    if not stale:
        print(f"no multipart upload idle for more than {older_than}")
        return
    print(
        ("cancelled" if args.yes else "would cancel")
        + f" {plural(len(stale), 'multipart upload')} idle for more than {older_than}:"
    )
    table(
        ["UPLOAD ID", "KEY", "IDLE", "WHAT"],
        [[s.upload_id, s.key, duration(s.idle_seconds), s.what] for s in stale],
        right=[],
    )
    for line in failed:
        print(f"lilt: could not cancel {line}", file=sys.stderr)
    if not args.yes:
        print("(dry run: add --yes to cancel them)")
