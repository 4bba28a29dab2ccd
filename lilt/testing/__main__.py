"""``python -m lilt.testing`` (and ``lilt emulator``): run the emulator until Ctrl-C.

Prints the base URL and API key to use, and a line to paste into another
shell; stops everything (API, bucket, storage server) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from lilt.testing.emulator import Emulator

__all__ = ["main"]


def build_parser(prog: str = "python -m lilt.testing") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a local LILT uploads API (the emulator) on a real S3 server. "
        "By default it starts a private SeaweedFS; pass --s3-endpoint and keys to "
        "use an S3 server you run. Binds 127.0.0.1 only. Stop with Ctrl-C.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="API port on 127.0.0.1 (default: any free port)"
    )
    parser.add_argument("--api-key", help="the API key clients must send (default: random)")
    parser.add_argument(
        "--url-lifetime",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="lifetime of presigned URLs (default 3600)",
    )
    parser.add_argument(
        "--presign-endpoint",
        metavar="URL",
        help="S3 address to write into presigned URLs (default: the storage's)",
    )
    parser.add_argument(
        "--bucket", help="bucket to use and keep (default: a fresh one, deleted at exit)"
    )
    parser.add_argument(
        "--s3-endpoint", metavar="URL", help="use this S3 server instead of starting SeaweedFS"
    )
    parser.add_argument("--s3-access-key", metavar="KEY")
    parser.add_argument("--s3-secret-key", metavar="SECRET")
    parser.add_argument("--s3-region", default="us-east-1")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line (base_url, api_key, storage, bucket) instead",
    )
    return parser


class _Stop(Exception):
    pass


def _raise_stop(signum: int, _frame: Optional[FrameType]) -> None:
    raise _Stop(signum)


def main(argv: Optional[list[str]] = None, *, prog: str = "python -m lilt.testing") -> int:
    """Run the emulator until interrupted; return the exit code (0 after a clean stop).

    ``prog`` is the name its help and errors give it (``lilt emulator`` from the command).
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.s3_endpoint and not (args.s3_access_key and args.s3_secret_key):
        parser.error("--s3-endpoint needs --s3-access-key and --s3-secret-key")

    from lilt.testing import Emulator, S3Endpoint, StorageStartError

    storage = None
    if args.s3_endpoint:
        storage = S3Endpoint(
            args.s3_endpoint.rstrip("/"), args.s3_access_key, args.s3_secret_key, args.s3_region
        )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stop) if in_main_thread else None
    try:
        with Emulator(
            storage,
            api_key=args.api_key,
            bucket=args.bucket,
            presign_endpoint=args.presign_endpoint,
            url_lifetime=args.url_lifetime,
            port=args.port,
        ) as emu:
            _announce(emu, as_json=args.json, own_storage=storage is None)
            threading.Event().wait()  # until Ctrl-C or SIGTERM
    except (KeyboardInterrupt, _Stop):
        pass
    except StorageStartError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    if not args.json:
        print("emulator stopped", file=sys.stderr)
    return 0


def _announce(emu: Emulator, *, as_json: bool, own_storage: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "base_url": emu.base_url,
                    "api_key": emu.api_key,
                    "storage": emu.storage.url,
                    "bucket": emu.bucket,
                }
            ),
            flush=True,
        )
        return
    kind = "SeaweedFS" if own_storage else "S3"
    print(
        f"LILT uploads emulator running\n"
        f"  base URL: {emu.base_url}\n"
        f"  API key:  {emu.api_key}\n"
        f"  storage:  {kind} at {emu.storage.url}, bucket {emu.bucket}\n"
        f"\n"
        f"Use it from another shell, e.g.:\n"
        f"  LILT_API_KEY={emu.api_key} LILT_API_HOST={emu.base_url} lilt uploads list\n"
        f"\n"
        f"Press Ctrl-C to stop.",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
