"""A mass-flow controller as an ophyd-async device over the Alicat driver.

Units of the signals: flow and setpoint in sccm (standard cm³/min at the controller's
standard conditions, 25 °C and 1 atm for Alicat), pressure in kPa ABSOLUTE, temperature
in degC, the totalizer in scc. `set(sccm)` writes the setpoint and completes once the
flow is within tolerance of it. The setpoint's hard limits are 0…full scale, refused
before a byte is written.
"""

from __future__ import annotations

import asyncio
import math

from ophyd_async.core import (
    AsyncStatus,
    StandardReadable,
    soft_signal_r_and_setter,
    soft_signal_rw,
)
from ophyd_async.core import StandardReadableFormat as Format

from devices.alicat import GASES, SCCM, AlicatController, AlicatFrame
from devices.errors import LimitError
from devices.retry import retry_safe
from ppu.core.units import Q_, Quantity, parse_quantity


class MassFlowController(StandardReadable):
    """Flow in sccm; setpoint limits [0, full scale]; gas by Alicat label."""

    def __init__(
        self,
        driver: AlicatController,
        *,
        full_scale: Quantity | str | float = 100.0,
        tolerance: float = 0.01,
        poll_interval: float = 0.25,
        settle_timeout: float = 30.0,
        tare_delay: float = 3.0,
        name: str = "",
    ) -> None:
        self.driver = driver
        self.full_scale = float(parse_quantity(full_scale, SCCM).magnitude)
        self.tolerance = tolerance  # fraction of full scale
        self.poll_interval = poll_interval
        self.settle_timeout = settle_timeout
        self.tare_delay = tare_delay
        self._poll: asyncio.Future[AlicatFrame] | None = None
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.flow, _ = soft_signal_r_and_setter(
                float, units="sccm", precision=3, getter=self._read_flow
            )
        with self.add_children_as_readables():
            self.pressure, _ = soft_signal_r_and_setter(
                float, units="kPa", precision=2, getter=self._read_pressure
            )
            self.temperature, _ = soft_signal_r_and_setter(
                float, units="degC", precision=2, getter=self._read_temperature
            )
            self.total, _ = soft_signal_r_and_setter(
                float, units="scc", precision=1, getter=self._read_total
            )
        with self.add_children_as_readables(Format.CONFIG_SIGNAL):
            self.setpoint = soft_signal_rw(
                float,
                0.0,
                units="sccm",
                precision=3,
                getter=self._read_setpoint,
                setter=self._write_setpoint,
            )
            self.gas = soft_signal_rw(str, "N2", getter=self._read_gas, setter=self._write_gas)
        self.status, self._set_status = soft_signal_r_and_setter(str, "")
        super().__init__(name=name)

    # -- limits are checked here, before the driver is called ---------------------------
    def check_setpoint(self, sccm: float) -> None:
        if not (math.isfinite(sccm) and 0 <= sccm <= self.full_scale):
            raise LimitError(
                f"{self.name}: setpoint {sccm:g} sccm is outside [0, {self.full_scale:g}] sccm"
            )

    def check_gas(self, gas: str) -> None:
        if gas not in GASES:
            raise LimitError(f"{self.name}: gas {gas!r} is not in the Alicat gas table")

    # -- reading: one poll serves every signal read at the same moment ------------------
    async def frame(self) -> AlicatFrame:
        if self._poll is None or self._poll.done():
            self._poll = asyncio.ensure_future(retry_safe(self.driver.port, self.driver.poll))
        frame = await asyncio.shield(self._poll)
        self._seen(frame)
        return frame

    def _seen(self, frame: AlicatFrame) -> None:
        self._set_status(",".join(sorted(frame.status)))

    async def _read_flow(self) -> float:
        return float((await self.frame()).mass_flow.to(SCCM).magnitude)

    async def _read_pressure(self) -> float:
        return float((await self.frame()).pressure.to("kPa").magnitude)

    async def _read_temperature(self) -> float:
        return float((await self.frame()).temperature.to("degC").magnitude)

    async def _read_total(self) -> float:
        total = (await self.frame()).total
        return math.nan if total is None else float(total.to(f"{SCCM} * min").magnitude)

    async def _read_setpoint(self) -> float:
        return float((await self.frame()).setpoint.to(SCCM).magnitude)

    async def _read_gas(self) -> str:
        return (await self.frame()).gas

    # -- writing ------------------------------------------------------------------------
    async def _write_setpoint(self, sccm: float) -> float:
        self.check_setpoint(sccm)
        # Writing the same setpoint twice is harmless, so a lost reply may be retried.
        frame = await retry_safe(self.driver.port, lambda: self.driver.set_setpoint(Q_(sccm, SCCM)))
        self._seen(frame)
        return float(frame.setpoint.to(SCCM).magnitude)

    async def _write_gas(self, gas: str) -> str:
        self.check_gas(gas)
        frame = await retry_safe(self.driver.port, lambda: self.driver.set_gas(gas))
        self._seen(frame)
        return frame.gas

    @AsyncStatus.wrap
    async def set(self, sccm: float) -> None:
        """Write the setpoint; done when the flow is within tolerance of it."""
        self.check_setpoint(sccm)
        await self.setpoint.set(sccm)
        await self.wait_for_flow(sccm)

    async def wait_for_flow(self, sccm: float) -> float:
        """Poll (on the lab clock) until the flow is within tolerance; TimeoutError if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        band = self.tolerance * self.full_scale
        while True:
            flow = await self._read_flow()
            if abs(flow - sccm) <= band:
                return flow
            if loop.time() + self.poll_interval > deadline:
                raise TimeoutError(
                    f"{self.name}: flow {flow:g} sccm did not reach {sccm:g} sccm "
                    f"within {self.settle_timeout:g} s"
                )
            await asyncio.sleep(self.poll_interval)

    async def tare(self) -> float:
        """Close the valve, let the flow stop, then tare it; returns the flow read after."""
        await self._write_setpoint(0.0)
        await asyncio.sleep(self.tare_delay)
        frame = await retry_safe(self.driver.port, self.driver.tare_flow)
        self._seen(frame)
        return float(frame.mass_flow.to(SCCM).magnitude)

    async def reset_totalizer(self) -> None:
        frame = await retry_safe(self.driver.port, self.driver.reset_totalizer)
        self._seen(frame)

    async def safe_state(self) -> None:
        """Setpoint 0 (the valve closes); a valve held open is released to the loop."""
        frame = await retry_safe(self.driver.port, lambda: self.driver.set_setpoint(Q_(0, SCCM)))
        if "HLD" in frame.status:
            frame = await retry_safe(self.driver.port, self.driver.cancel_hold)
        self._seen(frame)
