"""What a launch is to its caller and what a kernel body sees: the launch's handle (a
future with its journaled state), a reference to a sample it will make, and the context a
kernel records samples and measurements through (the runtime stores them at the launch's end)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from ppu import __version__
from ppu.core.clock import Clock
from ppu.core.errors import PpuError
from ppu.core.kernels import Kernel
from ppu.core.units import Quantity, unit_text
from ppu.store.models import Launch as LaunchRow
from ppu.store.models import Measurement, Sample


def sample_id(launch_id: int, name: str) -> str:
    """The id of the sample `name` that launch `launch_id` makes (e.g. S12-product)."""
    return f"S{launch_id}-{name}"


class LaunchFailed(PpuError):
    """The kernel raised, or an input it waited for never came."""


@dataclass(frozen=True)
class SampleRef:
    """A sample that launch `launch` will produce under the name `name`."""

    launch: LaunchHandle
    name: str

    async def resolve(self) -> str:
        await asyncio.wait([self.launch.future])
        if self.launch.state != "done":
            raise LaunchFailed(
                f"input sample '{self.name}' of launch {self.launch.id} was never made "
                f"(that launch is {self.launch.state})"
            )
        return self.launch.produced[self.name]


class LaunchHandle:
    """A launch's future: `await handle` gives the outputs (pint quantities)."""

    def __init__(self, row: LaunchRow, kernel: Kernel, future: asyncio.Future[Any]) -> None:
        self.row = row
        self.kernel = kernel
        self.future = future
        self.produced: dict[str, str] = {}
        #: resolves when the launch starts running on its instrument (or compute worker)
        self.started: asyncio.Future[None] = future.get_loop().create_future()
        #: why it failed: "chemistry" (the sample failed), "instrument" (a device or driver
        #: fault), "operator" (a person could not do a manual step) or "software"; None
        #: while it has not failed
        self.failure: str | None = None

    @property
    def id(self) -> int:
        assert self.row.id is not None
        return self.row.id

    @property
    def state(self) -> str:
        return self.row.state

    @property
    def outputs(self) -> dict[str, Quantity]:
        return self.future.result()

    def sample(self, name: str) -> SampleRef:
        if name not in self.kernel.produces:
            raise KeyError(f"kernel {self.kernel.name} produces no sample '{name}'")
        return SampleRef(self, name)

    def __await__(self) -> Generator[Any, None, dict[str, Quantity]]:
        return self.future.__await__()


@dataclass
class KernelContext:
    """What a kernel body may touch besides its instrument: samples, measurements, time."""

    launch_id: int
    kernel: Kernel
    instrument: str | None
    clock: Clock
    campaign_id: str | None
    samples_in: dict[str, Sample]
    operator: Any = None
    made: list[Sample] = field(default_factory=list)
    measured: list[Measurement] = field(default_factory=list)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    store_engine: Any = None

    def now(self) -> float:
        return self.clock.now()

    def produce(
        self,
        name: str,
        *,
        location: str | None = None,
        mass: Quantity | None = None,
        parents: tuple[str, ...] | list[str] = (),
        properties: dict[str, Any] | None = None,
    ) -> str:
        if name not in self.kernel.produces:
            raise KeyError(f"kernel {self.kernel.name} does not declare a product '{name}'")
        sid = sample_id(self.launch_id, name)
        self.made.append(
            Sample(
                id=sid,
                campaign_id=self.campaign_id,
                kind=self.kernel.produces[name],
                parents=list(parents),
                location=location,
                made_by=self.launch_id,
                mass_value=None if mass is None else float(mass.magnitude),
                mass_unit=None if mass is None else unit_text(mass.units),
                created_v=self.now(),
                properties=properties,
            )
        )
        return sid

    def update_sample(self, sample_id: str, **fields: Any) -> None:
        """Record where a sample now is, or its measured mass; stored with the launch's end.

        `mass` may be a Quantity; other fields are Sample columns (location, state, …)."""
        mass = fields.pop("mass", None)
        if mass is not None:
            fields["mass_value"] = float(mass.magnitude)
            fields["mass_unit"] = unit_text(mass.units)
        self.updates.setdefault(sample_id, {}).update(fields)
        for s in self.samples_in.values():
            if s is not None and s.id == sample_id:
                for k, v in fields.items():
                    setattr(s, k, v)

    def location_of(self, sample_id: str) -> str | None:
        for s in [*self.samples_in.values(), *self.made]:
            if s is not None and s.id == sample_id:
                return s.location
        return None

    def measurements(self, sample_id: str) -> list[Measurement]:
        """What the store already holds about a sample (for analysis kernels)."""
        from sqlmodel import Session, select

        with Session(self.store_engine) as s:
            return list(
                s.exec(
                    select(Measurement)
                    .where(Measurement.sample_id == sample_id)
                    .order_by(Measurement.id)
                ).all()
            )  # type: ignore[arg-type]

    def measure(
        self, name: str, value: Quantity, sample: str | None = None, **provenance: Any
    ) -> None:
        """Record a measurement with its unit and provenance. A non-finite value (an isotherm
        that never reached the pressure asked about) is not a measurement: it is noted in
        `skipped` instead of being stored."""
        if not math.isfinite(float(value.magnitude)):
            self.skipped.append(name)
            return
        self.measured.append(
            Measurement(
                launch_id=self.launch_id,
                sample_id=sample,
                name=name,
                value=float(value.magnitude),
                unit=unit_text(value.units),
                virtual_t=self.now(),
                wall_t=time.time(),
                provenance={
                    "kernel": self.kernel.name,
                    "instrument": self.instrument,
                    "software": f"ppu {__version__}",
                    **(
                        {"model": self.kernel.model, "model_version": self.kernel.model_version}
                        if self.kernel.is_computed
                        else {}
                    ),
                    **provenance,
                },
                fidelity=self.kernel.fidelity,
            )
        )
