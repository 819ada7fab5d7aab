"""Which driver, device and simulator make up each instrument model a lab file can name.

Imports are by dotted path and happen only when a lab is opened, so the CLI stays quick.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InstrumentModel:
    driver: str  # "module:Class", called as Class(port, **driver_options)
    device: str  # "module:Class", called as Class(driver, name=..., **limits, **settings)
    simulator: str  # "module:Class", called as Class(now, seed=..., faults=..., **options)
    baudrate: int = 9600
    timeout_s: float = 1.0
    limits: dict[str, str] = field(default_factory=dict)  # name -> unit
    settings: dict[str, str] = field(default_factory=dict)  # name -> unit ("" = plain value)
    driver_options: tuple[str, ...] = ()


MODELS: dict[str, InstrumentModel] = {
    "ne1000": InstrumentModel(
        driver="devices.ne1000:NE1000",
        device="devices.syringe_pump:SyringePump",
        simulator="simulators.ne1000:NE1000Simulator",
        limits={"max_rate": "mL/min", "max_volume": "mL"},
        settings={"diameter": "mm", "poll_interval": ""},
        driver_options=("address",),
    ),
}


def load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
