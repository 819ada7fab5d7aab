"""Manual steps: what the robots cannot do (load a sample into an analyzer port, fill a dewar).

A kernel asks for a step and its lane waits until someone confirms it. Who confirms depends
on the run: in a dry-run a simulated operator does the physical move in the simulated world
after a delay; on a real lab a person confirms (from the console now; the dashboard later).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from bluesky.utils import Msg

_ids = itertools.count(1)


@dataclass
class OperatorStep:
    """One manual step. `move` = (from place, to place) when a sample changes hands."""

    text: str
    launch_id: int | None = None
    instrument: str | None = None
    move: tuple[str, str] | None = None
    action: str | None = None  # e.g. "fill_dewar": a named act for a simulated operator
    id: int = field(default_factory=lambda: next(_ids))


class OperatorDesk(Protocol):
    """Whoever carries out manual steps and says when they are done, and accepts or
    rejects the planner's proposals when a campaign asks for approval."""

    async def perform(self, step: OperatorStep) -> None: ...

    async def approve(self, proposal: dict[str, Any]) -> bool: ...


class ConsoleOperator:
    """A person at the terminal: the step is printed and Enter confirms it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = asyncio.Lock()

    async def perform(self, step: OperatorStep) -> None:
        async with self._lock:
            print(f"\nOPERATOR STEP {step.id} ({step.instrument}): {step.text}", file=sys.stderr)
            print("  press Enter when done", file=sys.stderr)
            await self.loop.run_in_executor(None, sys.stdin.readline)

    async def approve(self, proposal: dict[str, Any]) -> bool:
        async with self._lock:
            print(f"\nPROPOSAL: {proposal}", file=sys.stderr)
            print("  accept? [y/N]", file=sys.stderr)
            answer = await self.loop.run_in_executor(None, sys.stdin.readline)
            return answer.strip().lower() in ("y", "yes")


def manual_step(ctx: Any, text: str, **kw: Any) -> Generator[Msg, Any, None]:
    """Plan stub: wait, inside a kernel, until the operator has done `text`."""
    step = OperatorStep(text, launch_id=ctx.launch_id, instrument=ctx.instrument, **kw)
    desk: OperatorDesk = ctx.operator
    futures = yield Msg("wait_for", None, [lambda: desk.perform(step)])
    futures[0].result()  # bluesky's wait_for returns the futures; a failed step must raise
