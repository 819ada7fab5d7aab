"""The roll call: idle instruments are asked who they are, and one that stops answering is
held before a launch finds out.

A busy instrument is heard from by its launch; an idle one can lose power, its USB adapter
or its instrument PC overnight, and the first to know would be the morning's synthesis.
An instrument quiet for a whole `poll` (lab time: a dry-run's virtual clock; no job ended
and no question asked in it) has its devices asked their identity, the same harmless query
`ppu devices check` makes, retried as any query is.
An instrument unanswered `silent_polls` polls in a row raises the alarm: a `silent` fault
naming the device and its last error, the instrument held as the stall watchdog holds it
(a person's release lifts it), a warning in the log. An answer clears the count.

Instruments a person or the runtime has taken out of service (held for maintenance,
quarantined, aborted, already held by the watchdog) are not polled; a paused lab is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ppu.core.clock import Clock
from ppu.core.errors import describe_error
from ppu.lab.spec import WatchdogSpec
from ppu.runtime.watchdog import HOLD, duration_text

log = logging.getLogger("ppu.watchdog")

#: holds under which an instrument is not polled: someone already knows it is out
NOT_POLLED = frozenset({"operator", "quarantine", "abort", HOLD})


@dataclass
class RollCall:
    spec: WatchdogSpec
    clock: Clock
    #: name → the runtime's Instrument (its devices and lane)
    instruments: Mapping[str, Any]
    #: "instrument.device" → driver
    drivers: Mapping[str, Any]
    #: what an alarm does: (instrument, device, message)
    alarm: Callable[[str, str, str], None]
    #: unanswered polls in a row, by instrument
    missed: dict[str, int] = field(default_factory=dict)
    #: lab time each instrument was last asked
    asked: dict[str, float] = field(default_factory=dict)
    #: roll calls made (rounds with at least one instrument asked)
    polls: int = 0
    alarms: list[tuple[str, str]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.spec.poll_s > 0 and self._task is None:
            self._task = self.clock.loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            wait = min((self._due(i) for i in self._askable()), default=None)
            now = self.clock.now()
            await asyncio.sleep(self.spec.poll_s if wait is None else max(wait - now, 1.0))
            await self.clock.idle()  # a quiescent instant: lanes do not change under it
            await self.poll()

    def _askable(self) -> list[Any]:
        """Instruments in service with a running lane (held ones: someone knows already)."""
        return [
            inst
            for inst in self.instruments.values()
            if inst.lane.RE and not (inst.lane.holds & NOT_POLLED)
        ]

    def _due(self, inst: Any) -> float:
        """When this instrument is next asked: a whole poll after it was last heard from
        (its last job or its last poll); a busy one is heard from by its launch."""
        heard = max(inst.lane.last_active, self.asked.get(inst.name, -float("inf")))
        if not inst.lane.idle:
            heard = self.clock.now()
        return heard + self.spec.poll_s

    async def poll(self) -> None:
        """One roll call of the idle instruments quiet for a whole poll, all at once (each
        has its own ports)."""
        now = self.clock.now()
        due = [inst for inst in self._askable() if inst.lane.idle and self._due(inst) <= now + 1e-6]
        if not due:
            return
        self.polls += 1
        for inst in due:
            self.asked[inst.name] = now
        await asyncio.gather(*(self._ask(inst) for inst in due))

    async def _ask(self, inst: Any) -> None:
        with inst.lane.polled():
            replies = await asyncio.gather(
                *(self._identity(f"{inst.name}.{d}") for d in inst.devices),
                return_exceptions=True,
            )
        answers = zip(inst.devices, replies, strict=True)
        silent = [(d, r) for d, r in answers if isinstance(r, BaseException)]
        if not silent:
            self.missed[inst.name] = 0
            return
        n = self.missed[inst.name] = self.missed.get(inst.name, 0) + 1
        if n < self.spec.silent_polls:
            return
        self.missed[inst.name] = 0
        device, error = silent[0]
        others = f" (and {', '.join(d for d, _ in silent[1:])})" if len(silent) > 1 else ""
        message = (
            f"{inst.name} silent for {n} polls in a row over "
            f"{duration_text(n * self.spec.poll_s)}: {device}{others}: "
            f"{describe_error(error)}; {inst.name} is held; check it, then release it"
        )
        self.alarms.append((inst.name, message))
        log.warning(message)
        self.alarm(inst.name, device, message)

    async def _identity(self, key: str) -> str:
        from devices.retry import retry_safe

        driver = self.drivers[key]
        port = getattr(driver, "port", None)
        if port is None:  # a plugin's driver without a pyserial port: asked once
            return await driver.identity()
        return await retry_safe(port, driver.identity)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
