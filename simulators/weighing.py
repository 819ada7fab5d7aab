"""The balance's pan: whatever the operator has put there weighs on the simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulators.world import World


class WeighingRig:
    def __init__(
        self,
        now: Callable[[], float],
        world: World,
        *,
        place: str,
        seed: int = 0,
        vial_g: float = 0.0,
    ) -> None:
        self.world = world
        self.place = place
        self.vial_g = vial_g

    def load_g(self) -> float:
        return self.world.mass_g(self.place)

    def simulator_options(self, device: str, driver: str) -> dict[str, Any]:
        if driver == "mt-sics":
            return {"load_g": self.load_g}
        return {}

    def attach(self, device: str, sim: Any) -> None:
        return None
