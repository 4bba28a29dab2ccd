"""The fault suite's totals across test processes: summed, printed and kept in a file.

``test/conftest.py`` registers this plugin for every run, so it is loaded in
the process that reports even when pytest-xdist runs the tests in workers
(which load ``test/faults/conftest.py`` only where they collect it):

- each process adds to the totals of its own ledger (:func:`faults.helpers.ledger`);
- an xdist worker sends them when it ends (``workeroutput``), and the process
  that reports adds them to its own as each worker goes down;
- that process prints them at the end of the run and writes them to
  ``.pytest_cache/d/fault-suite/totals.txt`` (when pytest's cache is on).
"""

from __future__ import annotations

from typing import Any

import pytest
from faults.helpers import ledger

_WORKER_OUTPUT = "lilt_fault_totals"


@pytest.hookimpl(trylast=True)  # after the session's fixtures (the secret scan) are torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output[_WORKER_OUTPUT] = ledger(session.config).totals.as_dict()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_testnodedown(node: Any, error: object) -> None:
    sent = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT)
    if sent:
        ledger(node.config).totals.merge(sent)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    totals = ledger(config).totals
    if not totals or hasattr(config, "workeroutput"):
        return
    lines = list(totals.lines())
    terminalreporter.section("fault suite totals")
    for line in lines:
        terminalreporter.write_line(line)
    cache = getattr(config, "cache", None)
    if cache is not None:
        path = cache.mkdir("fault-suite") / "totals.txt"
        path.write_text("\n".join(lines) + "\n")
        terminalreporter.write_line(f"(written to {path.relative_to(config.rootpath)})")
