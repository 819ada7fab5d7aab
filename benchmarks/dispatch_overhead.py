"""Dispatch overhead: wall time from `rt.launch(kernel)` to the kernel's plan running.

Trivial kernels on one lane of the bench lab (dry-run, SQLite store on disk, so the
`queued` and `running` journal commits are paid), one at a time from an idle lane.
For scale, the same figure for a bare RunEngine: `RE(plan)` to the first line inside
its run (open_run validates the start document; a launch pays that too).

    .venv/bin/python benchmarks/dispatch_overhead.py [--launches 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

import bluesky.plan_stubs as bps
from bluesky import RunEngine
from bluesky.utils import Msg

from ppu.core.clock import Clock
from ppu.core.kernels import kernel
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import running
from ppu.store import Store

ROOT = Path(__file__).resolve().parents[1]
started: list[float] = []


@kernel(role="pump", outputs={})
def touch(instrument, ctx):
    """The smallest plan: note when it starts, do nothing."""
    started.append(time.perf_counter())
    yield from bps.null()
    return {}


def ppu_dispatch(n: int) -> list[float]:
    clock = Clock.new_virtual()
    tmp = Path(tempfile.mkdtemp())
    store = Store(f"sqlite:///{tmp / 'bench.sqlite'}")
    lab = load_lab(ROOT / "protocols" / "examples" / "bench.toml")
    delays: list[float] = []

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True) as rt:
            for i in range(n + 20):
                t0 = time.perf_counter()
                await rt.launch(touch, instrument="metal_feed")
                if i >= 20:  # warm-up
                    delays.append(started[-1] - t0)

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        clock.close()
    return delays


def bare_run_engine(n: int) -> list[float]:
    loop = asyncio.new_event_loop()
    RE = RunEngine(loop=loop, context_managers=[])
    delays: list[float] = []

    def plan(t0: float):
        # the same shape as a launch: one run around the kernel's body
        yield Msg("open_run")
        delays.append(time.perf_counter() - t0)
        yield Msg("close_run", exit_status="success", reason="")

    def calls() -> None:
        for _i in range(n + 20):
            RE(plan(time.perf_counter()))
        del delays[:20]

    th = threading.Thread(target=calls)
    th.start()
    th.join()
    loop.call_soon_threadsafe(loop.stop)
    return delays


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launches", type=int, default=300)
    n = ap.parse_args().launches
    ours = ppu_dispatch(n)
    bare = bare_run_engine(n)
    med, bare_med = statistics.median(ours), statistics.median(bare)
    print(f"launches: {n} (after 20 warm-up), dry-run lane, SQLite journal on disk")
    print(
        f"ppu launch → plan running: median {med * 1e3:.3f} ms, "
        f"p90 {statistics.quantiles(ours, n=10)[-1] * 1e3:.3f} ms, max {max(ours) * 1e3:.3f} ms"
    )
    print(f"bare RE(plan) → inside its run: median {bare_med * 1e3:.3f} ms")
    print(f"ratio ppu / bare RunEngine: {med / bare_med:.2f}")
    print(f"target ≤ 1 ms: {'met' if med <= 1e-3 else 'NOT met'}")


if __name__ == "__main__":
    main()
