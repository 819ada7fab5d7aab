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
from protocols.sorption.plan import Dewar, Run, isotherm_targets, run_isotherm
from protocols.sorption.thermo import LN2_K, saturation_pressure
from protocols.sorption.transpiration import METHODS
from protocols.sorption.volumetric import Cell, interpolate

MIN_SAMPLE_G = 0.005

# The rig's inputs, the same for every sorption kernel (In and Choice are frozen: shareable).
EQUILIBRATION_INTERVAL = In("s", ge="2 s", le="300 s", default="30 s")
EVACUATION = In("min", ge="0 min", le="1440 min", default="30 min")
MANIFOLD_VOLUME = In("mL", ge="1 mL", le="1000 mL", default="25 mL", doc="calibrated")
MANIFOLD_TEMPERATURE = In(
    "K", ge="273.15 K", le="373.15 K", default="308.15 K", doc="the manifold's setpoint"
)
CELL_STEM_DIAMETER = In(
    "mm",
    ge="1 mm",
    le="30 mm",
    default="6 mm",
    doc="inner diameter of the cell's stem: thermal transpiration, and the cold volume "
    "a falling nitrogen level gives up",
)
TRANSPIRATION_CORRECTION = Choice(METHODS, default="weber-schmidt")
MAX_LEAK = In(
    "mbar*L/s",
    ge="1e-10 mbar*L/s",
    le="1e-3 mbar*L/s",
    default="1e-7 mbar*L/s",
    doc="the rate-of-rise check before dosing refuses more",
)
LN2_FALL = In(
    "mm/h", ge="0 mm/h", le="100 mm/h", default="3 mm/h", doc="the dewar's boil-off, nominal"
)
DEWAR_TOP_UP = In("h", ge="0.1 h", le="48 h", default="2 h", doc="how often to top it up")


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
            f"no bath for {kelvin:g} K: the controller holds 273–353 K, the dewar boils "
            "nitrogen at about 77 K"
        )
    return False, kelvin


def _fill_dewar(a: Analyzer, ctx: Any, top_up_s: float) -> Plan:
    a.cryogenic = True
    if a.p0_gauge is None:
        raise ValueError(
            f"{a.name}: a measurement at 77 K needs a saturation-pressure (p0) cell with its "
            "manometer, device 'p0_gauge': liquid nitrogen boils at the day's pressure, not "
            f"at a fixed {LN2_K} K"
        )
    yield from manual_step(
        ctx,
        f"Fill the dewar of {a.name} with liquid nitrogen and raise it around the sample cell",
        action="fill_dewar",
    )
    return Dewar(top_up_s, filled_at=a.now(), fills=1)


def _remove_dewar(a: Analyzer, ctx: Any) -> Plan:
    yield from manual_step(ctx, f"Lower the dewar of {a.name}", action="remove_dewar")
    a.cryogenic = False


def _cell(stem: Any, correction: str, fall: Any, cryogenic: bool) -> Cell:
    return Cell(
        stem_diameter_m=stem.m_as("m"),
        transpiration=correction,
        ln2_fall_m_s=fall.m_as("m/s") if cryogenic else 0.0,
    )


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
    equilibration_interval=EQUILIBRATION_INTERVAL,
    equilibrium_tolerance=In(
        "",
        ge=1e-6,
        le=1e-2,
        default=1e-4,
        doc="equilibrium: pressure change per interval below this fraction of the pressure",
    ),
    max_equilibration=In("min", ge="1 min", le="600 min", default="120 min"),
    evacuation=EVACUATION,
    manifold_volume=MANIFOLD_VOLUME,
    manifold_temperature=MANIFOLD_TEMPERATURE,
    cell_stem_diameter=CELL_STEM_DIAMETER,
    transpiration_correction=TRANSPIRATION_CORRECTION,
    max_leak=MAX_LEAK,
    ln2_fall=LN2_FALL,
    dewar_top_up=DEWAR_TOP_UP,
):
    """A volumetric adsorption isotherm: helium free space, a leak check, then dose after
    dose to `max_pressure`, each booked by a real-gas mass balance with its 1σ (one
    measurement per point: `uptake@<p>bar`, with pressure, σ and temperature in its
    provenance). At 77 K the dewar's p0 cell gives the bath's temperature."""
    start = ctx.now()
    cryogenic, bath_k = _bath_for(gas, temperature.m_as("K"))
    a = Analyzer(instrument, ctx, manifold_volume.m_as("m^3"), manifold_temperature.m_as("K"))
    mass_g = _sample_mass_g(ctx, sample)
    max_pa = max_pressure.m_as("Pa")
    if cryogenic:  # fractions of p0, which the p0 cell will say
        top = min(max_pa / saturation_pressure(gas, LN2_K), 0.95)
        targets = isotherm_targets(top, points)
        desorption = [top * f for f in desorption_fractions(desorption_points)]
    else:
        targets = isotherm_targets(max_pa, points)
        desorption = [max_pa * f for f in desorption_fractions(desorption_points)]
    run = Run(
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
        cell=_cell(cell_stem_diameter, transpiration_correction, ln2_fall, cryogenic),
        max_leak_pa_m3_s=max_leak.m_as("Pa*m^3/s"),
        relative=cryogenic,
    )
    home = yield from _load(a, ctx, sample)
    dewar = None
    if cryogenic:
        dewar = yield from _fill_dewar(a, ctx, dewar_top_up.m_as("s"))
    pts, space, record, _ = yield from run_isotherm(a, ctx, run, dewar)
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
            temperature_k=pts[-1].cell_k if pts else bath_k,
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
    equilibration_interval=EQUILIBRATION_INTERVAL,
    equilibrium_tolerance=In("", ge=1e-6, le=1e-2, default=1e-4),
    max_equilibration=In("min", ge="1 min", le="600 min", default="180 min"),
    evacuation=EVACUATION,
    manifold_volume=MANIFOLD_VOLUME,
    manifold_temperature=MANIFOLD_TEMPERATURE,
    cell_stem_diameter=CELL_STEM_DIAMETER,
    transpiration_correction=TRANSPIRATION_CORRECTION,
    max_leak=MAX_LEAK,
    ln2_fall=LN2_FALL,
    dewar_top_up=DEWAR_TOP_UP,
):
    """BET area from an N2 isotherm at 77 K (the operator fills the dewar, and tops it up):
    points in p/p0 0.05–0.3 (and a few below for microporous solids), p0 read from the
    dewar's saturation-pressure cell at every point, the cold cell's pressure corrected
    for thermal transpiration; the linear BET fit in the range the Rouquerol criteria
    choose (pyGAPS)."""
    start = ctx.now()
    a = Analyzer(instrument, ctx, manifold_volume.m_as("m^3"), manifold_temperature.m_as("K"))
    mass_g = _sample_mass_g(ctx, sample)
    n_low = low_points
    n_std = points
    low = [0.005 * 10 ** (i / max(1, n_low)) for i in range(n_low)]  # 0.005 … < 0.05
    std = [0.05 + 0.25 * i / max(1, n_std - 1) for i in range(n_std)]
    run = Run(
        gas="N2",
        bath_k=LN2_K,
        mass_g=mass_g,
        targets=low + std,
        desorption=[],
        eq=Equilibration(
            equilibration_interval.m_as("s"),
            equilibrium_tolerance.m_as(""),
            max_equilibration.m_as("s"),
        ),
        evacuation_s=evacuation.m_as("s"),
        sample=sample,
        cell=_cell(cell_stem_diameter, transpiration_correction, ln2_fall, True),
        max_leak_pa_m3_s=max_leak.m_as("Pa*m^3/s"),
        relative=True,
    )
    home = yield from _load(a, ctx, sample)
    dewar = yield from _fill_dewar(a, ctx, dewar_top_up.m_as("s"))
    pts, space, record, p0 = yield from run_isotherm(a, ctx, run, dewar)
    yield from _remove_dewar(a, ctx)
    yield from _unload(a, ctx, sample, home)
    usable = [p for p in pts if p.p0_pa and 0 < p.pressure_pa < 0.5 * p.p0_pa]
    if len(usable) < 3:
        raise SampleFailed(
            f"sample {sample}: {len(usable)} points below p/p0 0.5, too few for a BET fit"
        )
    fit = bet_fit(
        [p.pressure_pa / p.p0_pa for p in usable],  # type: ignore[operator]
        [p.uptake_mmol_g for p in usable],
        material=sample,
        temperature_k=sum(p.cell_k for p in usable) / len(usable),
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
        p0_bar=None if p0 is None else p0 / 1e5,
        temperature_k=usable[-1].cell_k,
        calibration=record,
    )
    return {
        "bet_area": area,
        "bet_c": Q_(fit["c"], ""),
        "free_volume": Q_(space.volume_m3 * 1e6, "mL"),
        "duration": Q_((ctx.now() - start) / 3600.0, "h"),
    }
