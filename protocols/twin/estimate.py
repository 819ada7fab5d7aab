"""A chemist's quick estimate of CO2 uptake from synthesis conditions: the demo's digital twin.

What a group would build in an afternoon from the literature, before a single experiment:
which framework a recipe makes (solvent and metal:linker ratio against each family's published
recipe), how far it crystallises (one generic Arrhenius clock for every family), whether it
survives the heat (a temperature ceiling, no time dependence), what a modulator does (a UiO-66
habit applied to nobody else), and the family's quoted uptake at 0.15 bar / 298 K.

It is approximate on purpose and knows nothing of the simulated lab's chemistry
(`simulators/` is not imported here, and the layer contract forbids it). Where it is wrong is
systematic and family-dependent: it trusts alcohols and water for Mg-MOF-74, ignores
decomposition over long holds, gives every family the same kinetics and too wide a ratio
window, and quotes optimistic literature uptakes. So it ranks conditions well enough to help
and can still send the lab to the wrong corner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

R = 8.314462618  # J/(mol K)

#: the twin's name and version, stored as the provenance of every estimate
MODEL = "literature-heuristic uptake twin"
VERSION = "1.0"


@dataclass(frozen=True)
class FamilyLore:
    """What the literature says about one family (as the twin's authors read it)."""

    solvents: Mapping[str, float]  # how well a solvent is reported to work, 0..1
    ratio: float  # metal:linker of the published recipe
    t_typical_c: float  # the published synthesis temperature
    t_ceiling_c: float  # above this the papers report impurity phases
    hours_typical: float  # the published hold time
    uptake_0p15bar: float  # mmol/g at 0.15 bar / 298 K, as quoted
    modulator_helps: bool


LORE: dict[str, FamilyLore] = {
    "HKUST-1": FamilyLore(
        {"EtOH": 1.0, "H2O": 0.8, "DMF": 0.6, "DMAc": 0.3, "DEF": 0.3},
        ratio=1.5,
        t_typical_c=110.0,
        t_ceiling_c=150.0,
        hours_typical=12.0,
        uptake_0p15bar=1.4,
        modulator_helps=False,
    ),
    "Mg-MOF-74": FamilyLore(
        {"DMF": 1.0, "EtOH": 0.9, "DEF": 0.7, "H2O": 0.5, "DMAc": 0.5},
        ratio=2.0,
        t_typical_c=125.0,
        t_ceiling_c=170.0,
        hours_typical=20.0,
        uptake_0p15bar=6.0,
        modulator_helps=False,
    ),
    "UiO-66": FamilyLore(
        {"DMF": 1.0, "DMAc": 0.9, "DEF": 0.7, "H2O": 0.3, "EtOH": 0.2},
        ratio=1.0,
        t_typical_c=120.0,
        t_ceiling_c=220.0,
        hours_typical=24.0,
        uptake_0p15bar=0.6,
        modulator_helps=True,
    ),
    "ZIF-8": FamilyLore(
        {"H2O": 1.0, "EtOH": 1.0, "DMF": 0.7, "DMAc": 0.4, "DEF": 0.4},
        ratio=0.5,
        t_typical_c=100.0,
        t_ceiling_c=180.0,
        hours_typical=12.0,
        uptake_0p15bar=0.4,
        modulator_helps=False,
    ),
}

_RATIO_WIDTH = 0.45  # ln-ratio window of every family (one number for all)
_EA_J_MOL = 60e3  # one activation energy for every family's crystallisation
_CEILING_WIDTH_C = 12.0
_MIXED_PHASE = 0.15  # score of "something else" (gel) in the phase guess
# excess metal in a protic solvent comes down as the hydroxide (a known nuisance)
_HYDROXIDE_SOLVENTS = {"H2O": 1.0, "EtOH": 0.3, "DMF": 0.05, "DEF": 0.05, "DMAc": 0.05}
_HYDROXIDE_RATIO = 2.0
_SIGMA_REL, _SIGMA_ABS = 0.35, 0.1  # the twin's stated uncertainty (mmol/g)


@dataclass(frozen=True)
class Estimate:
    """The twin's answer: uptake and its one-sigma uncertainty (mmol/g), and the family it
    thinks the recipe makes."""

    co2_uptake: float
    sigma: float
    family: str


def estimate_uptake(
    temperature_c: float,
    time_h: float,
    ratio: float,
    modulator_eq: float,
    solvent: str,
    lore: Mapping[str, FamilyLore] | None = None,
) -> Estimate:
    """CO2 uptake at 0.15 bar / 298 K of the activated product, by the twin's heuristics
    (`lore`: another reading of the literature, e.g. to see what a misinformed twin does)."""
    lore_of = LORE if lore is None else lore
    if ratio <= 0 or time_h < 0 or modulator_eq < 0:
        raise ValueError("ratio must be > 0, time and modulator ≥ 0")
    t_k = temperature_c + 273.15
    scores: dict[str, float] = {}
    for name, lore in lore_of.items():
        if solvent not in lore.solvents:
            raise ValueError(f"solvent {solvent!r} is not one the twin knows")
        z = math.log(ratio / lore.ratio) / _RATIO_WIDTH
        scores[name] = lore.solvents[solvent] * math.exp(-0.5 * z * z)
    weights = {k: s * s for k, s in scores.items()}
    hydroxide = _HYDROXIDE_SOLVENTS[solvent] * (ratio / _HYDROXIDE_RATIO) ** 3
    norm = sum(weights.values()) + _MIXED_PHASE**2 + hydroxide**2
    family = max(scores, key=lambda k: scores[k])
    total = 0.0
    for name, lore in lore_of.items():
        share = weights[name] / norm
        clock = (time_h / lore.hours_typical) * math.exp(
            -_EA_J_MOL / R * (1.0 / t_k - 1.0 / (lore.t_typical_c + 273.15))
        )
        crystalline = 1.0 - math.exp(-2.0 * clock)
        survives = 1.0 / (1.0 + math.exp((temperature_c - lore.t_ceiling_c) / _CEILING_WIDTH_C))
        if lore.modulator_helps:
            modulated = 1.0 + 0.6 * min(modulator_eq, 25.0) / 25.0
        else:
            modulated = 1.0 / (1.0 + (modulator_eq / 25.0) ** 2)
        total += share * lore.uptake_0p15bar * crystalline * survives * modulated
    return Estimate(total, _SIGMA_REL * total + _SIGMA_ABS, family)
