"""The simulated lab's own thread: simulators, their rigs and the simulated world live here.

A dry-run's instruments must answer however busy the controller's loop is: a slow import,
a model fit or a large commit on the loop must not make a simulator miss a driver's
real-time timeout (which a real instrument would not). So simulators serve on a loop of
their own, and read the one virtual clock, which cannot move while an exchange is held.
Everything that touches the simulated world from the controller's side (the simulated
operator's moves) is carried over to this thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ppu.clock import Clock

T = TypeVar("T")


class SimulatedLabThread:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="simulated-lab", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine in the simulated lab, holding the controller's clock."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        with self.clock.holding():
            return await asyncio.wrap_future(fut)

    async def call(self, fn: Callable[[], T]) -> T:
        """Call `fn` on the simulated lab's thread, holding the controller's clock."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(invoke)
        with self.clock.holding():
            return await asyncio.wrap_future(fut)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
