"""The synthesis station's reactor: what really went in, at what temperature, for how long.

The station's pumps, solvent selector and heater are separate simulators; this rig hears
each dispense (pump `on_dispense`), knows the selected solvent line, and samples the
reactor temperature whenever the heater is asked anything. When the product is taken from
the reactor (an operator or robot empties it), the recorded history, not what the kernel
asked for, goes through the materials ground truth.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from simulators.materials import synthesize
from simulators.world import Portion, World

SOLVENT_LINES = ("DMF", "DEF", "DMAc", "EtOH", "H2O")  # selector positions 1..5
SOLVENT_DENSITY_G_ML = {"DMF": 0.944, "DEF": 0.91, "DMAc": 0.94, "EtOH": 0.789, "H2O": 0.997}


class SynthesisRig:
    def __init__(
        self,
        now: Callable[[], float],
        world: World,
        *,
        place: str,
        seed: int = 0,
        pumps: dict[str, str] | None = None,
        stock_molar: dict[str, float] | None = None,
        solvent_lines: tuple[str, ...] = SOLVENT_LINES,
    ) -> None:
        self.now = now
        self.world = world
        self.place = place
        self.rng = np.random.default_rng(seed)
        self.pumps = pumps or {
            "metal_pump": "metal",
            "linker_pump": "linker",
            "modulator_pump": "modulator",
            "solvent_pump": "solvent",
        }
        self.stock_molar = stock_molar or {"metal": 0.5, "linker": 0.5, "modulator": 5.0}
        self.solvent_lines = solvent_lines
        self._heater: Any = None
        self._selector: Any = None
        self.batches = 0
        self._reset()
        world.on_take(place, self._harvest)

    def _reset(self) -> None:
        self.added_ml: dict[str, float] = {r: 0.0 for r in self.pumps.values()}
        self.solvent_ml: dict[str, float] = {}
        self.temperatures: list[tuple[float, float]] = []

    # -- wiring --------------------------------------------------------------------------
    def simulator_options(self, device: str, driver: str) -> dict[str, Any]:
        if driver == "ne1000" and device in self.pumps:
            return {"on_dispense": functools.partial(self._dispensed, device)}
        return {}

    def attach(self, device: str, sim: Any) -> None:
        if hasattr(sim, "temperature_c") and hasattr(sim, "advance"):
            self._heater = sim
            sim.after_each_request(self._log_temperature)
        elif hasattr(sim, "rotor_position"):
            self._selector = sim

    # -- physics -------------------------------------------------------------------------
    def _log_temperature(self) -> None:
        if self._heater is None:
            return
        self._heater.advance()
        self.temperatures.append((self.now(), float(self._heater.temperature_c)))

    def solvent(self) -> str:
        if self._selector is None:
            return self.solvent_lines[0]
        self._selector.advance()
        pos = self._selector.rotor_position()
        return self.solvent_lines[(pos - 1) % len(self.solvent_lines)]

    def _dispensed(self, device: str, ml: float) -> None:
        reagent = self.pumps[device]
        self.added_ml[reagent] = self.added_ml.get(reagent, 0.0) + ml
        # every stock is made up in the solvent on the selected line
        solvent = self.solvent()
        self.solvent_ml[solvent] = self.solvent_ml.get(solvent, 0.0) + ml
        if not self.world.contents(self.place):
            self.world.put(self.place, Portion("reaction mixture", 0.0, substance=self))
        for p in self.world.contents(self.place):
            p.mass_g += ml * SOLVENT_DENSITY_G_ML.get(solvent, 0.95)
        self._log_temperature()

    def history(self) -> dict[str, Any]:
        """The synthesis conditions as they really happened."""
        self._log_temperature()
        metal = self.added_ml.get("metal", 0.0) * self.stock_molar["metal"] / 1000  # mol
        linker = self.added_ml.get("linker", 0.0) * self.stock_molar["linker"] / 1000
        modulator = self.added_ml.get("modulator", 0.0) * self.stock_molar["modulator"] / 1000
        hot = [(t, temp) for t, temp in self.temperatures if temp >= 50.0]
        if len(hot) >= 2:
            times = np.array([t for t, _ in hot])
            temps = np.array([temp for _, temp in hot])
            dt = np.diff(times)
            mid = (temps[1:] + temps[:-1]) / 2
            hold_s = float(dt.sum())
            hold_c = float((mid * dt).sum() / hold_s) if hold_s > 0 else float(temps.max())
        else:
            hold_s, hold_c = 0.0, max((temp for _, temp in self.temperatures), default=20.0)
        solvent = max(self.solvent_ml, key=self.solvent_ml.get) if self.solvent_ml else "DMF"
        return {
            "temperature_c": hold_c,
            "time_h": hold_s / 3600,
            "metal_mol": metal,
            "linker_mol": linker,
            "ratio": metal / linker if linker > 0 else float("inf"),
            "modulator_eq": modulator / metal if metal > 0 else 0.0,
            "solvent": solvent,
            "volume_ml": sum(self.added_ml.values()),
        }

    def _harvest(self, place: str) -> None:
        """Emptying the reactor: the mixture becomes the solid product (or nothing)."""
        portions = self.world.contents(place)
        if not portions or portions[0].substance is not self:
            return
        conditions = self.history()
        self.world._places[place] = []  # the mother liquor goes to waste
        self.batches += 1
        if conditions["metal_mol"] <= 0 or conditions["linker_mol"] <= 0:
            self._reset()
            return
        material = synthesize(_materials_conditions(conditions), self.rng)
        self.world.put(
            place,
            Portion(
                "as-synthesized product",
                _product_mass_g(material, conditions),
                substance=material,
                properties={"conditions": conditions},
            ),
        )
        self._reset()


def _materials_conditions(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "temperature_c": c["temperature_c"],
        "time_h": c["time_h"],
        "ratio": c["ratio"],
        "modulator_eq": c["modulator_eq"],
        "solvent": c["solvent"],
        "metal_mol": c["metal_mol"],
        "linker_mol": c["linker_mol"],
    }


def _product_mass_g(material: Any, c: dict[str, Any]) -> float:
    mass = getattr(material, "yield_g", None)
    if mass is None:
        mass = getattr(material, "mass_g", None)
    return float(mass) if mass is not None else 0.0
