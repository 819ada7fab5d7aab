"""The simulated operator of a dry-run: does each manual step in the simulated world,
taking a realistic while (on the lab clock), then confirms it."""

from __future__ import annotations

import asyncio
from typing import Any

from simulators.world import World


class SimulatedOperator:
    def __init__(
        self, world: World, *, delay_s: float = 60.0, actions: dict[str, Any] | None = None
    ) -> None:
        self.world = world
        self.delay_s = delay_s
        self.actions = actions or {}  # named acts, e.g. "fill_dewar" → callable
        self.done: list[Any] = []

    async def perform(self, step: Any) -> None:
        await asyncio.sleep(self.delay_s)
        if step.move is not None:
            source, destination = step.move
            self.world.move(source, destination)
        if step.action is not None:
            act = self.actions.get(f"{step.instrument}:{step.action}") or self.actions.get(
                step.action
            )
            if act is None:
                raise RuntimeError(f"the simulated operator does not know how to {step.action}")
            act(step)
        self.done.append(step)
