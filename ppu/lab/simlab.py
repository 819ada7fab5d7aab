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
import io
import pickle
import threading
import zlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ppu.core.clock import Clock

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

    def _submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Schedule `fn` on the lab's thread; its result (or error) lands in the future."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(invoke)
        return fut

    async def call(self, fn: Callable[[], T]) -> T:
        """Call `fn` on the simulated lab's thread, holding the controller's clock."""
        fut = self._submit(fn)
        with self.clock.holding():
            return await asyncio.wrap_future(fut)

    def call_now(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Call `fn` on the lab's thread and wait for it, blocking the caller: for a
        snapshot taken inside a store commit. The lab never waits on the controller."""
        return self._submit(fn).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)


class _LabPickler(pickle.Pickler):
    """Pickles the simulated lab's physical state; the clock is a reference, not state."""

    def __init__(self, file: Any, clock: Clock) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._clock = clock

    def persistent_id(self, obj: Any) -> str | None:
        return "clock" if obj is self._clock else None


class _LabUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, clock: Clock) -> None:
        super().__init__(file)
        self._clock = clock

    def persistent_load(self, pid: Any) -> Any:
        if pid == "clock":
            return self._clock
        raise pickle.UnpicklingError(f"unknown reference {pid!r} in a simulated-lab snapshot")


def snapshot_lab(state: Any, clock: Clock) -> bytes:
    """The simulated lab (world, rigs, simulators) as bytes; call on the lab's thread."""
    buf = io.BytesIO()
    _LabPickler(buf, clock).dump(state)
    return zlib.compress(buf.getvalue(), 1)


def restore_lab(data: bytes, clock: Clock) -> Any:
    """The inverse of `snapshot_lab`, bound to the resumed run's clock."""
    return _LabUnpickler(io.BytesIO(zlib.decompress(data)), clock).load()
