"""The simulated lab's physical world: what is where, and what it really is.

Simulators of different instruments share it (a vial made at the synthesis station is
weighed on the balance and dosed in an analyzer); the runtime and its kernels never read
it: they only see what instruments report. Places are strings such as
`synthesis:reactor`, `balance:pan`, `analyzer_1:cell`, `rack:7`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Adsorbent(Protocol):
    """The truth of a porous solid, as an adsorption instrument experiences it."""

    def loading(self, gas: str, temperature_k: float, pressure_pa: float) -> float:
        """Equilibrium amount adsorbed, mol per kg of (activated) solid."""
        ...

    def uptake_time_constant_s(self, gas: str, temperature_k: float) -> float:
        """First-order time constant of approach to equilibrium (diffusion into pores)."""
        ...


@dataclass
class Portion:
    """Some stuff in a place: a powder, a solution, a vial's contents."""

    label: str
    mass_g: float
    substance: Any = None  # e.g. a materials.Material, or a Solution
    properties: dict[str, Any] = field(default_factory=dict)


class World:
    def __init__(self) -> None:
        self._places: dict[str, list[Portion]] = {}
        self._on_take: dict[str, Callable[[str], None]] = {}

    def on_take(self, place: str, hook: Callable[[str], None]) -> None:
        """Call `hook(place)` just before anything is taken from `place` (a reactor turns
        its mixture into product when it is emptied; an oven finishes activating)."""
        self._on_take[place] = hook

    def put(self, place: str, portion: Portion) -> None:
        self._places.setdefault(place, []).append(portion)

    def contents(self, place: str) -> list[Portion]:
        return list(self._places.get(place, []))

    def take(self, place: str) -> list[Portion]:
        hook = self._on_take.get(place)
        if hook is not None:
            hook(place)
        return self._places.pop(place, [])

    def move(self, source: str, destination: str) -> list[Portion]:
        """Move everything at `source` to `destination` (an operator or a robot did it)."""
        moved = self.take(source)
        for p in moved:
            self.put(destination, p)
        return moved

    def mass_g(self, place: str) -> float:
        return sum(p.mass_g for p in self._places.get(place, []))

    def places(self) -> dict[str, list[Portion]]:
        return {k: list(v) for k, v in self._places.items() if v}
