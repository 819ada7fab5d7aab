"""Isotherm analysis on pyGAPS: what a chemist screening sorbents for CO2 capture asks of an
isotherm, and AIF files colleagues can open.

Every isotherm is brought to one basis first (absolute pressure in bar, mmol adsorbed per g
of sample) through pyGAPS's conversions, refusing a file whose basis is ambiguous (a bare
cm3/g; per mol of material without its molar mass), and checked: what cannot be an adsorption
isotherm is refused (negative pressures, loading falling with pressure, condensed gas), what is
doubtful carries a warning (more than any solid could hold). Then:

- a model fit: dual-site Langmuir, falling back to Langmuir when DSL fails or collapses to
  one site, then to Henry; fitted to the points where capture conditions lie (≤ 1.25 bar)
  when there are enough of them, so a 25-bar isotherm does not bias the 0.15-bar figure;
- uptakes at 0.15 and 1 bar: the measured point there, else the fit (flagged when read
  beyond its points); a model only where there are twice as many points as its parameters;
- BET area from N2 at 77 K: pyGAPS's own range, checked against the Rouquerol criteria;
  when that range fails them, the longest range that meets them;
- IAST selectivity CO2/N2 for a 15:85 flue gas at 1 bar from the two pure isotherms, naming
  a pure-component fit IAST reads beyond its points;
- isosteric heat (Clausius–Clapeyron) from isotherms at two or more temperatures;
- working capacity between adsorption and desorption conditions (a pressure swing, or a
  temperature swing through the isosteric heat).

pyGAPS takes seconds to import: it is imported inside the functions.

Results are grouped by material, and within it by temperature: the same files in any order
give the same report.

Modules: `reading` (files), `basis` (one basis), `checks` (refused and doubtful isotherms),
`fits` (models and uptakes), `bet`, `mixtures` (IAST, heats, working capacity), `report` (per
material and temperature), `measured` (from the store; AIF).
"""

from __future__ import annotations

from protocols.isotherms.basis import NORMALIZED_UNITS, VOLUME_BASES, Normalized, Stated, normalized
from protocols.isotherms.bet import bet, is_n2_77k
from protocols.isotherms.checks import plausibility, refuse_impossible
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
from protocols.isotherms.reading import Read, gas_label, load, quiet
from protocols.isotherms.report import (
    CAPTURE_PRESSURES_BAR,
    CRYOGENIC_K,
    SAME_TEMPERATURE_K,
    SELECTIVITY_METHOD,
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
    "SELECTIVITY_METHOD",
    "VOLUME_BASES",
    "WORKING_CAPACITY_BAR",
    "Fit",
    "MeasuredIsotherm",
    "Normalized",
    "Read",
    "Stated",
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
    "plausibility",
    "quiet",
    "read_aif",
    "refuse_impossible",
    "uptake_at",
    "working_capacity",
]
