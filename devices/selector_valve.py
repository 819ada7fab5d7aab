"""A multiposition selector valve as an ophyd-async device, over a VICI actuator driver.

`set(n)` moves the rotor and completes when the actuator reports position n. Positions
outside 1…N are refused before a byte is written. `GOn` names an absolute target, so
sending it again after a lost command or a stalled rotor is harmless; stepping commands
(`CW`/`CC` without a target) are not, and are not used here.
"""

from __future__ import annotations

import asyncio
import math

from ophyd_async.core import AsyncStatus, StandardReadable, soft_signal_r_and_setter
from ophyd_async.core import StandardReadableFormat as Format

from devices.errors import DriverError, LimitError
from devices.retry import retry_safe
from devices.vici import VICIActuator


class ValveStuck(DriverError):
    """The rotor did not reach the commanded position, even after the command was repeated."""


class ValveConfigError(DriverError):
    """The actuator indexes a different number of positions than the device was set up for."""


class SelectorValve(StandardReadable):
    """`position` (hinted, int, 1…N); `positions` and `safe_position` as configuration."""

    def __init__(
        self,
        driver: VICIActuator,
        *,
        positions: int,
        safe_position: int = 1,
        step_time: float = 0.2,
        poll_interval: float = 0.1,
        attempts: int = 2,
        name: str = "",
    ) -> None:
        if positions < 2:
            raise ValueError(f"a selector valve has at least 2 positions, not {positions}")
        if not 1 <= safe_position <= positions:
            raise ValueError(f"safe position {safe_position} is outside 1…{positions}")
        self.driver = driver
        self.n_positions = positions
        self.safe = safe_position
        self.step_time = step_time
        self.poll_interval = poll_interval
        self.attempts = attempts
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.position, self._set_position = soft_signal_r_and_setter(
                int, getter=self._read_position
            )
        with self.add_children_as_readables(Format.CONFIG_SIGNAL):
            self.positions, _ = soft_signal_r_and_setter(int, positions)
            self.safe_position, _ = soft_signal_r_and_setter(int, safe_position)
        super().__init__(name=name)

    # -- limits are checked here, before the driver is called ---------------------------
    def check_position(self, position: object) -> int:
        if isinstance(position, bool) or not isinstance(position, int | float):
            raise LimitError(f"{self.name}: position {position!r} is not a whole number")
        if isinstance(position, float) and not position.is_integer():
            raise LimitError(f"{self.name}: position {position!r} is not a whole number")
        n = int(position)
        if not 1 <= n <= self.n_positions:
            raise LimitError(f"{self.name}: position {n} is outside 1…{self.n_positions}")
        return n

    async def _read_position(self) -> int:
        return await retry_safe(self.driver.port, self.driver.position)

    async def check_configuration(self) -> None:
        """Compare the actuator's NP with the positions this device was built for."""
        np = await retry_safe(self.driver.port, self.driver.num_positions)
        if np != self.n_positions:
            raise ValveConfigError(
                f"{self.name}: actuator indexes {np} positions, device set up for "
                f"{self.n_positions}"
            )

    # -- moving ---------------------------------------------------------------------
    def travel_time(self, start: int, target: int) -> float:
        """Shortest-route time from `start` to `target` at `step_time` per position."""
        forward = (target - start) % self.n_positions
        return min(forward, self.n_positions - forward) * self.step_time

    @AsyncStatus.wrap
    async def set(self, value: int) -> None:
        """Go to position `value`; done when the actuator reports it there."""
        target = self.check_position(value)
        start = await retry_safe(self.driver.port, self.driver.position)
        self._set_position(start)
        if start == target:
            return
        # The longest way round, with margin: the direction mode (SM) may forbid the short one.
        patience = (self.n_positions - 1) * self.step_time * 1.5 + 1.0
        polls = max(1, math.ceil(patience / self.poll_interval))
        at = start
        for _ in range(self.attempts):
            await retry_safe(self.driver.port, lambda: self.driver.go(target))
            await asyncio.sleep(self.travel_time(at, target))
            for _ in range(polls):
                at = await retry_safe(self.driver.port, self.driver.position)
                self._set_position(at)
                if at == target:
                    return
                await asyncio.sleep(self.poll_interval)
        raise ValveStuck(
            f"{self.name}: rotor still reports position {at}, not {target}, after "
            f"{self.attempts} attempt(s)"
        )

    async def safe_state(self) -> None:
        """Turn to the configured safe position (e.g. a vent or a closed port)."""
        await self.set(self.safe)
