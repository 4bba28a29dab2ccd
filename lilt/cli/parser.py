"""The ``lilt`` command line: the top-level parser and the options every command shares; each
command's module adds its own sub-parser (its options live next to the code that reads them).

Connection options work before or after the command (``lilt --host H upload
f`` and ``lilt upload f --host H``): they are on the top-level parser and on
each command's, with ``SUPPRESS`` defaults so that a later default does not
overwrite an earlier value.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from lilt.cli import demo, emulator, upload, uploads
from lilt.cli.connection import DEFAULT_HOST
from lilt.cli.exit_codes import UsageError


class ParseError(UsageError):
    """argparse's complaint, with the program it was about (``lilt upload``) for the hint."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(f"{prog}: error: {message}")
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting, so --json can report it too."""

    def error(self, message: str) -> NoReturn:
        raise ParseError(message, self.prog)


if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[Parser]  # what each command adds its parser to


def build_parser() -> argparse.ArgumentParser:
    connection, output = _connection_options(), _output_options()
    parser = Parser(
        prog="lilt",
        parents=[connection, output],
        description="Upload files to LILT and manage uploads.",
        epilog="Exit codes: 0 ok, 1 upload or API failure, 2 usage or bad input "
        "(nothing sent), 130 interrupted (129 SIGHUP, 143 SIGTERM).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    upload.add_command(commands, [connection, output])
    uploads.add_command(commands, [connection, output])
    emulator.add_command(commands)
    demo.add_command(commands, output)
    return parser


def wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` was asked for (before a ``--``), known even when parsing fails."""
    words = list(argv)
    if "--" in words:
        words = words[: words.index("--")]
    return "--json" in words


def _connection_options() -> Parser:
    connection = Parser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        metavar="KEY",
        help="LILT API key (default: $LILT_API_KEY)",
    )
    group.add_argument(
        "--host",
        default=argparse.SUPPRESS,
        metavar="URL",
        help=f"API base URL (default: $LILT_API_HOST, else {DEFAULT_HOST})",
    )
    return connection


def _output_options() -> Parser:
    output = Parser(add_help=False)
    output.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout, whatever the outcome",
    )
    return output


def _version() -> str:
    import lilt

    return lilt.__version__
