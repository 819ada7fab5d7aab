"""The activation oven's chamber: temperature and vacuum history of what sits inside.

When a sample is taken out, the time it spent hot (and whether under vacuum) activates it
through the materials model: solvent leaves the pores (mass falls), or a framework heated
past its stability limit collapses.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from simulators.world import World


class ActivationOvenRig:
    def __init__(
        self,
        now: Callable[[], float],
        world: World,
        *,
        place: str,
        seed: int = 0,
        vacuum_valve: str = "vacuum",
    ) -> None:
        self.now = now
        self.world = world
        self.place = place
        self.vacuum_valve = vacuum_valve
        self._heater: Any = None
        self._valve_open: dict[str, bool] = {}
        self._valve_channels: dict[int, str] = {}
        self.temperatures: list[tuple[float, float, bool]] = []
        world.on_take(place, self._finish)

    @property
    def under_vacuum(self) -> bool:
        return any(self._valve_open.values())

    def simulator_options(self, device: str, driver: str) -> dict[str, Any]:
        if driver == "modbus-relay":
            return {"on_change": self._valve_changed}
        if driver == "mks-9xx":
            return {"pressure_pa": self._chamber_pressure_pa}
        return {}

    def attach(self, device: str, sim: Any) -> None:
        if hasattr(sim, "temperature_c") and hasattr(sim, "advance"):
            self._heater = sim
            sim.after_each_request(self._log)

    def _valve_changed(self, channel: int, energised: bool) -> None:
        self._log()
        self._valve_open[str(channel)] = energised
        self._log()

    def _chamber_pressure_pa(self) -> float:
        return 2.0 if self.under_vacuum else 101325.0

    def _log(self) -> None:
        if self._heater is None:
            return
        self._heater.advance()
        self.temperatures.append((self.now(), float(self._heater.temperature_c), self.under_vacuum))

    def _finish(self, place: str) -> None:
        """Apply what the oven did to everything leaving it."""
        self._log()
        hot = [(t, temp, vac) for t, temp, vac in self.temperatures if temp >= 40.0]
        if len(hot) >= 2:
            span = hot[-1][0] - hot[0][0]
            hours = span / 3600
            mean_c = (
                sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(hot)) / span
            )
            vacuum = sum(b[0] - a[0] for a, b in itertools.pairwise(hot) if a[2]) > span / 2
        else:
            hours, mean_c, vacuum = 0.0, 25.0, self.under_vacuum
        for portion in self.world.contents(place):
            activate = getattr(portion.substance, "activate", None)
            if activate is not None and hours > 0:
                before = getattr(portion.substance, "solvent_fraction", None)
                result = activate(mean_c, hours, vacuum)
                if result is not None:
                    portion.substance = result
                after = getattr(portion.substance, "solvent_fraction", None)
                if before is not None and after is not None and before < 1:
                    # the solid loses the solvent that left its pores
                    dry = portion.mass_g * (1 - before)
                    portion.mass_g = dry / (1 - after) if after < 1 else dry
        self.temperatures = []
