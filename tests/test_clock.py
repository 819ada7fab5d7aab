"""The virtual clock's invariant, on its own: time jumps to the next timer only when
nothing is ready and no work is held."""

from __future__ import annotations

import asyncio
import threading
import time

from ppu.core.clock import Clock


def test_time_jumps_to_the_next_timer(virtual_clock: Clock) -> None:
    async def main() -> list[float]:
        seen = []
        for delay in (3600.0, 0.5, 86400.0):
            await asyncio.sleep(delay)
            seen.append(virtual_clock.now())
        return seen

    wall = time.perf_counter()
    assert virtual_clock.loop.run_until_complete(main()) == [3600.0, 3600.5, 90000.5]
    assert time.perf_counter() - wall < 1.0


def test_time_stands_still_while_work_is_held(virtual_clock: Clock) -> None:
    """A thread doing real work (a driver exchange) under a hold: a timer due in 1 s of
    virtual time must not fire until the work is done, however long it takes."""
    order: list[str] = []

    async def other_lane() -> None:
        await asyncio.sleep(1.0)
        order.append(f"timer@{virtual_clock.now()}")

    async def exchange() -> None:
        with virtual_clock.holding():
            await virtual_clock.loop.run_in_executor(None, time.sleep, 0.05)
        order.append(f"io-done@{virtual_clock.now()}")

    async def main() -> None:
        await asyncio.gather(other_lane(), exchange())

    virtual_clock.loop.run_until_complete(main())
    assert order == ["io-done@0.0", "timer@1.0"]


def test_work_from_another_thread_without_timers_is_awaited(virtual_clock: Clock) -> None:
    async def main() -> float:
        fut = virtual_clock.loop.create_future()
        loop = virtual_clock.loop
        threading.Timer(0.05, lambda: loop.call_soon_threadsafe(fut.set_result, 1)).start()
        await fut
        return virtual_clock.now()

    assert virtual_clock.loop.run_until_complete(main()) == 0.0


def test_idle_resolves_before_time_moves(virtual_clock: Clock) -> None:
    async def main() -> list[tuple[str, float]]:
        log: list[tuple[str, float]] = []

        async def worker() -> None:
            await asyncio.sleep(10)
            log.append(("worker", virtual_clock.now()))

        task = asyncio.ensure_future(worker())
        await virtual_clock.idle()
        log.append(("idle", virtual_clock.now()))
        await task
        return log

    assert virtual_clock.loop.run_until_complete(main()) == [("idle", 0.0), ("worker", 10.0)]


def test_wall_clock_is_real() -> None:
    clock = Clock.new_wall()
    try:

        async def main() -> float:
            t0 = clock.now()
            await asyncio.sleep(0.02)
            return clock.now() - t0

        assert clock.loop.run_until_complete(main()) >= 0.019
        assert not clock.virtual
    finally:
        clock.close()
