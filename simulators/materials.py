"""The materials ground truth: what a solvothermal synthesis really makes, and how it adsorbs.

The simulated lab needs chemistry that behaves like the real thing, so the planner has a
realistic landscape to search and the analysis kernels have realistic isotherms to fit.
Nothing here is seen by the runtime: instruments report on it (a balance weighs the
product, an analyzer doses gas onto it).

The model, and why each piece is there:

* **Competing nucleation.** Four MOF families (HKUST-1-, Mg-MOF-74-, UiO-66- and
  ZIF-8-like) and a metal oxide/hydroxide compete for the reagents. Each route has an
  Arrhenius rate `k = A exp(-Ea/RT)` scaled by how well the solvent, the metal:linker
  ratio and the modulator suit it; the fastest route takes most of the product (weights
  `I_f^2`). So solvent, ratio and temperature pick the family: a few distinct peaks.
* **Avrami kinetics.** The converted fraction is `1 - exp(-(sum_f I_f)^n)` with
  `I_f = integral k_f dt`: too cold or too short leaves an amorphous gel.
* **Decomposition.** In the hot mother liquor a framework turns into a dense phase (or,
  for Cu, an oxide) at a first-order rate with a high activation energy: too hot or too
  long gives impurity phases. A metal excess feeds the oxide route, worst in water.
* **Defects.** Modulator equivalents create missing-linker defects: more accessible
  area up to a family-specific limit, then the framework collapses (UiO-66 tolerates
  most; for MOF-74 defects cost open metal sites).
* **Adsorption.** Each family has a dual-site Langmuir isotherm for CO2 and N2 with
  `b_i(T) = b_i0 exp(Q_i/RT)`, calibrated to literature uptakes at 298 K; the material's
  capacities are the family's scaled by crystalline mass fraction, defect factor, the
  fraction of pores emptied of solvent and the fraction of framework still intact. The
  N2 isotherm also holds at 77 K, so a BET analysis of it returns about `bet_area_m2_g`.
* **Pore volume.** The framework's pore volume scales with the same factors as its
  capacities (a defect that opens pores opens volume too), so the N2 a sample holds at
  77 K near saturation never exceeds its pore volume filled with liquid N2 (Gurvich), and
  the solvent an as-made sample carries fills the same pores.
* **Activation** empties pores (first order, faster under vacuum, harder for solvent
  bound to open metal sites and for high-boiling solvents) and collapses a framework
  heated past its stability limit.
* **Batches differ**: with a `numpy.random.Generator`, rates, defect density, capacities
  and yield get small seeded log-normal variations; without one, the noise-free truth.

No wall clock: time enters only through the durations in the conditions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

R = 8.314462618  # J/(mol K)
T_REF_K = 298.15
BAR_PA = 1e5
N2_MONOLAYER_M2_PER_MOL = 6.02214076e23 * 0.162e-18  # m2 covered by one mole of N2
# Saturated liquid N2 at 77.35 K: 806.1 kg/m3 (CoolProp) / 28.0134 g/mol, mmol per cm3
N2_LIQUID_MMOL_CM3 = 28.78

SOLVENTS: tuple[str, ...] = ("DMF", "DEF", "DMAc", "EtOH", "H2O")
SOLVENT_BOILING_C = {"DMF": 153.0, "DEF": 177.0, "DMAc": 165.0, "EtOH": 78.0, "H2O": 100.0}
SOLVENT_DENSITY_G_ML = {"DMF": 0.944, "DEF": 0.91, "DMAc": 0.94, "EtOH": 0.789, "H2O": 0.997}

AMORPHOUS = "amorphous"
DENSE = "dense phase"
OXIDE = "metal oxide"
GASES: tuple[str, ...] = ("CO2", "N2", "He")

# The demo campaign's search space (protocols/mof.py bounds the synthesis kernel the same way).
SEARCH_SPACE: dict[str, Any] = {
    "temperature_c": (80.0, 180.0),
    "time_h": (2.0, 48.0),
    "ratio": (0.5, 3.0),
    "modulator_eq": (0.0, 50.0),
    "solvent": SOLVENTS,
}
# An activation every family survives and that empties its pores (≥ 99 %).
STANDARD_ACTIVATION: tuple[float, float, bool] = (200.0, 12.0, True)  # degC, h, vacuum

_AVRAMI_SHARPNESS = 4.0  # competition: the route with the larger integrated rate wins
_RECOVERY = 0.85  # fraction of the solid that survives filtering and washing
_GEL_PRECIPITATED = 0.8  # share of unconverted metal that comes down as amorphous gel
_GEL_G_PER_MOL_METAL = 200.0
_OXIDE_G_PER_MOL_METAL = 80.0
_DECOMPOSED_MASS_KEPT = 0.6  # a dense phase or oxide weighs less than the framework it was
_MAX_EXPONENT = 50.0


# -- adsorption ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DualSiteLangmuir:
    """`q = sum_i q_sat_i b_i p / (1 + b_i p)` with `b_i(T) = b_i0 exp(Q_i / (R T))`.

    Units: q_sat in mol/kg, b_i0 in 1/Pa, heats of adsorption Q_i in J/mol.
    """

    q_sat1: float
    b1_0: float
    heat1: float
    q_sat2: float
    b2_0: float
    heat2: float

    @classmethod
    def at_298k(
        cls,
        q_sat1: float,
        b1_per_bar: float,
        heat1_kj: float,
        q_sat2: float,
        b2_per_bar: float,
        heat2_kj: float,
    ) -> DualSiteLangmuir:
        """Build from affinities at 298.15 K in 1/bar (how the literature quotes them)."""
        b1_0 = b1_per_bar / BAR_PA * math.exp(-heat1_kj * 1e3 / (R * T_REF_K))
        b2_0 = b2_per_bar / BAR_PA * math.exp(-heat2_kj * 1e3 / (R * T_REF_K))
        return cls(q_sat1, b1_0, heat1_kj * 1e3, q_sat2, b2_0, heat2_kj * 1e3)

    def b1(self, temperature_k: float) -> float:
        """Site-1 affinity (1/Pa): rises as the temperature falls."""
        return self.b1_0 * math.exp(self.heat1 / (R * temperature_k))

    def b2(self, temperature_k: float) -> float:
        """Site-2 affinity (1/Pa)."""
        return self.b2_0 * math.exp(self.heat2 / (R * temperature_k))

    def loading(self, temperature_k: float, pressure_pa: float) -> float:
        """Equilibrium loading, mol/kg."""
        b1p = self.b1(temperature_k) * pressure_pa
        b2p = self.b2(temperature_k) * pressure_pa
        return self.q_sat1 * b1p / (1.0 + b1p) + self.q_sat2 * b2p / (1.0 + b2p)

    def henry(self, temperature_k: float) -> float:
        """Initial slope, mol/(kg Pa): the low-pressure selectivity comes from its ratio."""
        return self.q_sat1 * self.b1(temperature_k) + self.q_sat2 * self.b2(temperature_k)

    def scaled(self, factor: float) -> DualSiteLangmuir:
        """Same affinities, capacities times `factor` (less crystalline, fewer open pores)."""
        return DualSiteLangmuir(
            self.q_sat1 * factor,
            self.b1_0,
            self.heat1,
            self.q_sat2 * factor,
            self.b2_0,
            self.heat2,
        )


# -- families --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    """One MOF family: how it nucleates, decomposes, takes defects, adsorbs and activates."""

    name: str
    ratio_opt: float  # metal:linker ratio where it nucleates best
    ratio_width: float  # width of that window in ln(ratio)
    stoichiometry: float  # metal per linker in the framework (limits the yield)
    solvent_affinity: Mapping[str, float]
    modulator_boost_eq: float  # modulator helps crystallisation up to about this (inf: never)
    modulator_kill_eq: float  # capping by modulator halves the rate about here
    modulator_kill_power: float
    ea_kj: float  # crystallisation activation energy
    k_ref_per_h: float  # crystallisation rate at t_ref_c with ideal solvent and ratio
    t_ref_c: float
    avrami_n: float
    ed_kj: float  # decomposition in the mother liquor
    t_decomp_c: float  # where that decomposition rate is 1/day
    decomposes_to: str
    defect_base: float
    defect_per_modulator: float  # defects at saturation of modulator
    defect_half_eq: float
    defect_gain: float  # capacity gain per unit defect density (negative: a loss)
    defect_collapse: float  # defect density where the framework falls apart
    bet_m2_g: float  # pristine, fully crystalline and activated
    co2: DualSiteLangmuir
    n2: DualSiteLangmuir
    tau_co2_s: float  # uptake time constant at 298 K, 1 µm crystals
    tau_n2_s: float
    stability_limit_c: float  # framework collapses within the hour somewhat above this
    activation_extra_c: float  # solvent bound to open metal sites needs this much more heat
    g_per_mol_metal: float
    pore_volume_cm3_g: float

    def crystallisation_rate_per_h(self, temperature_k: float) -> float:
        return self.k_ref_per_h * _arrhenius(self.ea_kj, temperature_k, self.t_ref_c)

    def decomposition_rate_per_h(self, temperature_k: float) -> float:
        return _arrhenius(self.ed_kj, temperature_k, self.t_decomp_c) / 24.0

    def condition_factor(self, solvent: str, ratio: float, modulator_eq: float) -> float:
        """How well solvent, ratio and modulator suit this family (multiplies its rate)."""
        lr = math.log(ratio / self.ratio_opt) / self.ratio_width
        boost = 1.0 + modulator_eq / self.modulator_boost_eq
        kill = 1.0 + (modulator_eq / self.modulator_kill_eq) ** self.modulator_kill_power
        return self.solvent_affinity[solvent] * math.exp(-0.5 * lr * lr) * boost / kill

    def defect_density(self, modulator_eq: float) -> float:
        return self.defect_base + self.defect_per_modulator * modulator_eq / (
            modulator_eq + self.defect_half_eq
        )

    def defect_factor(self, defects: float) -> float:
        """Capacity and area multiplier: defects open pores, until the framework gives way."""
        z = min((defects - self.defect_collapse) / 0.015, _MAX_EXPONENT)
        return max(0.0, 1.0 + self.defect_gain * defects) / (1.0 + math.exp(z))


def _arrhenius(ea_kj: float, temperature_k: float, t_ref_c: float) -> float:
    """exp(-Ea/R (1/T - 1/T_ref)): a rate relative to its value at t_ref_c."""
    x = -ea_kj * 1e3 / R * (1.0 / temperature_k - 1.0 / (t_ref_c + 273.15))
    return math.exp(min(x, _MAX_EXPONENT))


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="HKUST-1",
            ratio_opt=1.5,
            ratio_width=0.3,
            stoichiometry=1.5,
            solvent_affinity={"EtOH": 1.0, "H2O": 0.6, "DMF": 0.2, "DMAc": 0.1, "DEF": 0.1},
            modulator_boost_eq=math.inf,
            modulator_kill_eq=25.0,
            modulator_kill_power=1.5,
            ea_kj=70.0,
            k_ref_per_h=0.35,
            t_ref_c=100.0,
            avrami_n=2.0,
            ed_kj=180.0,
            t_decomp_c=135.0,
            decomposes_to=OXIDE,
            defect_base=0.02,
            defect_per_modulator=0.15,
            defect_half_eq=20.0,
            defect_gain=1.0,
            defect_collapse=0.15,
            bet_m2_g=1620.0,
            co2=DualSiteLangmuir.at_298k(4.0, 0.5088, 28.0, 20.0, 0.1697, 22.0),
            n2=DualSiteLangmuir.at_298k(13.3, 0.0135, 13.0, 4.75, 0.005, 9.0),
            tau_co2_s=60.0,
            tau_n2_s=40.0,
            stability_limit_c=260.0,
            activation_extra_c=25.0,
            g_per_mol_metal=201.6,
            pore_volume_cm3_g=0.75,
        ),
        Family(
            name="Mg-MOF-74",
            ratio_opt=2.4,
            ratio_width=0.35,
            stoichiometry=2.0,
            solvent_affinity={"DMF": 1.0, "DEF": 0.9, "DMAc": 0.7, "EtOH": 0.03, "H2O": 0.02},
            modulator_boost_eq=math.inf,
            modulator_kill_eq=15.0,
            modulator_kill_power=2.0,
            ea_kj=95.0,
            k_ref_per_h=0.35,
            t_ref_c=125.0,
            avrami_n=2.5,
            ed_kj=220.0,
            t_decomp_c=155.0,
            decomposes_to=DENSE,
            defect_base=0.01,
            defect_per_modulator=0.2,
            defect_half_eq=20.0,
            defect_gain=-0.5,
            defect_collapse=0.2,
            bet_m2_g=1550.0,
            co2=DualSiteLangmuir.at_298k(6.2, 32.07, 42.0, 9.0, 0.2834, 24.0),
            n2=DualSiteLangmuir.at_298k(13.7, 0.081, 13.0, 3.0, 0.005, 9.0),
            tau_co2_s=45.0,
            tau_n2_s=30.0,
            stability_limit_c=330.0,
            activation_extra_c=40.0,
            g_per_mol_metal=121.4,
            pore_volume_cm3_g=0.6,
        ),
        Family(
            name="UiO-66",
            ratio_opt=1.0,
            ratio_width=0.3,
            stoichiometry=1.0,
            solvent_affinity={"DMF": 1.0, "DMAc": 0.9, "DEF": 0.6, "H2O": 0.12, "EtOH": 0.05},
            modulator_boost_eq=10.0,
            modulator_kill_eq=60.0,
            modulator_kill_power=3.0,
            ea_kj=85.0,
            k_ref_per_h=0.2,
            t_ref_c=120.0,
            avrami_n=2.0,
            ed_kj=170.0,
            t_decomp_c=215.0,
            decomposes_to=DENSE,
            defect_base=0.04,
            defect_per_modulator=0.32,
            defect_half_eq=25.0,
            defect_gain=2.2,
            defect_collapse=0.2,
            bet_m2_g=1100.0,
            co2=DualSiteLangmuir.at_298k(1.5, 0.8814, 28.0, 7.0, 0.1508, 22.0),
            n2=DualSiteLangmuir.at_298k(9.0, 0.012, 13.0, 3.0, 0.005, 9.0),
            tau_co2_s=150.0,
            tau_n2_s=100.0,
            stability_limit_c=450.0,
            activation_extra_c=0.0,
            g_per_mol_metal=277.4,
            pore_volume_cm3_g=0.45,
        ),
        Family(
            name="ZIF-8",
            ratio_opt=0.5,
            ratio_width=0.3,
            stoichiometry=0.5,
            solvent_affinity={"H2O": 1.0, "EtOH": 0.9, "DMF": 0.35, "DMAc": 0.2, "DEF": 0.2},
            modulator_boost_eq=math.inf,
            modulator_kill_eq=30.0,
            modulator_kill_power=1.5,
            ea_kj=50.0,
            k_ref_per_h=0.6,
            t_ref_c=100.0,
            avrami_n=2.5,
            ed_kj=160.0,
            t_decomp_c=160.0,
            decomposes_to=DENSE,
            defect_base=0.01,
            defect_per_modulator=0.1,
            defect_half_eq=20.0,
            defect_gain=0.5,
            defect_collapse=0.2,
            bet_m2_g=1600.0,
            co2=DualSiteLangmuir.at_298k(1.0, 0.1981, 20.0, 9.0, 0.06065, 16.0),
            n2=DualSiteLangmuir.at_298k(14.5, 0.004, 13.0, 3.0, 0.003, 9.0),
            tau_co2_s=500.0,
            tau_n2_s=300.0,
            stability_limit_c=400.0,
            activation_extra_c=0.0,
            g_per_mol_metal=227.6,
            pore_volume_cm3_g=0.65,
        ),
    )
}

# The metal oxide/hydroxide route: fed by excess metal, fastest in water, capped by acids.
_OXIDE_SOLVENT = {"H2O": 1.0, "EtOH": 0.4, "DMF": 0.15, "DEF": 0.15, "DMAc": 0.15}
_OXIDE_EA_KJ, _OXIDE_K_REF_PER_H, _OXIDE_T_REF_C = 110.0, 0.03, 150.0
_OXIDE_RATIO_REF, _OXIDE_RATIO_POWER, _OXIDE_MODULATOR_EQ = 1.5, 3.0, 10.0

# Non-porous phases: a little external surface, slow to equilibrate.
_BACKGROUND_AREA_M2_G = {AMORPHOUS: 40.0, DENSE: 15.0, OXIDE: 5.0}
_BACKGROUND_SOLVENT_G_G = {AMORPHOUS: 0.2, DENSE: 0.02, OXIDE: 0.02}
_HE_TAU_S = 10.0
_TAU_RANGE_S = (5.0, 5400.0)
_DIFFUSION_EA_KJ = 3.0
# Activation: pores empty at 1/h at (solvent boiling point + family's extra) under vacuum.
_ACTIVATION_EA_KJ = 70.0
_NO_VACUUM_FACTOR = 0.1
# Collapse: 0.5/h at the stability limit, e-fold per 6 degC.
_COLLAPSE_RATE_PER_H = 0.5
_COLLAPSE_WIDTH_C = 6.0
_DEFECT_DESTABILISATION_C = 150.0  # stability limit falls this much per unit defect density


# -- conditions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SynthesisConditions:
    """What a synthesis really did (as the station recorded it, not what was asked).

    `profile`, if given, is the reactor temperature history [(t_s, T_degC), ...], linear
    between points; the kinetics then follow it and `temperature_c`/`time_h` are only a
    summary. Amounts: `metal_mol`/`linker_mol` if known, else from volume × concentration.
    """

    temperature_c: float
    time_h: float
    ratio: float
    modulator_eq: float = 0.0
    solvent: str = "DMF"
    volume_ml: float = 20.0
    metal_concentration_m: float = 0.05
    metal_mol: float | None = None
    linker_mol: float | None = None
    profile: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.solvent not in SOLVENTS:
            raise ValueError(f"solvent: {self.solvent!r} is not one of {', '.join(SOLVENTS)}")
        checks = {
            "temperature_c": -50.0 <= self.temperature_c <= 400.0,
            "time_h": self.time_h >= 0.0 and math.isfinite(self.time_h),
            "ratio": self.ratio > 0.0 and math.isfinite(self.ratio),
            "modulator_eq": self.modulator_eq >= 0.0 and math.isfinite(self.modulator_eq),
            "volume_ml": self.volume_ml > 0.0,
            "metal_concentration_m": self.metal_concentration_m > 0.0,
            "metal_mol": self.metal_mol is None or self.metal_mol >= 0.0,
            "linker_mol": self.linker_mol is None or self.linker_mol >= 0.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{name}: {getattr(self, name)!r} is out of range")
        if self.profile is not None:
            if len(self.profile) < 2:
                raise ValueError("profile: needs at least two (t_s, T_degC) points")
            times = [t for t, _ in self.profile]
            if any(b < a for a, b in itertools.pairwise(times)):
                raise ValueError("profile: times must not decrease")

    @classmethod
    def from_profile(
        cls, profile: Sequence[tuple[float, float]], ratio: float, **kwargs: Any
    ) -> SynthesisConditions:
        """Conditions from a temperature history; the summary is the peak and the span."""
        points = tuple((float(t), float(c)) for t, c in profile)
        return cls(
            temperature_c=max(c for _, c in points),
            time_h=(points[-1][0] - points[0][0]) / 3600.0,
            ratio=ratio,
            profile=points,
            **kwargs,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SynthesisConditions:
        """Accept the synthesis rig's record (`ratio` or `metal_linker_ratio`, ...)."""
        data = dict(values)
        if "metal_linker_ratio" in data:
            data["ratio"] = data.pop("metal_linker_ratio")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown synthesis conditions: {', '.join(sorted(unknown))}")
        profile = data.pop("profile", None)
        if profile is not None:
            data["profile"] = tuple((float(t), float(c)) for t, c in profile)
        if data.get("ratio") is None and data.get("metal_mol") and data.get("linker_mol"):
            data["ratio"] = data["metal_mol"] / data["linker_mol"]
        return cls(**data)

    def amounts_mol(self) -> tuple[float, float]:
        """(metal, linker) in mol."""
        metal = self.metal_mol
        if metal is None:
            metal = self.metal_concentration_m * self.volume_ml / 1000.0
        linker = self.linker_mol if self.linker_mol is not None else metal / self.ratio
        return metal, linker

    def time_slices(self) -> list[tuple[float, float]]:
        """[(duration_h, temperature_k)]: isothermal, or the profile cut into short steps."""
        if self.profile is None:
            return [(self.time_h, self.temperature_c + 273.15)]
        t = np.array([p[0] for p in self.profile], dtype=float)
        c = np.array([p[1] for p in self.profile], dtype=float)
        if t[-1] <= t[0]:
            return [(0.0, float(c.max()) + 273.15)]
        edges = np.linspace(t[0], t[-1], 513)
        mid = (edges[1:] + edges[:-1]) / 2
        temps = np.interp(mid, t, c) + 273.15
        dt_h = float(edges[1] - edges[0]) / 3600.0
        return [(dt_h, float(temp)) for temp in temps]


# -- the material ----------------------------------------------------------------------------
@dataclass
class Material:
    """One batch of product. Satisfies `simulators.world.Adsorbent`.

    Capacities and area follow the current state: fraction of pores emptied of solvent
    (`activation_fraction`) and fraction of framework still standing (`intact_fraction`).
    """

    family: str  # the framework type that nucleated (even if it is a minor phase)
    as_made_fractions: dict[str, float]  # mass fractions of phases in the dry product
    defect_density: float  # missing-linker fraction
    crystal_size_um: float
    co2_full: DualSiteLangmuir  # this product fully activated, mol per kg of product
    n2_full: DualSiteLangmuir
    porous_area_m2_g: float  # the framework's contribution, fully activated
    background_area_m2_g: float
    stability_limit_c: float
    pore_solvent: str
    activation_ref_c: float  # under vacuum, pores empty at 1/h at this temperature
    tau_co2_s: float
    tau_n2_s: float
    dry_mass_g: float
    pore_solvent_g_g: float  # solvent held per g of dry product as made
    framework_pore_volume_cm3_g: float = 0.0  # the framework's pores, fully activated
    conditions: SynthesisConditions | None = None
    activation_fraction: float = 0.0
    intact_fraction: float = 1.0
    # (degC, h, vacuum) of each activation, in order
    activation_history: list[tuple[float, float, bool]] = field(default_factory=list)

    # composition
    @property
    def phase_fractions(self) -> dict[str, float]:
        """Mass fractions now: a collapsed framework counts as amorphous."""
        fr = dict(self.as_made_fractions)
        lost = fr.get(self.family, 0.0) * (1.0 - self.intact_fraction)
        fr[self.family] = fr.get(self.family, 0.0) - lost
        fr[AMORPHOUS] = fr.get(AMORPHOUS, 0.0) + lost
        return fr

    @property
    def phase(self) -> str:
        """The majority phase: a MOF family, `dense phase`, `metal oxide` or `amorphous`."""
        fr = self.phase_fractions
        return max(fr, key=lambda k: fr[k])

    @property
    def crystallinity(self) -> float:
        """Mass fraction of the product that is the crystalline framework."""
        return self.as_made_fractions.get(self.family, 0.0) * self.intact_fraction

    @property
    def accessible_fraction(self) -> float:
        return self.activation_fraction * self.intact_fraction

    # mass
    @property
    def yield_g(self) -> float:
        """Solid recovered from the reactor, with the solvent in its pores."""
        return self.dry_mass_g * (1.0 + self.pore_solvent_g_g)

    @property
    def solvent_fraction(self) -> float:
        """Mass fraction of the solid that is pore solvent now (falls on activation)."""
        w = self.pore_solvent_g_g * (1.0 - self.activation_fraction)
        return w / (1.0 + w)

    # adsorption
    def isotherm(self, gas: str) -> DualSiteLangmuir:
        """The dual-site Langmuir parameters of this sample as it is now (per kg dry)."""
        g = _gas(gas)
        if g == "He":
            return DualSiteLangmuir(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        full = self.co2_full if g == "CO2" else self.n2_full
        return full.scaled(self.accessible_fraction)

    def loading(self, gas: str, temperature_k: float, pressure_pa: float) -> float:
        """Equilibrium amount adsorbed, mol per kg of activated solid (He: none)."""
        _check_state(temperature_k, pressure_pa)
        return self.isotherm(gas).loading(temperature_k, pressure_pa)

    def true_uptake_mmol_g(self, gas: str, temperature_k: float, pressure_bar: float) -> float:
        """The same in the units papers quote (mmol/g at bar)."""
        return self.loading(gas, temperature_k, pressure_bar * BAR_PA)

    def selectivity(self, temperature_k: float = T_REF_K) -> float:
        """CO2/N2 Henry selectivity (ratio of initial slopes)."""
        n2 = self.n2_full.henry(temperature_k)
        return self.co2_full.henry(temperature_k) / n2 if n2 > 0 else math.inf

    def uptake_time_constant_s(self, gas: str, temperature_k: float) -> float:
        """Diffusion into the pores: slower for big, defective or poorly crystalline solids."""
        g = _gas(gas)
        _check_state(temperature_k, 0.0)
        if g == "He":
            return _HE_TAU_S
        base = self.tau_co2_s if g == "CO2" else self.tau_n2_s
        blocked = 1.0 + 4.0 * (1.0 - self.crystallinity)  # gel and debris block pore mouths
        cold = _arrhenius(-_DIFFUSION_EA_KJ, temperature_k, T_REF_K - 273.15)
        tau = base * self.crystal_size_um * (1.0 + 3.0 * self.defect_density) * blocked * cold
        return min(max(tau, _TAU_RANGE_S[0]), _TAU_RANGE_S[1])

    @property
    def pore_volume_cm3_g(self) -> float:
        """Pore volume open to gas now (per g of activated solid): the framework's, as far
        as its pores are emptied and it still stands."""
        return self.framework_pore_volume_cm3_g * self.accessible_fraction

    @property
    def bet_area_m2_g(self) -> float:
        """BET area as an N2 77 K isotherm on this sample (as it is now) would report it."""
        return self.porous_area_m2_g * self.accessible_fraction + self.background_area_m2_g

    # activation
    def activate(self, temperature_degC: float, hours: float, vacuum: bool) -> Material:
        """Heat the sample: solvent leaves the pores; past the stability limit it collapses.

        Returns the activated material and leaves this one as it was, so two portions
        that share a substance never change behind each other's back.
        """
        if hours < 0 or not math.isfinite(hours):
            raise ValueError(f"hours: {hours!r} is out of range")
        t_k = temperature_degC + 273.15
        if not t_k > 0:
            raise ValueError(f"temperature_degC: {temperature_degC!r} is below absolute zero")
        rate = _arrhenius(_ACTIVATION_EA_KJ, t_k, self.activation_ref_c)
        rate *= 1.0 if vacuum else _NO_VACUUM_FACTOR
        emptied = 1.0 - (1.0 - self.activation_fraction) * math.exp(-rate * hours)
        over = min((temperature_degC - self.stability_limit_c) / _COLLAPSE_WIDTH_C, _MAX_EXPONENT)
        intact = self.intact_fraction * math.exp(-_COLLAPSE_RATE_PER_H * math.exp(over) * hours)
        return replace(
            self,
            as_made_fractions=dict(self.as_made_fractions),
            activation_fraction=emptied,
            intact_fraction=intact,
            activation_history=[
                *self.activation_history,
                (float(temperature_degC), float(hours), bool(vacuum)),
            ],
        )


def _gas(gas: str) -> str:
    for g in GASES:
        if gas.strip().upper() == g.upper():
            return g
    raise ValueError(f"gas: {gas!r} is not one of {', '.join(GASES)}")


def _check_state(temperature_k: float, pressure_pa: float) -> None:
    if not temperature_k > 0:
        raise ValueError(f"temperature_k: {temperature_k!r} must be above 0 K")
    if not pressure_pa >= 0:
        raise ValueError(f"pressure_pa: {pressure_pa!r} must not be negative")


# -- synthesis ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Noise:
    """Batch-to-batch multipliers (all 1 for the noise-free truth)."""

    rates: tuple[float, ...] = (1.0,) * (len(FAMILIES) + 1)
    decomposition: tuple[float, ...] = (1.0,) * len(FAMILIES)
    defects: float = 1.0
    capacity: float = 1.0
    affinity_co2: float = 1.0
    affinity_n2: float = 1.0
    size: float = 1.0
    recovery: float = 1.0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Noise:
        def ln(sigma: float, n: int | None = None) -> Any:
            z = rng.normal(0.0, sigma, size=n)
            return tuple(float(v) for v in np.exp(z)) if n is not None else float(np.exp(z))

        return cls(
            rates=ln(0.12, len(FAMILIES) + 1),
            decomposition=ln(0.12, len(FAMILIES)),
            defects=ln(0.08),
            capacity=ln(0.025),
            affinity_co2=ln(0.03),
            affinity_n2=ln(0.03),
            size=ln(0.2),
            recovery=ln(0.05),
        )


def synthesize(
    conditions: SynthesisConditions | Mapping[str, Any],
    rng: np.random.Generator | None = None,
) -> Material:
    """What the reactor really made. `rng=None` gives the noise-free truth of the conditions."""
    c = (
        conditions
        if isinstance(conditions, SynthesisConditions)
        else SynthesisConditions.from_mapping(conditions)
    )
    noise = _Noise.draw(rng) if rng is not None else _Noise()
    families = list(FAMILIES.values())
    slices = c.time_slices()

    # integrated crystallisation "k t" of each route, and decomposition of each framework
    integrals: list[float] = []
    for i, f in enumerate(families):
        cf = f.condition_factor(c.solvent, c.ratio, c.modulator_eq) * noise.rates[i]
        integrals.append(cf * sum(dt * f.crystallisation_rate_per_h(tk) for dt, tk in slices))
    ox_factor = (
        _OXIDE_SOLVENT[c.solvent]
        * (c.ratio / _OXIDE_RATIO_REF) ** _OXIDE_RATIO_POWER
        / (1.0 + c.modulator_eq / _OXIDE_MODULATOR_EQ)
        * noise.rates[-1]
    )
    integrals.append(
        ox_factor
        * _OXIDE_K_REF_PER_H
        * sum(dt * _arrhenius(_OXIDE_EA_KJ, tk, _OXIDE_T_REF_C) for dt, tk in slices)
    )
    decomposed = [
        noise.decomposition[i] * sum(dt * f.decomposition_rate_per_h(tk) for dt, tk in slices)
        for i, f in enumerate(families)
    ]

    total = sum(integrals)
    powered = [v**_AVRAMI_SHARPNESS for v in integrals]
    norm = sum(powered)
    shares = [p / norm if norm > 0 else 0.0 for p in powered]
    n_eff = sum(s * f.avrami_n for s, f in zip(shares, families, strict=False)) + shares[-1] * 2.0
    converted = 1.0 - math.exp(-(min(total, 1e3) ** max(n_eff, 1.0))) if total > 0 else 0.0

    # dry masses of each phase (g)
    metal, linker = c.amounts_mol()
    masses: dict[str, float] = {AMORPHOUS: 0.0, DENSE: 0.0, OXIDE: 0.0}
    for i, f in enumerate(families):
        made = converted * shares[i] * min(metal, linker * f.stoichiometry) * f.g_per_mol_metal
        survive = math.exp(-decomposed[i])
        masses[f.name] = made * survive
        masses[f.decomposes_to] += made * (1.0 - survive) * _DECOMPOSED_MASS_KEPT
    masses[OXIDE] += converted * shares[-1] * metal * _OXIDE_G_PER_MOL_METAL
    masses[AMORPHOUS] += (1.0 - converted) * _GEL_PRECIPITATED * metal * _GEL_G_PER_MOL_METAL
    dry = sum(masses.values())
    if dry <= 0:
        fractions = {AMORPHOUS: 1.0} | {f.name: 0.0 for f in families} | {DENSE: 0.0, OXIDE: 0.0}
    else:
        fractions = {k: v / dry for k, v in masses.items()}

    # the framework type is the MOF that nucleated most (it sets the isotherm's shape)
    fam = max(families, key=lambda f: fractions[f.name])
    x = fractions[fam.name]
    defects = fam.defect_density(c.modulator_eq) * noise.defects
    quality = x * fam.defect_factor(defects) * noise.capacity
    co2 = _with_affinity(fam.co2.scaled(quality), noise.affinity_co2)
    n2 = _with_affinity(fam.n2.scaled(quality), noise.affinity_n2)
    background = sum(fractions[k] * a for k, a in _BACKGROUND_AREA_M2_G.items())
    solvent_density = SOLVENT_DENSITY_G_ML[c.solvent]
    # the framework's pores scale as its capacities do: the N2 it holds at saturation
    # (q_sat1 + q_sat2) stays within its pore volume filled with liquid N2
    pore_volume = fam.pore_volume_cm3_g * quality
    minor = sum(fractions[f.name] * f.pore_volume_cm3_g for f in families if f.name != fam.name)
    pore_solvent = (pore_volume + minor) * solvent_density + sum(
        fractions[k] * w for k, w in _BACKGROUND_SOLVENT_G_G.items()
    )
    # modulators grow fewer, bigger crystals; heat nucleates many small ones
    size = (
        (1.0 + c.modulator_eq / 10.0) ** 0.5
        * math.exp(-(c.temperature_c - 120.0) / 120.0)
        * noise.size
    )
    return Material(
        family=fam.name,
        as_made_fractions=fractions,
        defect_density=defects,
        crystal_size_um=size,
        co2_full=co2,
        n2_full=n2,
        porous_area_m2_g=fam.bet_m2_g * quality,
        background_area_m2_g=background,
        stability_limit_c=fam.stability_limit_c - _DEFECT_DESTABILISATION_C * defects,
        pore_solvent=c.solvent,
        activation_ref_c=SOLVENT_BOILING_C[c.solvent] + fam.activation_extra_c,
        tau_co2_s=fam.tau_co2_s,
        tau_n2_s=fam.tau_n2_s,
        dry_mass_g=dry * _RECOVERY * noise.recovery,
        pore_solvent_g_g=pore_solvent,
        framework_pore_volume_cm3_g=pore_volume,
        conditions=c,
        activation_fraction=0.0,
    )


def _with_affinity(iso: DualSiteLangmuir, factor: float) -> DualSiteLangmuir:
    return DualSiteLangmuir(
        iso.q_sat1, iso.b1_0 * factor, iso.heat1, iso.q_sat2, iso.b2_0 * factor, iso.heat2
    )


# -- the landscape -------------------------------------------------------------------------------
# A literature-like recipe for each family, within a few % of that family's best uptake
# anywhere in the demo search space (checked by random search in the tests).
RECIPES: dict[str, SynthesisConditions] = {
    "HKUST-1": SynthesisConditions(100.0, 24.0, 1.5, 10.0, "EtOH"),
    "Mg-MOF-74": SynthesisConditions(125.0, 24.0, 2.5, 0.0, "DMF"),
    "UiO-66": SynthesisConditions(120.0, 24.0, 1.0, 10.0, "DMF"),
    "ZIF-8": SynthesisConditions(100.0, 24.0, 0.5, 0.0, "H2O"),
}


def sample_conditions(rng: np.random.Generator, n: int) -> list[SynthesisConditions]:
    """`n` conditions drawn uniformly over the demo search space (solvent uniform)."""
    lo_t, hi_t = SEARCH_SPACE["temperature_c"]
    lo_h, hi_h = SEARCH_SPACE["time_h"]
    lo_r, hi_r = SEARCH_SPACE["ratio"]
    lo_m, hi_m = SEARCH_SPACE["modulator_eq"]
    temps = rng.uniform(lo_t, hi_t, n)
    hours = rng.uniform(lo_h, hi_h, n)
    ratios = rng.uniform(lo_r, hi_r, n)
    mods = rng.uniform(lo_m, hi_m, n)
    solvents = rng.integers(0, len(SOLVENTS), n)
    return [
        SynthesisConditions(
            float(temps[i]),
            float(hours[i]),
            float(ratios[i]),
            float(mods[i]),
            SOLVENTS[int(solvents[i])],
        )
        for i in range(n)
    ]


def activated_truth(conditions: SynthesisConditions | Mapping[str, Any]) -> Material:
    """The noise-free product after the standard activation: what the planner optimises."""
    return synthesize(conditions).activate(*STANDARD_ACTIVATION)


def noise_free_co2_uptake(conditions: SynthesisConditions | Mapping[str, Any]) -> float:
    """CO2 uptake (mmol/g) at 0.15 bar / 298 K of the noise-free, well-activated product."""
    return activated_truth(conditions).true_uptake_mmol_g("CO2", T_REF_K, 0.15)


def random_condition_fraction_near_best(
    n: int = 20000, seed: int = 0, threshold: float = 0.9
) -> float:
    """Fraction of uniform random conditions whose uptake reaches `threshold` × the best seen.

    A measure of how hard the landscape is: random search needs about 1/fraction tries.
    """
    uptakes = np.array(
        [noise_free_co2_uptake(c) for c in sample_conditions(np.random.default_rng(seed), n)]
    )
    return float(np.mean(uptakes >= threshold * uptakes.max()))
