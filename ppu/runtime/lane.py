"""An instrument lane: one RunEngine, one kernel at a time, like a CUDA stream.

Every lane's RunEngine runs its plans on the lab's single event loop. `RE(plan)` blocks
its calling thread, and the hand-off from that thread to the loop is where a virtual
clock can jump ahead (DESIGN.md, decision 2). So each lane calls `RE` exactly once, with
a long-lived plan that waits for jobs on the loop; launches never cross a thread again.
The lane holds the clock until that plan is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from bluesky import RunEngine
from bluesky import run_engine as _run_engine
from bluesky.utils import DuringTask, Msg, RequestAbort, RequestStop

from ppu.core.clock import Clock

Plan = Generator[Msg, Any, Any]


class _BlockQuietly(DuringTask):
    """Wait for the plan on the lane thread; no GUI event-loop integration."""

    def block(self, blocking_event: threading.Event) -> None:
        blocking_event.wait()


@dataclass
class Job:
    """One plan for the lane; `future` resolves on the loop with the plan's return value."""

    make_plan: Callable[[], Plan]
    future: asyncio.Future[Any]
    on_start: Callable[[], None] = field(default=lambda: None)
    tag: Any = None


_STOP = object()


def _register_loop_thread(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    # bluesky starts its own loop thread unless the loop is already running, and then
    # looks the thread up in this map; ours runs the loop itself.
    _run_engine._ensure_event_loop_running.loop_to_thread[loop] = thread  # type: ignore[attr-defined]


class Lane:
    def __init__(
        self, name: str, clock: Clock, on_document: Callable[[Lane, str, dict], None] | None = None
    ) -> None:
        self.name = name
        self.clock = clock
        self.on_document = on_document
        self.current: Job | None = None
        self.queue: deque[Any] = deque()
        self.reserved = 0  # jobs assigned to this lane, not yet submitted
        #: why the lane must not start its next job: "operator" (held for maintenance),
        #: "pause" (the campaign is paused), "quarantine" (repeated instrument faults)
        self.holds: set[str] = set()
        #: the roll call is asking the instrument's devices who they are: the next job
        #: waits (zero lab time: the exchanges hold the clock), so a job's exchanges never
        #: interleave with the poll's and a dry-run stays the same run after run
        self.polling = False
        self.on_change: Callable[[Lane], None] | None = None
        self.busy_s = 0.0  # lab time spent running jobs
        #: lab time the instrument was last heard from through a job (its end): the roll
        #: call asks only instruments quiet for a whole poll
        self.last_active = clock.now()
        self._busy_since: float | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._finished: asyncio.Future[None] | None = None
        self.RE: RunEngine | None = None

    @property
    def idle(self) -> bool:
        return self.current is None and not self.queue and not self.reserved

    @property
    def state(self) -> str:
        """ready | busy | held | quarantined | paused (a running kernel finishes before a hold
        bites). Paused: nothing but the campaign's pause stops it, so nothing to release."""
        if self.current is not None:
            return "busy"
        if "quarantine" in self.holds:
            return "quarantined"
        if self.holds - {"pause"}:
            return "held"
        return "paused" if self.holds else "ready"

    def hold(self, reason: str) -> None:
        self.holds.add(reason)
        self._changed()

    def release(self, reason: str) -> None:
        self.holds.discard(reason)
        if self._wake is not None:
            self._wake.set()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    @contextlib.contextmanager
    def polled(self) -> Iterator[None]:
        """While the roll call asks this idle instrument's devices (no job starts)."""
        self.polling = True
        try:
            yield
        finally:
            self.polling = False
            if self._wake is not None:
                self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self.queue) + self.reserved + (self.current is not None)

    async def start(self) -> None:
        from ppu.runtime.plan_stubs import install

        install()
        loop = self.clock.loop
        _register_loop_thread(loop, threading.current_thread())
        self._wake = asyncio.Event()
        ready: asyncio.Future[None] = loop.create_future()
        self._finished = loop.create_future()
        with self.clock.holding():
            self.RE = await loop.run_in_executor(None, self._make_run_engine)
            if self.on_document:
                self.RE.subscribe(lambda name, doc: self.on_document(self, name, doc))  # type: ignore[misc]
            self._thread = threading.Thread(
                target=self._serve, args=(ready,), name=f"lane:{self.name}", daemon=True
            )
            self._thread.start()
            await ready

    def _make_run_engine(self) -> RunEngine:
        return RunEngine(
            loop=self.clock.loop,
            context_managers=[],
            during_task=_BlockQuietly(),
            call_returns_result=True,
        )

    def _serve(self, ready: asyncio.Future[None]) -> None:
        loop = self.clock.loop
        try:
            assert self.RE is not None
            self.RE(self._lane_plan(ready))
        except BaseException as e:  # the lane's RunEngine itself died
            err = e

            def fail() -> None:
                if not ready.done():
                    ready.set_exception(err)
                if self.current and not self.current.future.done():
                    self.current.future.set_exception(err)

            loop.call_soon_threadsafe(fail)
        finally:
            loop.call_soon_threadsafe(self._set_finished)

    def _set_finished(self) -> None:
        if self._finished and not self._finished.done():
            self._finished.set_result(None)

    def _lane_plan(self, ready: asyncio.Future[None]) -> Plan:
        """Runs on the loop thread, for the lane's whole life."""
        assert self._wake is not None
        ready.set_result(None)
        while True:
            if not self.queue or ((self.holds or self.polling) and self.queue[0] is not _STOP):
                self._wake.clear()
                # a bare Msg: bluesky's plan-stub wrappers capture a stack trace each time
                yield Msg("wait_for", None, [self._wake.wait])
                continue
            job = self.queue.popleft()
            if job is _STOP:
                return
            self.current = job
            self._busy_since = self.clock.now()
            self._changed()
            try:
                job.on_start()
                result = yield from job.make_plan()
            except (RequestAbort, RequestStop) as e:
                # the lane itself is being aborted: fail the job and end the lane's plan
                if not job.future.done():
                    job.future.set_exception(RuntimeError(f"aborted ({type(e).__name__})"))
                raise
            except Exception as e:
                if not job.future.done():
                    job.future.set_exception(e)
            else:
                if not job.future.done():
                    job.future.set_result(result)
            finally:
                self.busy_s += self.clock.now() - self._busy_since
                self.last_active = self.clock.now()
                self._busy_since = None
                self.current = None
                self._changed()

    def busy_time(self) -> float:
        extra = self.clock.now() - self._busy_since if self._busy_since is not None else 0.0
        return self.busy_s + extra

    def submit(self, job: Job) -> None:
        """Queue a job (call on the loop thread)."""
        assert self._wake is not None, "lane not started"
        self.reserved = max(0, self.reserved - 1)
        self.queue.append(job)
        self._wake.set()

    async def stop(self) -> None:
        if self._thread is None or self._wake is None:
            return
        self.queue.append(_STOP)
        self._wake.set()
        assert self._finished is not None
        with self.clock.holding():
            await self._finished
            await self.clock.loop.run_in_executor(None, self._thread.join)
        self._thread = None
