"""The contracts between the layers, as typed Protocols (in the manner of bluesky's
`protocols.py`): what the runtime expects of a driver, a device, a simulator, a kernel
body and a planner. Concrete classes satisfy them structurally; nothing inherits.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from bluesky.utils import Msg


@runtime_checkable
class Driver(Protocol):
    """Bytes ↔ typed commands for one instrument model, over a pyserial URL. No ophyd."""

    async def identity(self) -> str:
        """What the instrument says it is (model, firmware, serial number)."""
        ...


@runtime_checkable
class SafeDevice(Protocol):
    """An ophyd-async device that can drive its hardware to a safe state
    (heaters off, valves closed, pumps stopped) on abort."""

    name: str

    async def safe_state(self) -> None: ...


@runtime_checkable
class Simulator(Protocol):
    """A protocol twin: same wire protocol, physics on the injected clock."""

    requests: int

    def answer(self, request: bytes) -> bytes | None: ...
    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str: ...
    async def close(self) -> None: ...


class Rig(Protocol):
    """The shared physics behind one simulated instrument's device simulators (a reactor,
    a gas cell): built as `Rig(now, world, seed=…, **places, **options)`."""

    def simulator_options(self, device: str, model: str) -> Mapping[str, Any]:
        """Extra constructor arguments for the simulator of `device` (instrument model
        `model`): callables that read or change the shared physics."""
        ...

    def attach(self, device: str, simulator: Any) -> None:
        """`device`'s simulator was built: hook into it (e.g. after each request)."""
        ...


class LaunchContext(Protocol):
    """What a kernel body may touch besides its instrument."""

    launch_id: int

    def now(self) -> float: ...
    def produce(self, name: str, **kw: Any) -> str: ...
    def measure(
        self, name: str, value: Any, sample: str | None = None, **provenance: Any
    ) -> None: ...
    def measurements(self, sample_id: str) -> Sequence[Any]:
        """What the store already holds about a sample (an analysis kernel reads here)."""
        ...


#: An instrument kernel's body: a bluesky plan returning its outputs.
KernelPlan = Callable[..., Generator[Msg, Any, Mapping[str, Any]]]


# The planner's contract (suggest / ingest / best, the shape bluesky-adaptive agents use)
# lives with the planner in `planner.base`, beside the Suggestion and Result it speaks in;
# `from ppu import Planner` finds it there.

__all__ = [
    "Driver",
    "KernelPlan",
    "LaunchContext",
    "Rig",
    "SafeDevice",
    "Simulator",
]
