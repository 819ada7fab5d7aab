"""ppu: a runtime that treats a laboratory as a coprocessor.

The SDK a plugin author imports, flat (the way ophyd-async re-exports its core):

    from ppu import kernel, In, Count, Choice, Consumes, Uses, Q_, InstrumentModel

Names resolve on first use, so `import ppu` (and `ppu --help`) stays instant and a kernel
module pays for bluesky only when it defines a plan. Internals may move behind these names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → module it lives in
_SDK: dict[str, str] = {
    # declaring kernels
    "kernel": "ppu.core.kernels",
    "Kernel": "ppu.core.kernels",
    "In": "ppu.core.kernels",
    "Count": "ppu.core.kernels",
    "Choice": "ppu.core.kernels",
    "Consumes": "ppu.core.kernels",
    "Uses": "ppu.core.kernels",
    "call": "protocols.plan_tools",
    "manual_step": "ppu.core.operator",
    # units
    "Q_": "ppu.core.units",
    "Quantity": "ppu.core.units",
    "ureg": "ppu.core.units",
    "parse_quantity": "ppu.core.units",
    # errors a plugin raises or a user sees
    "PpuError": "ppu.core.errors",
    "BadInput": "ppu.core.errors",
    "SampleFailed": "ppu.core.errors",
    "InstrumentError": "ppu.core.errors",
    "DriverError": "devices.errors",
    "NoReply": "devices.errors",
    "GarbledReply": "devices.errors",
    "InstrumentRefused": "devices.errors",
    "PortClosed": "devices.errors",
    "LimitError": "devices.errors",
    # what a plugin registers besides kernels
    "InstrumentModel": "ppu.core.catalog",
    "RigModel": "ppu.core.catalog",
    "PlannerEngine": "ppu.core.catalog",
    # contracts (typed Protocols)
    "Driver": "ppu.core.contracts",
    "SafeDevice": "ppu.core.contracts",
    "Simulator": "ppu.core.contracts",
    "Rig": "ppu.core.contracts",
    "LaunchContext": "ppu.core.contracts",
    "KernelPlan": "ppu.core.contracts",
    "Planner": "planner.base",
    # base classes: a driver's transport, a simulator, a planner
    "SerialPort": "devices.port",
    "read_until": "devices.port",
    "retry_safe": "devices.retry",
    "InstrumentSimulator": "simulators.base",
    "Faults": "simulators.base",
    "PlannerBase": "planner.base",
    "Suggestion": "planner.base",
    "Result": "planner.base",
    "SearchSpace": "planner.space",
}

__all__ = [
    "Q_",
    "BadInput",
    "Choice",
    "Consumes",
    "Count",
    "Driver",
    "DriverError",
    "Faults",
    "GarbledReply",
    "In",
    "InstrumentError",
    "InstrumentModel",
    "InstrumentRefused",
    "InstrumentSimulator",
    "Kernel",
    "KernelPlan",
    "LaunchContext",
    "LimitError",
    "NoReply",
    "Planner",
    "PlannerBase",
    "PlannerEngine",
    "PortClosed",
    "PpuError",
    "Quantity",
    "Result",
    "Rig",
    "RigModel",
    "SafeDevice",
    "SampleFailed",
    "SearchSpace",
    "SerialPort",
    "Simulator",
    "Suggestion",
    "Uses",
    "__version__",
    "call",
    "kernel",
    "manual_step",
    "parse_quantity",
    "read_until",
    "retry_safe",
    "ureg",
]


def __getattr__(name: str) -> Any:
    module = _SDK.get(name)
    if module is None:
        raise AttributeError(f"module 'ppu' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from devices.errors import (
        DriverError,
        GarbledReply,
        InstrumentRefused,
        LimitError,
        NoReply,
        PortClosed,
    )
    from devices.port import SerialPort, read_until
    from devices.retry import retry_safe
    from planner.base import Planner, PlannerBase, Result, Suggestion
    from planner.space import SearchSpace
    from ppu.core.catalog import InstrumentModel, PlannerEngine, RigModel
    from ppu.core.contracts import (
        Driver,
        KernelPlan,
        LaunchContext,
        Rig,
        SafeDevice,
        Simulator,
    )
    from ppu.core.errors import BadInput, InstrumentError, PpuError, SampleFailed
    from ppu.core.kernels import Choice, Consumes, Count, In, Kernel, Uses, kernel
    from ppu.core.operator import manual_step
    from ppu.core.units import Q_, Quantity, parse_quantity, ureg
    from protocols.plan_tools import call
    from simulators.base import Faults, InstrumentSimulator
