"""Kernels as bluesky plans, and example lab and campaign files.

`kernels()` imports the protocol modules on demand so the CLI starts quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ppu.kernel import Kernel

MODULES = ("protocols.dosing", "protocols.mof", "protocols.sorption", "protocols.analysis")


def kernels() -> dict[str, Kernel]:
    from ppu.kernel import Kernel

    found: dict[str, Kernel] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, Kernel):
                found[value.name] = value
    return dict(sorted(found.items()))
