"""The lab's clock: wall time on real instruments, one virtual clock for a whole dry-run.

The virtual clock is an asyncio event loop whose `time()` is virtual. Its invariant
(DESIGN.md, decision 2): virtual time advances only when every activity in the lab is
waiting on a timer, never while work is in flight outside the loop (a driver exchange on
its port thread, a planner fit, a RunEngine hand-off). Such work declares itself with
`clock.holding()`; while any hold is open the loop waits in real time and virtual time
stands still. When nothing is ready and nothing is held, the loop jumps straight to the
next timer: a week of lab time costs only the work done in it.

`idle()` resolves at the moment the lab is quiescent (all waiting on timers), before time
moves on; a campaign decides there, so its decisions do not depend on thread timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import time
from collections.abc import Iterator
from typing import Any


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time. `pace` > 0 slows it to `pace` virtual s per real s."""

    # Longest real wait while work is held; waking up early costs nothing.
    _HELD_WAIT_S = 0.5

    def __init__(self, start: float = 0.0, pace: float | None = None) -> None:
        super().__init__(selectors.DefaultSelector())
        self._now = float(start)
        self._holds = 0
        self._idle_waiters: list[asyncio.Future[None]] = []
        self.pace = pace
        self._real_select = self._selector.select
        self._selector.select = self._select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._now

    def _select(self, timeout: float | None) -> list[tuple[Any, int]]:
        events = self._real_select(0)
        if events or timeout == 0:
            return events
        if self._holds:
            # Work is in flight outside the loop: wait for it in real time.
            wait = self._HELD_WAIT_S if timeout is None else min(timeout, self._HELD_WAIT_S)
            return self._real_select(wait)
        if self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)
            return []
        if timeout is None:
            # No timers at all: only another thread can bring work.
            return self._real_select(None)
        if self.pace:
            t0 = time.monotonic()
            events = self._real_select(min(timeout / self.pace, 0.1))
            self._now += min(timeout, (time.monotonic() - t0) * self.pace)
            return events
        self._now += timeout
        return []

    # Called on the loop thread only.
    def _hold(self) -> None:
        self._holds += 1

    def _release(self) -> None:
        self._holds -= 1
        assert self._holds >= 0, "clock hold released twice"


class Clock:
    """The runtime's clock, shared by lanes, devices, simulators and the store."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start: float = 0.0) -> None:
        self.loop = loop
        self.virtual = isinstance(loop, VirtualClockLoop)
        # virtual time is lab time itself; lab time may start later than 0 (a resumed run)
        self._origin = 0.0 if self.virtual else loop.time() - start

    @classmethod
    def new_virtual(cls, pace: float | None = None, start: float = 0.0) -> Clock:
        """A virtual clock; `start` is the lab time it begins at (where a journal ended)."""
        return cls(VirtualClockLoop(start=start, pace=pace))

    @classmethod
    def new_wall(cls, start: float = 0.0) -> Clock:
        """Lab time on the wall clock, from `start` (where a resumed campaign's journal ended)."""
        return cls(asyncio.new_event_loop(), start)

    @property
    def rate(self) -> float | None:
        """Lab seconds per wall second: 1 on the wall clock; for a paced dry-run its pace,
        an upper bound (it stands still while work holds it); None when a dry-run jumps
        from one event to the next."""
        if not self.virtual:
            return 1.0
        return getattr(self.loop, "pace", None) or None

    def now(self) -> float:
        """Seconds since this clock started (virtual in a dry-run)."""
        return self.loop.time() - self._origin

    def monotonic(self) -> float:
        """The loop's own time, for simulators that keep their state against it."""
        return self.loop.time()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Freeze virtual time while real work is in flight (call on the loop thread)."""
        if not self.virtual:
            yield
            return
        loop: VirtualClockLoop = self.loop  # type: ignore[assignment]
        loop._hold()
        try:
            yield
        finally:
            loop._release()

    async def idle(self) -> None:
        """Resolve when the whole lab is waiting on timers (at once on a wall clock)."""
        if not self.virtual:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = self.loop.create_future()
        self.loop._idle_waiters.append(fut)  # type: ignore[attr-defined]
        await fut

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.close()
