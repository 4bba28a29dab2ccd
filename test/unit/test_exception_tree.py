"""The exception tree drawn in ``lilt/exceptions.py`` is the real class hierarchy.

Every exception class defined in :mod:`lilt.exceptions` and in the modules of
:mod:`lilt.transfer` is drawn exactly once; each drawn class's direct bases
are its drawn parent plus the ones named in its "(also ...)" note, no more.
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import re
from dataclasses import dataclass, field

import pytest
import urllib3.exceptions

import lilt.exceptions
import lilt.transfer

NODE = re.compile(r"^    (?:((?:[│ ]   )*)[├└]── )?([A-Z]\w*)(.*)$")
ALSO = re.compile(r"\(also ([^)]*)\)")


@dataclass
class Drawn:
    name: str
    parent: str | None
    text: str
    also: list[str] = field(default_factory=list)


def drawn_tree() -> dict[str, Drawn]:
    """The classes drawn in the module docstring, with their drawn parents and notes."""
    nodes: dict[str, Drawn] = {}
    path: list[str] = []
    current: Drawn | None = None
    for line in (lilt.exceptions.__doc__ or "").splitlines():
        match = NODE.match(line)
        if match is None:
            if current is not None and line.startswith("    ") and line.strip():
                current.text += " " + line.strip(" │")  # a note's continuation
            else:
                current = None
            continue
        depth = len(match.group(1) or "") // 4 + (1 if match.group(1) is not None else 0)
        name = match.group(2)
        del path[depth:]
        assert name not in nodes, f"{name} is drawn twice"
        current = nodes[name] = Drawn(name, path[-1] if path else None, match.group(3))
        path.append(name)
    for node in nodes.values():
        for note in ALSO.findall(node.text):
            node.also += [part.split()[-1] for part in note.split(",")]
    return nodes


def resolve(name: str) -> type[BaseException]:
    """The class a name in the drawing stands for."""
    for namespace in (lilt.exceptions, *TRANSFER_MODULES, urllib3.exceptions, builtins):
        found = getattr(namespace, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
    raise AssertionError(f"{name} is drawn but is no exception class")


TRANSFER_MODULES = [
    importlib.import_module(f"lilt.transfer.{m.name}")
    for m in pkgutil.iter_modules(lilt.transfer.__path__)
]


def defined_exceptions() -> set[type[BaseException]]:
    """Every exception class defined in lilt.exceptions and in lilt.transfer's modules."""
    found: set[type[BaseException]] = set()
    for module in (lilt.exceptions, *TRANSFER_MODULES):
        found |= {
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, BaseException)
            and value.__module__ == module.__name__
        }
    return found


def test_every_exception_class_is_drawn() -> None:
    drawn = {resolve(n) for n in drawn_tree()} - {ValueError, OSError, Exception}
    assert {c.__qualname__ for c in defined_exceptions() - drawn} == set()
    assert {c.__qualname__ for c in drawn - defined_exceptions()} == set()


@pytest.mark.parametrize(
    "node", [n for n in drawn_tree().values() if n.parent], ids=lambda n: n.name
)
def test_the_drawn_bases_are_the_real_bases(node: Drawn) -> None:
    assert node.parent is not None
    cls = resolve(node.name)
    drawn_bases = [resolve(node.parent), *(resolve(name) for name in node.also)]
    assert list(cls.__bases__) == drawn_bases


def test_the_drawing_has_its_roots_and_depths() -> None:
    tree = drawn_tree()
    assert [n.name for n in tree.values() if n.parent is None] == [
        "OpenApiException",
        "ValueError",
        "OSError",
        "Exception",
    ]
    assert tree["ApiTimeoutError"].parent == "ApiConnectionError"
    assert tree["ApiConnectionError"].also == ["MaxRetryError", "ProtocolError"]
    assert tree["SignatureRejected"].parent == "StorageError"
