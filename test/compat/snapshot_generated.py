"""Take the snapshot of the generated client's surface: ``generated_3_1_0.json``.

Run by hand, never by the test suite (the generated client is not installable
here: the name ``lilt`` on the package index may be another project)::

    git clone https://github.com/lilt/lilt-python /tmp/lilt-python
    git -C /tmp/lilt-python checkout 1840759
    .venv/bin/python test/compat/snapshot_generated.py /tmp/lilt-python > test/compat/generated_3_1_0.json

The checkout's ``lilt`` package is imported in a child process with only the
checkout and this folder's ``surface`` module on the path (the generated code
needs nothing beyond this project's own runtime dependencies), and
:func:`surface.describe` writes down what it finds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = """
import json, platform, sys
import pydantic
sys.path.insert(0, {here!r})
import surface
import lilt
assert lilt.__file__.startswith({checkout!r}), lilt.__file__
print(json.dumps({{
    "source": "lilt/lilt-python " + {commit!r} + " (OpenAPI Generator 7.13.0, package 3.1.0)",
    "python": platform.python_version(),
    "pydantic": pydantic.VERSION,
    "not_shipped": surface.not_shipped(),
    "facts": surface.describe(leave_out=surface.not_shipped()),
}}, indent=1, sort_keys=True))
"""


def main(checkout: str) -> None:
    root = str(Path(checkout).resolve())
    commit = subprocess.run(
        ["git", "-C", root, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    code = CHILD.format(here=str(HERE), checkout=root, commit=commit)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LILT_")}
    env["PYTHONPATH"] = root
    with tempfile.TemporaryDirectory() as empty:  # no other ``lilt`` on sys.path[0]
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=empty,
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
    sys.stdout.write(out)


if __name__ == "__main__":
    main(sys.argv[1])
