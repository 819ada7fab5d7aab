"""The stall watchdog: a launch running far past its expected duration raises an alarm.

Overnight a step can hang without failing: a pump that stopped counting, a heater that never
reports its setpoint, a node gone. Nothing times out, so nothing is told. Each launch on an
instrument gets a limit when it starts: `multiple` × its expected duration + `grace` (the
lab file's `[watchdog]`). The expected duration is the kernel's own estimate from its inputs
(`@kernel(expected=…)`), else the median of this kernel's finished launches on this
instrument; a launch with neither is not watched (said once, in the log). Past the limit the
alarm is recorded as a `stalled` fault with the launch, the instrument is held (nothing new
starts on it; the stalled launch is left to a person), and a warning is logged.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ppu.core.errors import describe_error
from ppu.lab.spec import WatchdogSpec

log = logging.getLogger("ppu.watchdog")

#: the hold's reason, as the instrument's holds show it
HOLD = "watchdog"


@dataclass
class Watchdog:
    spec: WatchdogSpec
    loop: asyncio.AbstractEventLoop
    #: recent durations of (kernel, instrument) launches, from the store
    history: Callable[[str, str], list[float]]
    #: what an alarm does: (instrument, launch id, message)
    alarm: Callable[[str, int, str], None]
    timers: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    alarms: list[tuple[int, str]] = field(default_factory=list)
    _unwatched: set[str] = field(default_factory=set)

    def expected_s(self, kernel: Any, instrument: str, values: Mapping[str, Any]) -> float | None:
        """The launch's expected lab-time duration in seconds, or None if nothing says."""
        if kernel.expected is not None:
            try:
                return float(kernel.expected(values).m_as("s"))
            except Exception as e:  # a plugin's estimate must not stop the launch
                log.warning(
                    "kernel %s: expected duration failed: %s", kernel.name, describe_error(e)
                )
        past = self.history(kernel.name, instrument)
        return statistics.median(past) if past else None

    def limit_s(self, expected_s: float) -> float:
        return self.spec.multiple * expected_s + self.spec.grace_s

    def watch(
        self, launch_id: int, kernel: Any, instrument: str, expected: float | None,
        running: Callable[[], bool],
    ) -> None:  # fmt: skip
        """Start the launch's timer (on the lab clock: a dry-run's virtual time), from its
        `expected_s`."""
        if expected is None:
            key = f"{kernel.name} on {instrument}"
            if key not in self._unwatched:
                self._unwatched.add(key)
                log.info("%s: no expected duration yet, not watched for stalls", key)
            return
        limit = self.limit_s(expected)
        self.timers[launch_id] = self.loop.create_task(
            self._after(limit, launch_id, kernel.name, instrument, expected, running)
        )

    async def _after(
        self, limit: float, launch_id: int, kernel: str, instrument: str, expected: float,
        running: Callable[[], bool],
    ) -> None:  # fmt: skip
        await asyncio.sleep(limit)
        self.timers.pop(launch_id, None)
        if not running():
            return
        message = (
            f"launch {launch_id} ({kernel}) on {instrument} has run {duration_text(limit)}, "
            f"{self.spec.multiple:g} × its expected {duration_text(expected)}"
            + (f" + {duration_text(self.spec.grace_s)}" if self.spec.grace_s else "")
            + f": stalled? {instrument} is held; check it, then release it or abort"
        )
        self.alarms.append((launch_id, message))
        log.warning(message)
        self.alarm(instrument, launch_id, message)

    def finished(self, launch_id: int) -> None:
        timer = self.timers.pop(launch_id, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()


def duration_text(seconds: float) -> str:
    """A duration the way a person reads it: 45.0 s, 12.5 min, 36.0 h."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
