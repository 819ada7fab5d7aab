"""The simulated operator of a dry-run: does each manual step in the simulated world,
taking a realistic while (on the lab clock), then confirms it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from simulators.world import World


class SimulatedOperator:
    name = "simulated operator"

    def __init__(
        self,
        world: World,
        *,
        delay_s: float = 60.0,
        actions: dict[str, Any] | None = None,
        in_lab: Callable[[Callable[[], Any]], Awaitable[Any]] | None = None,
    ) -> None:
        self.world = world
        self.delay_s = delay_s
        self.actions = actions or {}  # named acts, e.g. "fill_dewar" → callable
        self.in_lab = in_lab  # runs a change of the world on the simulated lab's thread
        self.done: list[Any] = []

    async def perform(self, step: Any) -> None:
        await asyncio.sleep(self.delay_s)
        await self.perform_now(step)

    async def perform_now(self, step: Any) -> None:
        """Do the step at once (a person confirmed it first from the dashboard)."""
        act = None
        if step.action is not None:
            act = self.actions.get(f"{step.instrument}:{step.action}") or self.actions.get(
                step.action
            )
            if act is None:
                raise RuntimeError(f"the simulated operator does not know how to {step.action}")

        def do() -> None:
            if step.move is not None:
                self.world.move(*step.move)
            if act is not None:
                act(step)

        if self.in_lab is not None:
            await self.in_lab(do)
        else:
            do()
        self.done.append(step)

    async def approve(self, proposal: dict[str, Any]) -> bool:
        """A simulated chemist reads the proposal and accepts it."""
        await asyncio.sleep(self.delay_s)
        self.done.append(("approved", proposal))
        return True
