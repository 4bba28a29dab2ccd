"""``lilt demo``: the README's main job, end to end on this computer.

It starts the emulator (on a real S3 server), uploads a generated file
multipart with a progress bar, reads it back and compares it byte for byte
(SHA-256), prints a summary and stops everything: proof that the whole path
works here, without an account.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from lilt.cli.emulator import INSTALL
from lilt.cli.exit_codes import EXIT_FAILED, EXIT_OK, UsageError
from lilt.cli.output import print_json
from lilt.cli.progress_bar import closed_at_end, terminal_bar
from lilt.cli.values import parse_size, positive_int

if TYPE_CHECKING:
    from lilt.cli.parser import Commands, Parser
    from lilt.testing import Emulator
    from lilt.transfer import UploadResult

MiB = 1024**2
_THRESHOLD = 16 * MiB  # the uploader's default: a larger sample is a multipart upload


def add_command(commands: Commands, output: Parser) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[output],
        help="upload a generated file to a local emulator and verify it",
        description="Start the emulator (on a real S3 server), generate a sample file, upload "
        "it multipart with a progress bar, read it back, verify it byte for byte "
        "(SHA-256), print a summary and stop everything.",
    )
    demo.add_argument(
        "--size",
        type=parse_size,
        default=64 * MiB,
        metavar="SIZE",
        help="size of the sample file (default 64MiB; at least 16MiB + 1 byte "
        "so it is a multipart upload)",
    )
    demo.add_argument(
        "--part-size",
        type=parse_size,
        default=8 * MiB,
        metavar="SIZE",
        help="bytes per part (default 8MiB)",
    )
    demo.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        metavar="N",
        help="parts in flight (default 4)",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import hashlib
    import tempfile

    from lilt.transfer.progress import format_size

    if args.size <= _THRESHOLD:
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
        result, elapsed = _upload(emulator, path, args)
        say(f"reading {result.key} back from storage ...")
        verified = hashlib.sha256(emulator.read_object(result.key)).hexdigest() == expected
    if args.json:
        print_json(_summary(args, result, elapsed, expected, verified))
    else:
        _print_summary(args, result, elapsed, expected, verified)
    return EXIT_OK if verified else EXIT_FAILED


def _upload(emulator: Emulator, path: str, args: argparse.Namespace) -> tuple[UploadResult, float]:
    """Upload ``path`` to ``emulator`` with a bar (a line per 10 % in logs); the result and
    the seconds it took."""
    import lilt
    from lilt.transfer import TextProgress, TransferConfig

    bar = terminal_bar(wanted=not args.json)
    config = TransferConfig(
        part_size=args.part_size,
        concurrency=args.concurrency,
        progress=bar if bar is not None else TextProgress(sys.stderr),
    )
    configuration = lilt.Configuration(
        host=emulator.base_url, username=emulator.api_key, password=emulator.api_key
    )
    started = time.monotonic()
    with (
        closed_at_end(bar),
        lilt.ApiClient(configuration) as client,
        lilt.Uploader(client, config) as uploader,
    ):
        result = uploader.upload_file(path)
    return result, time.monotonic() - started


def _summary(
    args: argparse.Namespace, result: UploadResult, elapsed: float, sha256: str, verified: bool
) -> dict[str, Any]:
    return {
        "ok": verified,
        "size": result.size,
        "parts": result.part_count,
        "part_size": args.part_size,
        "seconds": round(elapsed, 3),
        "mib_per_s": _mib_per_s(result.size, elapsed),
        "key": result.key,
        "upload_id": result.upload_id,
        "sha256": sha256,
        "verified": verified,
        "expected_etag": result.checksums.expected_etag,
    }


def _print_summary(
    args: argparse.Namespace, result: UploadResult, elapsed: float, sha256: str, verified: bool
) -> None:
    from lilt.transfer.progress import format_size

    print(
        f"uploaded {format_size(result.size)} in {result.part_count} parts of "
        f"{format_size(args.part_size)} in {elapsed:.2f} s "
        f"({_mib_per_s(result.size, elapsed)} MiB/s)"
    )
    print(
        f"read back and compared: SHA-256 {sha256[:16]}... {'verified' if verified else 'MISMATCH'}"
    )
    print("emulator stopped")


def _mib_per_s(size: int, elapsed: float) -> float:
    return round(size / max(elapsed, 1e-9) / MiB, 1)


def _write_sample(path: str, size: int) -> str:
    """Write ``size`` random bytes to ``path``; return their SHA-256."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, MiB))
            digest.update(block)
            handle.write(block)
            left -= len(block)
    return digest.hexdigest()


def _emulator_class() -> type[Emulator]:
    try:
        from lilt.testing import Emulator
    except ImportError as exc:
        raise UsageError(f"the demo needs the emulator: {INSTALL} ({exc})") from None
    return Emulator
