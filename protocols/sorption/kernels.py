"""The sorption kernels: `measure_isotherm` and `measure_bet`, with the sample's loading, the
bath or the dewar, and what each stores."""

from __future__ import annotations

import math
from typing import Any

from ppu.core.errors import SampleFailed
from ppu.core.kernels import Choice, Count, In, Uses, kernel
from ppu.core.operator import manual_step
from ppu.core.units import Q_
from protocols.sorption.analyzer import Analyzer, Plan
from protocols.sorption.bet import bet_fit, desorption_fractions
from protocols.sorption.equilibration import Equilibration
from protocols.sorption.plan import isotherm_targets, run_isotherm
from protocols.sorption.thermo import LN2_K, saturation_pressure
from protocols.sorption.volumetric import interpolate

MIN_SAMPLE_G = 0.005


def _sample_mass_g(ctx: Any, sample: str) -> float:
    s = ctx.samples_in.get("sample")
    if s is None or s.mass_value is None:
        raise ValueError(f"sample {sample} has no recorded mass: weigh it first")
    grams = float(Q_(s.mass_value, s.mass_unit or "g").m_as("g"))
    if grams < MIN_SAMPLE_G:
        # an empty vial, or next to nothing: uptake per gram would be noise over zero
        raise SampleFailed(
            f"sample {sample} weighs {grams * 1000:.2g} mg, below the "
            f"{MIN_SAMPLE_G * 1000:g} mg an isotherm needs"
        )
    return grams


def _load(a: Analyzer, ctx: Any, sample: str) -> Plan:
    """Ask for the sample to be put in the cell; returns where it came from."""
    cell = f"{a.name}:cell"
    home = ctx.location_of(sample)
    if home is None:
        raise ValueError(f"sample {sample}: where it is is not recorded")
    if home != cell:
        yield from manual_step(
            ctx, f"Load {sample} into the sample cell of {a.name}", move=(home, cell)
        )
    return home


def _unload(a: Analyzer, ctx: Any, sample: str, home: str) -> Plan:
    cell = f"{a.name}:cell"
    if home != cell:
        yield from manual_step(
            ctx, f"Vent the cell of {a.name} and return {sample} to {home}", move=(cell, home)
        )


def _bath_for(gas: str, kelvin: float) -> tuple[bool, float]:
    """(cryogenic, bath temperature): 77 K is a liquid-nitrogen dewar, the rest a controller."""
    if abs(kelvin - LN2_K) <= 1.0:
        if gas == "CO2":
            raise ValueError("CO2 freezes at 77 K: measure it between 273 and 353 K")
        return True, LN2_K
    if not 273.15 <= kelvin <= 353.15:
        raise ValueError(
            f"no bath for {kelvin:g} K: the controller holds 273–353 K, the dewar 77.35 K"
        )
    return False, kelvin


def _fill_dewar(a: Analyzer, ctx: Any) -> Plan:
    a.cryogenic = True
    yield from manual_step(
        ctx,
        f"Fill the dewar of {a.name} with liquid nitrogen and raise it around the sample cell",
        action="fill_dewar",
    )


def _remove_dewar(a: Analyzer, ctx: Any) -> Plan:
    yield from manual_step(ctx, f"Lower the dewar of {a.name}", action="remove_dewar")
    a.cryogenic = False


@kernel(
    role="sorption",
    rerun_safe=True,
    outputs={
        "uptake_0p15bar": "mmol/g",
        "uptake_1bar": "mmol/g",
        "free_volume": "mL",
        "duration": "h",
    },
)
def measure_isotherm(
    instrument,
    ctx,
    sample=Uses("activated"),
    gas=Choice(("CO2", "N2"), default="CO2"),
    temperature=In("K", ge="77 K", le="353.15 K", default="298.15 K", doc="bath temperature"),
    max_pressure=In("bar", ge="0.05 bar", le="1.1 bar", default="1 bar"),
    points=Count(ge=3, le=40, default=12, doc="target pressures on the adsorption branch"),
    desorption_points=Count(ge=0, le=20, default=0),
    equilibration_interval=In("s", ge="2 s", le="300 s", default="30 s"),
    equilibrium_tolerance=In(
        "",
        ge=1e-6,
        le=1e-2,
        default=1e-4,
        doc="equilibrium: pressure change per interval below this fraction of the pressure",
    ),
    max_equilibration=In("min", ge="1 min", le="600 min", default="120 min"),
    evacuation=In("min", ge="0 min", le="1440 min", default="30 min"),
    manifold_volume=In("mL", ge="1 mL", le="1000 mL", default="25 mL", doc="calibrated"),
    manifold_temperature=In("K", ge="273.15 K", le="373.15 K", default="308.15 K"),
):
    """A volumetric adsorption isotherm: helium free space, then dose after dose to
    `max_pressure`, each booked by a real-gas mass balance with its 1σ (one measurement per
    point: `uptake@<p>bar`, with pressure, σ and temperature in its provenance)."""
    start = ctx.now()
    cryogenic, bath_k = _bath_for(gas, temperature.m_as("K"))
    a = Analyzer(instrument, ctx, manifold_volume.m_as("m^3"), manifold_temperature.m_as("K"))
    mass_g = _sample_mass_g(ctx, sample)
    max_pa = max_pressure.m_as("Pa")
    p0 = saturation_pressure(gas, bath_k) if cryogenic else None
    if p0 is not None:
        max_pa = min(max_pa, 0.95 * p0)
    n_des = desorption_points
    targets = isotherm_targets(max_pa, points)
    desorption = [max_pa * f for f in desorption_fractions(n_des)]
    home = yield from _load(a, ctx, sample)
    if cryogenic:
        yield from _fill_dewar(a, ctx)
    pts, space, record = yield from run_isotherm(
        a,
        ctx,
        gas=gas,
        bath_k=bath_k,
        mass_g=mass_g,
        targets=targets,
        desorption=desorption,
        eq=Equilibration(
            equilibration_interval.m_as("s"),
            equilibrium_tolerance.m_as(""),
            max_equilibration.m_as("s"),
        ),
        evacuation_s=evacuation.m_as("s"),
        sample=sample,
        p0=p0,
    )
    if cryogenic:
        yield from _remove_dewar(a, ctx)
    yield from _unload(a, ctx, sample, home)
    outputs: dict[str, Any] = {}
    for name, p_bar in (("uptake_0p15bar", 0.15), ("uptake_1bar", 1.0)):
        value, sigma = interpolate(pts, p_bar * 1e5)
        q = Q_(value, "mmol/g")  # NaN when the isotherm does not reach that pressure
        ctx.measure(
            name,
            q,
            sample=sample,
            sigma=None if math.isnan(sigma) else sigma,
            pressure_bar=p_bar,
            gas=gas,
            temperature_k=bath_k,
            interpolated=True,
            calibration=record,
        )
        outputs[name] = q
    outputs["free_volume"] = Q_(space.volume_m3 * 1e6, "mL")
    outputs["duration"] = Q_((ctx.now() - start) / 3600.0, "h")
    return outputs


@kernel(
    role="sorption",
    rerun_safe=True,
    outputs={"bet_area": "m^2/g", "bet_c": "", "free_volume": "mL", "duration": "h"},
)
def measure_bet(
    instrument,
    ctx,
    sample=Uses("activated"),
    points=Count(ge=3, le=30, default=6, doc="points between 0.05 and 0.3 p/p0"),
    low_points=Count(
        ge=0,
        le=10,
        default=3,
        doc="points from 0.005 to 0.05 p/p0, where a microporous solid's BET range lies",
    ),
    equilibration_interval=In("s", ge="2 s", le="300 s", default="30 s"),
    equilibrium_tolerance=In("", ge=1e-6, le=1e-2, default=1e-4),
    max_equilibration=In("min", ge="1 min", le="600 min", default="180 min"),
    evacuation=In("min", ge="0 min", le="1440 min", default="30 min"),
    manifold_volume=In("mL", ge="1 mL", le="1000 mL", default="25 mL", doc="calibrated"),
    manifold_temperature=In("K", ge="273.15 K", le="373.15 K", default="308.15 K"),
):
    """BET area from an N2 isotherm at 77 K (the operator fills the dewar): points in p/p0
    0.05–0.3 (and a few below for microporous solids), the linear BET fit in the range the
    Rouquerol criteria choose (pyGAPS)."""
    start = ctx.now()
    a = Analyzer(instrument, ctx, manifold_volume.m_as("m^3"), manifold_temperature.m_as("K"))
    mass_g = _sample_mass_g(ctx, sample)
    p0 = saturation_pressure("N2", LN2_K)
    n_low = low_points
    n_std = points
    low = [0.005 * 10 ** (i / max(1, n_low)) for i in range(n_low)]  # 0.005 … < 0.05
    std = [0.05 + 0.25 * i / max(1, n_std - 1) for i in range(n_std)]
    home = yield from _load(a, ctx, sample)
    yield from _fill_dewar(a, ctx)
    pts, space, record = yield from run_isotherm(
        a,
        ctx,
        gas="N2",
        bath_k=LN2_K,
        mass_g=mass_g,
        targets=[x * p0 for x in low + std],
        desorption=[],
        eq=Equilibration(
            equilibration_interval.m_as("s"),
            equilibrium_tolerance.m_as(""),
            max_equilibration.m_as("s"),
        ),
        evacuation_s=evacuation.m_as("s"),
        sample=sample,
        p0=p0,
    )
    yield from _remove_dewar(a, ctx)
    yield from _unload(a, ctx, sample, home)
    usable = [p for p in pts if 0 < p.pressure_pa < 0.5 * p0]
    fit = bet_fit(
        [p.pressure_pa / p0 for p in usable],
        [p.uptake_mmol_g for p in usable],
        material=sample,
    )
    area = Q_(fit["area"], "m^2/g")
    ctx.measure(
        "bet_area",
        area,
        sample=sample,
        bet_c=fit["c"],
        corr_coef=fit["corr_coef"],
        range_p_p0=list(fit["range"]),
        rouquerol=fit["rouquerol"],
        n_monolayer_mmol_g=fit["n_monolayer_mmol_g"],
        p0_pa=p0,
        calibration=record,
    )
    return {
        "bet_area": area,
        "bet_c": Q_(fit["c"], ""),
        "free_volume": Q_(space.volume_m3 * 1e6, "mL"),
        "duration": Q_((ctx.now() - start) / 3600.0, "h"),
    }
