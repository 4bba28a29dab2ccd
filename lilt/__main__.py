"""``python -m lilt``: the same as the ``lilt`` command."""

from __future__ import annotations

import sys

from lilt.cli import main

if __name__ == "__main__":
    sys.exit(main())
