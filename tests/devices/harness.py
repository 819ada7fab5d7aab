"""The device tests' shared harness: a fresh virtual clock checked for leaked tasks, and
an instrument simulator served over TCP (or a pty) with a serial port open on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from devices.port import SerialPort
from ppu.clock import Clock
from simulators.base import InstrumentSimulator
from tests.conftest import _close_checking_leaks

T = TypeVar("T")
S = TypeVar("S", bound=InstrumentSimulator)
D = TypeVar("D")


def run_on_virtual_clock(main: Callable[[Clock], Awaitable[T]]) -> T:
    """Run `main(clock)` on a fresh virtual clock; close it afterwards and fail the test
    if `main` left tasks running."""
    clock = Clock.new_virtual()
    try:
        return clock.loop.run_until_complete(main(clock))
    finally:
        _close_checking_leaks(clock)


@asynccontextmanager
async def serving(
    clock: Clock,
    simulator: InstrumentSimulator,
    *,
    pty: bool = False,
    baudrate: int = 9600,
    timeout: float = 1.0,
    trace: Path | None = None,
    linger: float = 0.0,
) -> AsyncIterator[SerialPort]:
    """Serve `simulator` over TCP (or a pty) and yield an open `SerialPort` on it; close
    the port, then the simulator, on the way out, then sleep `linger` seconds of clock
    time (if any) so the server sees the connection close."""
    url = await (simulator.serve_pty() if pty else simulator.serve_tcp())
    try:
        port = SerialPort(url, clock, baudrate=baudrate, timeout=timeout, trace=trace)
        await port.open()
        try:
            yield port
        finally:
            await port.close()
    finally:
        try:
            await simulator.close()
        finally:
            if linger:
                await asyncio.sleep(linger)


def run_with_driver(
    body: Callable[[S, D, Clock], Awaitable[T]],
    simulator: Callable[[Clock], S],
    driver: Callable[[SerialPort], D],
    **port_kw: Any,
) -> T:
    """On a fresh virtual clock, build `simulator(clock)`, serve it (`port_kw` go to
    `serving`), build `driver(port)` and return `await body(sim, driver, clock)`."""

    async def main(clock: Clock) -> T:
        sim = simulator(clock)
        async with serving(clock, sim, **port_kw) as port:
            return await body(sim, driver(port), clock)

    return run_on_virtual_clock(main)
