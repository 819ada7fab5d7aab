"""A syringe pump as an ophyd-async device: `set(volume)` dispenses and completes when done."""

from __future__ import annotations

import asyncio

from ophyd_async.core import (
    AsyncStatus,
    StandardReadable,
    soft_signal_r_and_setter,
    soft_signal_rw,
)
from ophyd_async.core import StandardReadableFormat as Format

from devices.errors import DriverError, LimitError
from devices.ne1000 import NE1000, PumpState
from devices.retry import retry_safe
from ppu.core.units import Q_, Quantity, parse_quantity


class SyringePump(StandardReadable):
    """Volumes in mL, rates in mL/min. Limits are hard: refused before a byte is written."""

    def __init__(
        self,
        driver: NE1000,
        *,
        max_rate: Quantity | str = "20 mL/min",
        max_volume: Quantity | str = "50 mL",
        diameter: Quantity | str = "26.59 mm",
        poll_interval: float = 5.0,
        name: str = "",
    ) -> None:
        self.driver = driver
        self.max_rate = parse_quantity(max_rate, "mL/min")
        self.max_volume = parse_quantity(max_volume, "mL")
        self.syringe_diameter = parse_quantity(diameter, "mm")
        self.poll_interval = poll_interval
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.dispensed, self._set_dispensed = soft_signal_r_and_setter(
                float, units="mL", getter=self._read_infused
            )
        with self.add_children_as_readables(Format.CONFIG_SIGNAL):
            self.rate = soft_signal_rw(float, 1.0, units="mL/min", setter=self._write_rate)
        self.state, self._set_state = soft_signal_r_and_setter(str, "S", getter=self._read_state)
        super().__init__(name=name)

    # -- limits are checked here, before the driver is called ---------------------------
    def check_rate(self, rate_ml_min: float) -> None:
        if not 0 < rate_ml_min <= self.max_rate.magnitude:
            raise LimitError(
                f"{self.name}: rate {rate_ml_min:g} mL/min is outside (0, "
                f"{self.max_rate.magnitude:g}] mL/min"
            )

    def check_volume(self, volume_ml: float) -> None:
        if not 0 < volume_ml <= self.max_volume.magnitude:
            raise LimitError(
                f"{self.name}: volume {volume_ml:g} mL is outside (0, "
                f"{self.max_volume.magnitude:g}] mL"
            )

    async def _write_rate(self, rate_ml_min: float) -> None:
        self.check_rate(rate_ml_min)
        await retry_safe(self.driver.port, lambda: self.driver.set_rate(Q_(rate_ml_min, "mL/min")))

    async def _read_infused(self) -> float:
        _, infused, _ = await retry_safe(self.driver.port, self.driver.dispensed)
        return float(infused.to("mL").magnitude)

    async def _read_state(self) -> str:
        return str(await retry_safe(self.driver.port, self.driver.state))

    async def prepare_syringe(self) -> None:
        await retry_safe(self.driver.port, lambda: self.driver.set_diameter(self.syringe_diameter))
        await retry_safe(self.driver.port, lambda: self.driver.set_direction("INF"))

    # -- dispensing ---------------------------------------------------------------------
    @AsyncStatus.wrap
    async def set(self, volume_ml: float) -> None:
        """Infuse `volume_ml` at the current rate; done when the pump reports it stopped."""
        self.check_volume(volume_ml)
        rate = await self.rate.get_value()
        self.check_rate(rate)
        await self.prepare_syringe()
        await retry_safe(
            self.driver.port, lambda: self.driver.set_target_volume(Q_(volume_ml, "mL"))
        )
        _, before, _ = await retry_safe(self.driver.port, self.driver.dispensed)
        await self._run_once(before)
        await asyncio.sleep(volume_ml / rate * 60)
        while True:
            state, infused, _ = await retry_safe(self.driver.port, self.driver.dispensed)
            self._set_state(str(state))
            self._set_dispensed(float(infused.to("mL").magnitude))
            if state not in (PumpState.INFUSING, PumpState.WITHDRAWING):
                break
            await asyncio.sleep(self.poll_interval)

    async def refill(self, volume_ml: float) -> None:
        """Withdraw `volume_ml` from the reservoir line (the station's 3-way valve turns
        with the direction), then leave the pump set to infuse."""
        self.check_volume(volume_ml)
        rate = await self.rate.get_value()
        self.check_rate(rate)
        port = self.driver.port
        await retry_safe(port, lambda: self.driver.set_diameter(self.syringe_diameter))
        await retry_safe(port, lambda: self.driver.set_direction("WDR"))
        await retry_safe(port, lambda: self.driver.set_target_volume(Q_(volume_ml, "mL")))
        _, _, before = await retry_safe(port, self.driver.dispensed)
        await self._run_once_withdrawing(before)
        await asyncio.sleep(volume_ml / rate * 60)
        while True:
            state, _, _ = await retry_safe(port, self.driver.dispensed)
            if state not in (PumpState.INFUSING, PumpState.WITHDRAWING):
                break
            await asyncio.sleep(self.poll_interval)
        await retry_safe(port, lambda: self.driver.set_direction("INF"))

    async def _run_once_withdrawing(self, before: Quantity) -> None:
        try:
            await self.driver.run()
            return
        except DriverError:
            pass  # lost, garbled or refused: ask the pump whether it started
        state, _, now = await retry_safe(self.driver.port, self.driver.dispensed)
        if state in (PumpState.INFUSING, PumpState.WITHDRAWING) or now > before:
            return
        await self.driver.run()

    async def _run_once(self, before: Quantity) -> None:
        """RUN exactly once: after a lost reply, ask the pump whether it started."""
        try:
            await self.driver.run()
            return
        except DriverError:
            pass  # lost, garbled or refused: ask the pump whether it started
        state, now, _ = await retry_safe(self.driver.port, self.driver.dispensed)
        if state in (PumpState.INFUSING, PumpState.WITHDRAWING) or now > before:
            return  # the RUN arrived; only its reply was lost
        await self.driver.run()

    async def safe_state(self) -> None:
        """Stop the plunger."""
        await retry_safe(self.driver.port, self.driver.stop)
        if await self._read_state() == PumpState.PAUSED:
            await retry_safe(self.driver.port, self.driver.stop)
