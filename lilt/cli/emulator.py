"""``lilt emulator``: the local emulator's own command line (``python -m lilt.testing``),
run under the ``lilt`` command.

Its arguments are handed over untouched before the ``lilt`` parser sees them,
so ``lilt emulator --help`` is the emulator's help; the sub-parser here only
puts the command in ``lilt --help``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from lilt.cli.exit_codes import EXIT_USAGE

if TYPE_CHECKING:
    from lilt.cli.parser import Commands

INSTALL = "pip install 'lilt[emulator]'"


def add_command(commands: Commands) -> None:
    commands.add_parser(
        "emulator",
        help="run the local LILT uploads emulator (see `lilt emulator --help`)",
        add_help=False,
        description="Run the local emulator; arguments are passed through.",
    )


def run(argv: list[str]) -> int:
    """Run the emulator with ``argv`` (what followed ``lilt emulator``); its exit code."""
    try:
        from lilt.testing.__main__ import main as emulator_main
    except ImportError as exc:
        print(f"lilt: error: the emulator needs its extra: {INSTALL} ({exc})", file=sys.stderr)
        return EXIT_USAGE
    return emulator_main(argv, prog="lilt emulator")
