"""The harness ppu's own device and kernel tests use, for a plugin author's tests too.

- `run_with_driver(body, simulator, driver)`: a driver against its simulator over a real
  TCP socket, on a fresh virtual clock (hours of instrument time pass in a jump);
- `serving(clock, simulator)`: the same, as a context manager yielding the open port;
- `run_on_virtual_clock(main)`: any coroutine on a virtual clock, failing if it leaks tasks;
- `dry_run(lab, kernel, **inputs)`: one kernel launched on a lab's simulated instruments
  (the same kernels, devices, drivers and simulators as `ppu launch --dry-run`), with a
  throw-away store; returns the launch's outputs as pint quantities.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from ppu.core.clock import Clock

T = TypeVar("T")
S = TypeVar("S")
D = TypeVar("D")

__all__ = ["close_checking_leaks", "dry_run", "run_on_virtual_clock", "run_with_driver", "serving"]


def close_checking_leaks(clock: Clock) -> None:
    """Close `clock`'s loop; fail if tasks were still running on it."""
    loop = clock.loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    clock.close()
    assert not pending, f"test leaked tasks: {pending}"


def run_on_virtual_clock(main: Callable[[Clock], Awaitable[T]]) -> T:
    """Run `main(clock)` on a fresh virtual clock; close it afterwards and fail if `main`
    left tasks running."""
    clock = Clock.new_virtual()
    try:
        return clock.loop.run_until_complete(main(clock))
    finally:
        close_checking_leaks(clock)


@asynccontextmanager
async def serving(
    clock: Clock,
    simulator: Any,
    *,
    pty: bool = False,
    baudrate: int = 9600,
    timeout: float = 1.0,
    trace: Path | None = None,
    linger: float = 0.0,
) -> AsyncIterator[Any]:
    """Serve `simulator` over TCP (or a pty) and yield an open `SerialPort` on it; close
    the port, then the simulator, on the way out, then sleep `linger` seconds of clock
    time (if any) so the server sees the connection close."""
    from devices.port import SerialPort

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
    driver: Callable[[Any], D],
    **port_kw: Any,
) -> T:
    """On a fresh virtual clock, build `simulator(clock)`, serve it (`port_kw` go to
    `serving`), build `driver(port)` and return `await body(sim, driver, clock)`.

    `simulator` receives the clock: build it as `Sim(clock.monotonic, seed=…)`."""

    async def main(clock: Clock) -> T:
        sim = simulator(clock)
        async with serving(clock, sim, **port_kw) as port:
            return await body(sim, driver(port), clock)

    return run_on_virtual_clock(main)


def dry_run(lab: str | Path, kernel: str, *, instrument: str | None = None, **inputs: Any) -> Any:
    """Launch `kernel` once on `lab`'s simulated instruments and return its outputs.

    Inputs are written as on the command line (`volume="5 mL"`) or as quantities. A failed
    launch raises `ppu.runtime.runtime.LaunchFailed` with the reason."""
    from ppu.lab.spec import load_lab
    from ppu.runtime.runtime import running
    from ppu.store import Store

    spec = load_lab(lab)
    k = spec.kernels.get(kernel)
    if k is None:
        raise KeyError(f"no kernel {kernel!r} in {lab} (kernels: {', '.join(spec.kernels)})")
    clock = Clock.new_virtual()
    with tempfile.TemporaryDirectory(prefix="ppu-dry-run-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'ppu.sqlite'}")

        async def main() -> Any:
            async with running(spec, clock, store, dry_run=True) as rt:
                return await rt.launch(k, instrument=instrument, **inputs)

        try:
            return clock.loop.run_until_complete(main())
        finally:
            store.close()
            close_checking_leaks(clock)
