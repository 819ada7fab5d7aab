"""A laboratory balance as an ophyd-async device: mass in g, tare, zero, stable reads.

`mass` (hinted) is the immediate net weight (MT-SICS `SI`); `read_stable()` is the one a
kernel should use for a result: it polls `S` and, while the balance answers `S I`
because it is still settling, waits on the lab clock and asks again.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ophyd_async.core import StandardReadable, soft_signal_r_and_setter
from ophyd_async.core import StandardReadableFormat as Format

from devices.errors import LimitError
from devices.mt_sics import MTSICSBalance, NotExecutable
from devices.retry import retry_safe
from ppu.core.units import Quantity, parse_quantity

T = TypeVar("T")


class Balance(StandardReadable):
    """Mass in g. Capacity is a hard limit for what a plan may put on the pan."""

    def __init__(
        self,
        driver: MTSICSBalance,
        *,
        capacity: Quantity | str = "220 g",
        readability: Quantity | str = "0.1 mg",
        poll_interval: float = 0.5,
        max_timeout: float = 600.0,
        name: str = "",
    ) -> None:
        self.driver = driver
        self.capacity = parse_quantity(capacity, "g")
        self.readability = parse_quantity(readability, "g")
        self.poll_interval = poll_interval
        self.max_timeout = max_timeout
        precision = max(0, round(-math.log10(self.readability.magnitude)))
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.mass, self._set_mass = soft_signal_r_and_setter(
                float, units="g", precision=precision, getter=self._read_mass
            )
        with self.add_children_as_readables(Format.CONFIG_SIGNAL):
            self.tare_mass, self._set_tare_mass = soft_signal_r_and_setter(
                float, 0.0, units="g", precision=precision
            )
            self.capacity_g, _ = soft_signal_r_and_setter(
                float, float(self.capacity.magnitude), units="g"
            )
        self.stable, self._set_stable = soft_signal_r_and_setter(bool, False)
        super().__init__(name=name)

    # -- limits are checked here, before the driver is called ---------------------------
    def check_load(self, mass_g: float) -> None:
        """Refuse a planned load (vessel + sample) the balance cannot weigh."""
        if not 0 <= mass_g <= self.capacity.magnitude:
            raise LimitError(
                f"{self.name}: load {mass_g:g} g is outside [0, {self.capacity.magnitude:g}] g"
            )

    def check_timeout(self, timeout: float) -> None:
        if not 0 < timeout <= self.max_timeout:
            raise LimitError(
                f"{self.name}: timeout {timeout:g} s is outside (0, {self.max_timeout:g}] s"
            )

    # -- readings -----------------------------------------------------------------------
    async def _read_mass(self) -> float:
        w = await retry_safe(self.driver.port, self.driver.weight_immediately)
        self._set_stable(w.stable)
        return float(w.value.to("g").magnitude)

    async def _until_stable(self, action: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Run `action` until the balance stops answering 'not executable' (settling)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                return await retry_safe(self.driver.port, action)
            except NotExecutable as e:
                if loop.time() + self.poll_interval > deadline:
                    raise NotExecutable(
                        f"{self.name}: balance not stable within {timeout:g} s", code=e.code
                    ) from None
            await asyncio.sleep(self.poll_interval)

    async def read_stable(self, timeout: float = 60.0) -> float:
        """The stable net mass in g, waiting (on the lab clock) while the balance settles."""
        self.check_timeout(timeout)
        w = await self._until_stable(self.driver.stable_weight, timeout)
        value = float(w.value.to("g").magnitude)
        self._set_mass(value)
        self._set_stable(True)
        return value

    async def tare(self, timeout: float = 60.0) -> float:
        """Tare what is on the pan once it is stable; returns the tare mass in g."""
        self.check_timeout(timeout)
        value = await self._until_stable(self.driver.tare, timeout)
        grams = float(value.to("g").magnitude)
        self._set_tare_mass(grams)
        return grams

    async def zero(self, timeout: float = 60.0) -> None:
        """Set zero once the empty pan is stable (clears the tare)."""
        self.check_timeout(timeout)
        await self._until_stable(self.driver.zero, timeout)
        self._set_tare_mass(0.0)

    async def safe_state(self) -> None:
        """A balance holds nothing dangerous: nothing to stop."""
        return None
