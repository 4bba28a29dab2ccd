"""Compare two surface descriptions (see ``surface.py``) into a list of differences.

Rules that keep the diff about what callers can observe:

- a module name present in the generated package and absent here is a
  difference; a name present only here is one only when it is public here
  (listed in ``__all__``, or any non-underscore name when there is none);
- in a signature, names, kinds and defaults are compared exactly; an
  annotation only where the generated code had one (adding a type where it
  had none changes nothing for a caller or for ``get_type_hints``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

Facts = dict[str, str]


@dataclass(frozen=True)
class Difference:
    key: str
    generated: Optional[str]
    ours: Optional[str]

    @property
    def kind(self) -> str:
        if self.ours is None:
            return "missing"
        if self.generated is None:
            return "extra"
        return "changed"

    def __str__(self) -> str:
        return f"{self.kind:8} {self.key}\n  generated: {self.generated}\n  ours:      {self.ours}"


def differences(generated: Facts, ours: Facts) -> list[Difference]:
    found = []
    for key in sorted(set(generated) | set(ours)):
        g, o = generated.get(key), ours.get(key)
        if g == o:
            continue
        if g is None and not _public_here(key, ours):
            continue
        if g is not None and o is not None and _same_signature(g, o):
            continue
        found.append(Difference(key, g, o))
    return found


def _public_here(key: str, ours: Facts) -> bool:
    parts = key.split(" ")
    if parts[0] != "module" or len(parts) != 4 or parts[2] != "name":
        return True
    listed = ours.get(f"module {parts[1]} __all__", "<absent>")
    return listed == "<absent>" or parts[3] in listed.split(" ")


def _same_signature(generated: str, ours: str) -> bool:
    prefix_g, _, body_g = generated.partition(" ")
    prefix_o, _, body_o = ours.partition(" ")
    if prefix_g != prefix_o or prefix_g not in ("function", "classmethod", "staticmethod"):
        return False
    g, o = json.loads(body_g), json.loads(body_o)
    if "params" not in g or "params" not in o or len(g["params"]) != len(o["params"]):
        return False
    for (g_name, g_ann, g_default), (o_name, o_ann, o_default) in zip(g["params"], o["params"]):
        if g_name != o_name or g_default != o_default:
            return False
        if g_ann is not None and g_ann != o_ann:
            return False
    return g["return"] is None or g["return"] == o["return"]
