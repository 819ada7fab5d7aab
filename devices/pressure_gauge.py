"""A vacuum pressure gauge as an ophyd-async device, over an MKS 9xx transducer driver.

The pressure is reported in the unit the device declares (whatever unit the transducer
itself is set to), and every reading says whether it lies inside the model's measuring
range: a gauge that saturates at its floor or ceiling still prints a number, and that
number must not be taken for a measurement.
"""

from __future__ import annotations

import asyncio
import math

from ophyd_async.core import (
    StandardReadable,
    soft_signal_r_and_setter,
    soft_signal_rw,
)
from ophyd_async.core import StandardReadableFormat as Format

from devices.errors import LimitError
from devices.mks import MODELS, GaugeModel, MKSGauge
from devices.retry import retry_safe
from ppu.core.units import Q_, Quantity, parse_quantity, unit_text

# Three printed digits round by up to 0.5 %; a reading that close to a range end is the end.
_EDGE = 0.006


class RangeStatus:
    OK = "OK"
    UNDER = "UNDER"  # at or below the lower end of the measuring range
    OVER = "OVER"  # at or above the upper end


class PressureGauge(StandardReadable):
    """`pressure` (hinted) in `unit`, `range_status`, and the relay-1 `setpoint` (config)."""

    def __init__(
        self,
        driver: MKSGauge,
        *,
        model: str = "925",
        unit: str = "Pa",
        channel: int = 1,
        name: str = "",
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"no MKS gauge model {model!r}; known: {', '.join(MODELS)}")
        self.driver = driver
        self.gauge_model: GaugeModel = MODELS[model]
        parse_quantity(f"1 {unit}", "Pa")  # a pressure unit, or UnitError here
        self.unit = unit_text(Q_(1.0, unit).units)
        self.channel = channel
        self.low = float(Q_(self.gauge_model.low_torr, "torr").to(self.unit).magnitude)
        self.high = float(Q_(self.gauge_model.high_torr, "torr").to(self.unit).magnitude)
        self._inflight: asyncio.Future[tuple[float, str]] | None = None
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.pressure, self._set_pressure = soft_signal_r_and_setter(
                float, units=self.unit, getter=self._read_pressure
            )
        with self.add_children_as_readables():
            self.range_status, self._set_range_status = soft_signal_r_and_setter(
                str, RangeStatus.OK, getter=self._read_range_status
            )
        with self.add_children_as_readables(Format.CONFIG_SIGNAL):
            self.setpoint = soft_signal_rw(
                float, units=self.unit, getter=self._read_setpoint, setter=self._write_setpoint
            )
        super().__init__(name=name)

    # -- one measurement serves both readable signals -----------------------------------
    async def safe_state(self) -> None:
        """A gauge only measures: there is nothing to drive to safety."""

    def classify(self, value: float) -> str:
        """Where a reading in the device unit lies relative to the measuring range."""
        if value <= self.low * (1 + _EDGE):
            return RangeStatus.UNDER
        if value >= self.high * (1 - _EDGE):
            return RangeStatus.OVER
        return RangeStatus.OK

    async def _measure_once(self) -> tuple[float, str]:
        q = await retry_safe(self.driver.port, lambda: self.driver.pressure(self.channel))
        value = float(q.to(self.unit).magnitude)
        status = self.classify(value)
        self._set_pressure(value)
        self._set_range_status(status)
        return value, status

    async def measure(self) -> tuple[float, str]:
        """(pressure in `unit`, range status); concurrent callers share one exchange."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._measure_once())
        return await self._inflight

    async def _read_pressure(self) -> float:
        return (await self.measure())[0]

    async def _read_range_status(self) -> str:
        return (await self.measure())[1]

    # -- the relay setpoint: a setpoint must lie inside the measuring range --------------
    def check_setpoint(self, value: float) -> None:
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise LimitError(
                f"{self.name}: setpoint {value:g} {self.unit} is outside the "
                f"{self.gauge_model.name} measuring range [{self.low:g}, {self.high:g}] "
                f"{self.unit}"
            )

    async def _read_setpoint(self) -> float:
        q = await retry_safe(self.driver.port, lambda: self.driver.setpoint(1))
        return float(q.to(self.unit).magnitude)

    async def _write_setpoint(self, value: float) -> float:
        self.check_setpoint(value)
        q: Quantity = await retry_safe(
            self.driver.port, lambda: self.driver.set_setpoint(1, Q_(value, self.unit))
        )
        return float(q.to(self.unit).magnitude)
