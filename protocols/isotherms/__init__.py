"""Isotherm analysis on pyGAPS: what a chemist screening sorbents for CO2 capture asks of an
isotherm, and AIF files colleagues can open.

Every isotherm is brought to one basis first (absolute pressure in bar, mmol adsorbed per g
of sample), then:

- a model fit: dual-site Langmuir, falling back to Langmuir when DSL fails or collapses to
  one site, then to Henry; fitted to the points where capture conditions lie (≤ 1.25 bar)
  when there are enough of them, so a 25-bar isotherm does not bias the 0.15-bar figure;
- uptakes at 0.15 and 1 bar: interpolated between measured points, or from the fit (and
  said so) just outside the measured range;
- BET area from N2 at 77 K: pyGAPS's own range, checked against the Rouquerol criteria;
  when that range fails them, the longest range that meets them;
- IAST selectivity CO2/N2 for a 15:85 flue gas at 1 bar from the two pure isotherms;
- isosteric heat (Clausius–Clapeyron) from isotherms at two or more temperatures;
- working capacity between adsorption and desorption conditions (a pressure swing, or a
  temperature swing through the isosteric heat).

pyGAPS takes seconds to import: it is imported inside the functions.

Modules: `reading` (files, one basis), `fits` (models and uptakes), `bet`, `mixtures`
(IAST, heats, working capacity), `report` (per material), `measured` (from the store; AIF).
"""

from __future__ import annotations

from protocols.isotherms.bet import bet, is_n2_77k
from protocols.isotherms.fits import (
    CAPTURE_WINDOW_BAR,
    EXTRAPOLATE_ABOVE,
    MIN_FIT_POINTS,
    MODELS,
    NO_MEASURABLE_UPTAKE_MMOL_G,
    Fit,
    Uptake,
    fit,
    measurable,
    uptake_at,
)
from protocols.isotherms.measured import (
    ADSORBATES,
    MeasuredIsotherm,
    aif_text,
    measured_isotherms,
    read_aif,
)
from protocols.isotherms.mixtures import (
    FLUE_GAS_CO2,
    WORKING_CAPACITY_BAR,
    heat_at,
    iast_selectivity,
    isosteric_heat,
    working_capacity,
)
from protocols.isotherms.reading import NORMALIZED_UNITS, gas_label, load, normalized, quiet
from protocols.isotherms.report import (
    CAPTURE_PRESSURES_BAR,
    CRYOGENIC_K,
    SAME_TEMPERATURE_K,
    analyze,
)

__all__ = [
    "ADSORBATES",
    "CAPTURE_PRESSURES_BAR",
    "CAPTURE_WINDOW_BAR",
    "CRYOGENIC_K",
    "EXTRAPOLATE_ABOVE",
    "FLUE_GAS_CO2",
    "MIN_FIT_POINTS",
    "MODELS",
    "NORMALIZED_UNITS",
    "NO_MEASURABLE_UPTAKE_MMOL_G",
    "SAME_TEMPERATURE_K",
    "WORKING_CAPACITY_BAR",
    "Fit",
    "MeasuredIsotherm",
    "Uptake",
    "aif_text",
    "analyze",
    "bet",
    "fit",
    "gas_label",
    "heat_at",
    "iast_selectivity",
    "is_n2_77k",
    "isosteric_heat",
    "load",
    "measurable",
    "measured_isotherms",
    "normalized",
    "quiet",
    "read_aif",
    "uptake_at",
    "working_capacity",
]
