"""The records a plugin registers besides kernels: instrument models, rigs, planner engines.

A plugin module defines them as module-level values (the way it defines kernels with
`@kernel`); `ppu.lab.plugins` finds them. The project's own instrument models, rigs and planners
are records of the same kind in plugin modules of their own (`devices.catalog`,
`simulators.rigs`, `planner.engines`), found through the same entry points as anyone's.

Classes are given as the class itself or as `"module:Class"`; a path is imported only when
a lab opens, so listing what is installed stays quick.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: a class, or where to find it: "package.module:Class"
ClassRef = str | type


def load(ref: ClassRef) -> Any:
    """The class a record names (importing its module on first use)."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def ref_text(ref: ClassRef) -> str:
    return ref if isinstance(ref, str) else f"{ref.__module__}:{ref.__qualname__}"


@dataclass(frozen=True)
class InstrumentModel:
    """One instrument model a lab file can name as a device's `driver`: the driver that
    speaks its protocol, the ophyd-async device over it, its protocol simulator, and the
    keys a lab file may give it.

    Built as `driver(port, **driver_options)`, `device(driver, name=…, **limits,
    **settings)` and, in a dry-run, `simulator(now, seed=…, faults=…, **options)`.
    `limits` and `settings` map a lab-file key to its unit ("" for a plain value, a tuple
    for the allowed values, "unit of Pa" for the name of a unit measuring what Pa does).
    `simulator_options` maps the simulator's own option keys to units, for those that carry
    one (an option not listed is passed as written, if the simulator takes it).
    `to_simulator` names lab keys given once for both ends (an Alicat's `unit_id`, a gauge's
    `model`): lab key (a driver option, limit or setting) → the simulator's argument, which
    receives the value (a quantity as its magnitude in the key's unit)."""

    name: str
    driver: ClassRef
    device: ClassRef
    simulator: ClassRef
    baudrate: int = 9600
    timeout_s: float = 1.0
    limits: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    driver_options: tuple[str, ...] = ()
    simulator_options: Mapping[str, str] = field(default_factory=dict)
    to_simulator: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "driver": ref_text(self.driver),
            "device": ref_text(self.device),
            "simulator": ref_text(self.simulator),
            "limits": dict(self.limits),
            "settings": dict(self.settings),
            "driver_options": list(self.driver_options),
            "simulator_options": dict(self.simulator_options),
            "doc": self.doc,
        }


@dataclass(frozen=True)
class RigModel:
    """The shared physics behind one simulated instrument's devices (a reactor, a gas cell).

    Called as `cls(now, world, seed=…, **places, **options)`, where each place template is
    filled with the instrument's name and `options` (lab key → unit, "" for a plain value)
    arrive as magnitudes in those units. The rig then gives each device simulator extra
    constructor arguments (`simulator_options(device, model)`) and sees each one built
    (`attach(device, simulator)`)."""

    name: str
    cls: ClassRef
    places: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "class": ref_text(self.cls),
            "places": dict(self.places),
            "options": dict(self.options),
            "doc": self.doc,
        }


@dataclass(frozen=True)
class PlannerEngine:
    """A planner a campaign can name as `[planner] engine`.

    Called as `cls(space, objectives, seed, **options)` with the campaign's other planner
    keys as `options` (checked against its signature when the campaign loads), and rebuilt
    after a restart with `cls.from_state(state)`."""

    name: str
    cls: ClassRef
    doc: str = ""

    def load(self) -> Any:
        return load(self.cls)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "class": ref_text(self.cls), "doc": self.doc}
