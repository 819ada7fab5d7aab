"""A temperature controller as an ophyd-async device: `set(t)` heats or cools to `t` and
completes once the temperature has stayed within a tolerance for a dwell time.

Limits are hard: a setpoint outside [min_setpoint, max_setpoint] or a ramp rate above
max_ramp_rate is refused before a byte is written. Every exchange here is idempotent
(reads, and writes of absolute values), so all go through `retry_safe`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ophyd_async.core import (
    AsyncStatus,
    SignalRW,
    SoftSignalBackend,
    StandardReadable,
    soft_signal_r_and_setter,
)
from ophyd_async.core import StandardReadableFormat as Format

from devices.errors import LimitError
from devices.eurotherm import Eurotherm3200, LoopMode
from devices.retry import retry_safe
from ppu.core.units import Q_, Quantity, parse_quantity


def parse_rate(value: Any) -> Quantity:
    """A ramp rate in delta_degC/min. In a rate every degree is a difference, so
    '10 degC/min' means 10 K/min (pint alone would read it as 283.15 K/min)."""
    if isinstance(value, str):
        value = value.replace("delta_degC", "degC").replace("degC", "delta_degC")
    return parse_quantity(value, "delta_degC/min")


def parse_difference(value: Any) -> Quantity:
    """A temperature difference (a tolerance) in delta_degC; '1 degC' means 1 K."""
    if isinstance(value, str):
        value = value.replace("delta_degC", "degC").replace("degC", "delta_degC")
    return parse_quantity(value, "delta_degC")


def _signal_rw(units: str, low: float, high: float, getter: Any, setter: Any) -> SignalRW[float]:
    """A soft float signal whose metadata carries its control limits."""
    backend = SoftSignalBackend(float, units=units, getter=getter, setter=setter)
    backend.metadata["limits"] = {"control": {"low": low, "high": high}}
    return SignalRW(backend=backend)


class TemperatureController(StandardReadable):
    """Temperatures in degC, output in %, ramp rate in degC/min."""

    def __init__(
        self,
        driver: Eurotherm3200,
        *,
        min_setpoint: Quantity | str = "0 degC",
        max_setpoint: Quantity | str = "400 degC",
        max_ramp_rate: Quantity | str = "30 delta_degC/min",
        tolerance: Quantity | str = "1 delta_degC",
        dwell: Quantity | str = "60 s",
        safe_setpoint: Quantity | str = "25 degC",
        poll_interval: float = 5.0,
        timeout: Quantity | str | None = None,
        name: str = "",
    ) -> None:
        self.driver = driver
        self.min_setpoint = parse_quantity(min_setpoint, "degC")
        self.max_setpoint = parse_quantity(max_setpoint, "degC")
        self.max_ramp_rate = parse_rate(max_ramp_rate)
        self.tolerance = parse_difference(tolerance)
        self.dwell = parse_quantity(dwell, "s")
        self.safe_setpoint = parse_quantity(safe_setpoint, "degC")
        self.poll_interval = poll_interval
        self.timeout = None if timeout is None else parse_quantity(timeout, "s")
        if self.min_setpoint >= self.max_setpoint:
            raise LimitError(f"{name}: min_setpoint must be below max_setpoint")
        self.check_setpoint(float(self.safe_setpoint.magnitude))
        lo, hi = float(self.min_setpoint.magnitude), float(self.max_setpoint.magnitude)
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.temperature, self._set_temperature = soft_signal_r_and_setter(
                float, units="degC", getter=self._read_temperature
            )
        with self.add_children_as_readables():
            self.output, self._set_output = soft_signal_r_and_setter(
                float, units="%", getter=self._read_output
            )
        with self.add_children_as_readables(Format.CONFIG_SIGNAL):
            self.setpoint = _signal_rw("degC", lo, hi, self._read_setpoint, self._write_setpoint)
            self.ramp_rate = _signal_rw(
                "degC/min",
                0.0,
                float(self.max_ramp_rate.magnitude),
                self._read_ramp_rate,
                self._write_ramp_rate,
            )
        super().__init__(name=name)

    # -- limits are checked here, before the driver is called ---------------------------
    def check_setpoint(self, setpoint_c: float) -> None:
        lo, hi = self.min_setpoint.magnitude, self.max_setpoint.magnitude
        if not isinstance(setpoint_c, int | float) or not lo <= setpoint_c <= hi:
            raise LimitError(
                f"{self.name}: setpoint {setpoint_c!r} degC is outside [{lo:g}, {hi:g}] degC"
            )

    def check_ramp_rate(self, rate: float) -> None:
        hi = self.max_ramp_rate.magnitude
        if not isinstance(rate, int | float) or not 0 <= rate <= hi:
            raise LimitError(
                f"{self.name}: ramp rate {rate!r} degC/min is outside [0, {hi:g}] degC/min"
            )

    # -- signal plumbing ----------------------------------------------------------------
    def _port(self) -> Any:
        return self.driver.port

    async def _read_temperature(self) -> float:
        return float((await retry_safe(self._port(), self.driver.pv)).to("degC").magnitude)

    async def _read_output(self) -> float:
        return float((await retry_safe(self._port(), self.driver.output)).magnitude)

    async def _read_setpoint(self) -> float:
        return float((await retry_safe(self._port(), self.driver.setpoint)).to("degC").magnitude)

    async def _write_setpoint(self, setpoint_c: float) -> None:
        self.check_setpoint(setpoint_c)
        q = Q_(float(setpoint_c), "degC")
        await retry_safe(self._port(), lambda: self.driver.set_setpoint(q))

    async def _read_ramp_rate(self) -> float:
        rate = await retry_safe(self._port(), self.driver.ramp_rate)
        return float(rate.to("delta_degC/min").magnitude)

    async def _write_ramp_rate(self, rate: float) -> None:
        self.check_ramp_rate(rate)
        q = Q_(float(rate), "delta_degC/min")
        await retry_safe(self._port(), lambda: self.driver.set_ramp_rate(q))

    async def _ensure_auto(self) -> None:
        if await retry_safe(self._port(), self.driver.loop_mode) != LoopMode.AUTO:
            await retry_safe(self._port(), lambda: self.driver.set_loop_mode(LoopMode.AUTO))

    # -- moving -------------------------------------------------------------------------
    @AsyncStatus.wrap
    async def set(self, setpoint_c: float) -> None:
        """Go to `setpoint_c`; done when |PV − SP| ≤ tolerance for the whole dwell time."""
        self.check_setpoint(setpoint_c)
        await self._ensure_auto()
        await self.setpoint.set(float(setpoint_c))
        await self.wait_stable(float(setpoint_c))

    async def wait_stable(self, setpoint_c: float) -> None:
        tolerance = float(self.tolerance.magnitude)
        dwell = float(self.dwell.to("s").magnitude)
        limit = None if self.timeout is None else float(self.timeout.to("s").magnitude)
        loop = asyncio.get_running_loop()
        start = loop.time()
        inside_since: float | None = None
        while True:
            pv = await self._read_temperature()
            self._set_temperature(pv)
            now = loop.time()
            if abs(pv - setpoint_c) <= tolerance:
                inside_since = now if inside_since is None else inside_since
                if now - inside_since >= dwell:
                    return
            else:
                inside_since = None
            if limit is not None and now - start > limit:
                raise TimeoutError(
                    f"{self.name}: {pv:.1f} degC after {limit:g} s, not within "
                    f"{tolerance:g} of {setpoint_c:g} degC"
                )
            await asyncio.sleep(self.poll_interval)

    async def safe_state(self) -> None:
        """Setpoint to the safe value, heater output off (manual, 0 %)."""
        q = self.safe_setpoint
        await retry_safe(self._port(), lambda: self.driver.set_setpoint(q))
        await retry_safe(self._port(), lambda: self.driver.set_loop_mode(LoopMode.MANUAL))
        await retry_safe(self._port(), lambda: self.driver.set_manual_output(Q_(0.0, "percent")))
