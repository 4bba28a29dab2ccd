"""When CI runs the tiers against an installed wheel, the wheel is what gets tested.

``.ci/dev.py`` sets ``LILT_TEST_INSTALLED_IN`` to the virtual environment it
installed the wheel into; ``lilt`` (and every submodule the tests load) must
then come from that environment's site-packages, not from the checkout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import lilt

VENV = os.environ.get("LILT_TEST_INSTALLED_IN")


@pytest.mark.skipif(VENV is None, reason="not a run against an installed wheel")
def test_lilt_comes_from_the_installed_wheel() -> None:
    assert VENV is not None
    site = Path(VENV).resolve()
    loaded = {
        name: Path(module.__file__).resolve()
        for name, module in list(sys.modules.items())
        if (name == "lilt" or name.startswith("lilt.")) and getattr(module, "__file__", None)
    }
    assert Path(lilt.__file__).resolve().is_relative_to(site)
    assert [name for name, path in loaded.items() if not path.is_relative_to(site)] == []
    assert "site-packages" in Path(lilt.__file__).parts
