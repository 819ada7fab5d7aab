"""The plan that doses: the analyzer made ready (bath, manifold, vacuum, zeroed gauges, a
leak check), the free space with helium, then targets along the isotherm, one dose after
another until each is reached; in a dewar, the nitrogen topped up as it boils away; and the
calibration in force recorded with the points."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import bluesky.plan_stubs as bps

from ppu.core.operator import manual_step
from ppu.core.units import Q_
from protocols.sorption.analyzer import (
    FILL_OF_FULL_SCALE,
    HE_FILL_PA,
    MAX_DOSES_PER_TARGET,
    Analyzer,
    Plan,
)
from protocols.sorption.equilibration import Equilibration
from protocols.sorption.thermo import (
    density,
    pressure_at,
    saturation_slope,
    saturation_temperature,
)
from protocols.sorption.volumetric import (
    BATH_TEMPERATURE_ACCURACY_K,
    CELL_P0_ACCURACY_K,
    MANIFOLD_TEMPERATURE_ACCURACY_K,
    RECTANGULAR,
    VOLUME_ACCURACY,
    Cell,
    FreeSpace,
    MassBalance,
    Point,
    free_space,
)


def isotherm_targets(max_pa: float, n: int) -> list[float]:
    """A third of the points geometric from 1 % to 10 % of the top, the rest even up to it."""
    n_low = max(1, n // 3)
    low = (
        [0.05 * max_pa]
        if n_low == 1
        else [0.01 * max_pa * 10 ** (i / (n_low - 1)) for i in range(n_low)]
    )
    n_high = n - n_low
    high = [0.15 * max_pa + (0.85 * max_pa) * i / max(1, n_high - 1) for i in range(n_high)]
    return sorted(set(low + high))


def _dose_plan(
    mb: MassBalance, p_prev: float, target: float, cell_k: float, slope: float, top: float
) -> float:
    """Manifold pressure for a dose from `p_prev` towards `target`: the gas the cell needs,
    plus the uptake the last points' slope (mol/Pa) predicts; never so much that, were nothing
    adsorbed, the cell would pass `p_prev + 2 (target − p_prev)`."""
    g, vm, tm = mb.gas, mb.manifold_m3, mb.manifold_k
    need = mb.gas_needed(p_prev, target, cell_k) + slope * (target - p_prev)
    rho = density(g, tm, target) + need / vm
    bound = max(p_prev + 2 * (target - p_prev), 0.0)
    rho_bound = density(g, tm, bound) + mb.gas_needed(p_prev, bound, cell_k) / vm
    rho = min(rho, rho_bound) if target > p_prev else max(rho, rho_bound)
    return min(max(pressure_at(g, tm, max(rho, 0.0)), 0.0), top)


@dataclass
class Dewar:
    """The kernel's account of the liquid nitrogen: when it was last filled to the mark,
    which filling that is, and how often an operator tops it up."""

    top_up_s: float
    filled_at: float = 0.0
    fills: int = 0

    def elapsed(self, now: float) -> float:
        return now - self.filled_at


@dataclass(frozen=True)
class Run:
    """How one isotherm is measured (the kernel's inputs, in SI)."""

    gas: str
    bath_k: float
    mass_g: float
    targets: list[float]
    desorption: list[float]
    eq: Equilibration
    evacuation_s: float
    sample: str
    cell: Cell
    max_leak_pa_m3_s: float
    relative: bool = False  # targets are fractions of p0, read from the p0 cell


def top_up(a: Analyzer, ctx: Any, dewar: Dewar) -> Plan:
    yield from manual_step(
        ctx,
        f"Top up the liquid nitrogen in the dewar of {a.name} to its mark",
        action="top_up_dewar",
    )
    dewar.filled_at = a.now()
    dewar.fills += 1


def cold_temperature(a: Analyzer, gas: str) -> Plan:
    """(K, ± limit K, p0 Pa) of the cold zone now: in a dewar, the boiling point at the p0
    cell's pressure (the bath's own thermometer) and that reading's limit; else the bath
    controller's reading (or the room, read as the manifold's)."""
    if a.cryogenic:
        p0, gauge = yield from a.p0()
        t = saturation_temperature("N2", p0)
        limit = gauge.accuracy * p0 / saturation_slope("N2", t)
        return t, math.hypot(limit, CELL_P0_ACCURACY_K), p0
    if a.bath is not None:
        return (yield from a.bath_temperature()), BATH_TEMPERATURE_ACCURACY_K, None
    return (yield from a.manifold_temperature()), MANIFOLD_TEMPERATURE_ACCURACY_K, None


def run_isotherm(a: Analyzer, ctx: Any, run: Run, dewar: Dewar | None = None) -> Plan:
    """Ready the analyzer, measure the free space, then dose. Returns (points, free space,
    the calibration record, p0 of the last point or None)."""
    yield from a.close_all()
    if a.cryogenic:
        yield from bps.sleep(900.0)  # the cell, its neck and the p0 cell cool in the dewar
    else:
        yield from a.bath_to(run.bath_k)
    yield from a.manifold_ready()
    yield from a.evacuate(run.evacuation_s)
    yield from a.zero_gauge()

    # free space with helium, the dewar at its mark
    yield from a.select("He")
    top = FILL_OF_FULL_SCALE * a.full_scale_pa
    if dewar is not None:
        yield from top_up(a, ctx, dewar)
    p1 = yield from a.fill_manifold(min(HE_FILL_PA, top))
    t_cell, _, _ = yield from cold_temperature(a, run.gas)
    yield from a.valve("dose", True)
    _, p2 = yield from a.equilibrate(2.0, run.eq.tolerance, 5, 900.0)
    t_after, _, _ = yield from cold_temperature(a, run.gas)
    t_cell = (t_cell + t_after) / 2
    space = free_space(
        a.manifold_m3,
        (yield from a.manifold_temperature()),
        t_cell,
        p1,
        p2,
        cell=run.cell,
        ln2_elapsed_s=dewar.elapsed(a.now()) if dewar else None,
    )
    yield from a.valve("dose", False)
    yield from a.evacuate(max(300.0, run.evacuation_s / 4))
    leak = yield from a.leak_check(
        a.manifold_m3 + space.volume_m3 * t_cell / a.manifold_k, run.max_leak_pa_m3_s
    )

    yield from a.select(run.gas)
    mb = MassBalance(run.gas, a.manifold_m3, space.manifold_k, space)
    points: list[Point] = []
    p_prev = 0.0
    record = calibration_record(a, space, run, leak)
    p0_now: float | None = None
    targets, desorption = list(run.targets), list(run.desorption)
    if run.relative:  # fractions of p0, read now from the p0 cell
        _, _, p0_now = yield from cold_temperature(a, run.gas)
        targets = [x * p0_now for x in targets]
        desorption = [x * p0_now for x in desorption]

    def book(fill: Any, branch: str) -> Plan:
        nonlocal p0_now
        cell_k, cell_limit, _ = yield from cold_temperature(a, run.gas)

        def allowed_pa(p: float) -> float:
            """The pressure change that would still be `eq.uptake_fraction` of the uptake,
            or a third of a step of the gauge reading p, whichever is larger: what a line
            through readings in such steps projects below that is their noise (a sample that
            takes up next to nothing would otherwise wait out every dose)."""
            n = abs(mb.amount(fill, p, cell_k))
            heads = [h for h in a.calibration.heads if p < 0.95 * h.full_scale_pa]
            step = min((h.quantum(p) for h in heads), default=0.0)
            return max(run.eq.uptake_fraction * n / mb.gas_capacity(p, cell_k), step / 3)

        yield from a.valve("dose", True)
        st, eq_reading = yield from a.equilibrate(
            run.eq.interval_s, run.eq.tolerance, run.eq.window, run.eq.max_wait_s, allowed_pa
        )
        after_k, after_limit, p0_now = yield from cold_temperature(a, run.gas)
        cell_k = (cell_k + after_k) / 2
        yield from a.valve("dose", False)
        # the thermostats' temperatures as known now (their run means), for every reading
        mb.manifold_k = yield from a.manifold_temperature()
        mb.space = space.at(mb.manifold_k, space.cell_k if a.cryogenic else cell_k)
        remaining_mol = mb.gas_capacity(st.pressure_pa, cell_k) * st.remaining_pa
        mb.gauge = a.calibration
        mb.cell_accuracy_k = max(cell_limit, after_limit)
        n, sigma = mb.dose(
            fill,
            eq_reading,
            cell_k,
            remaining_mol,
            ln2_elapsed_s=dewar.elapsed(a.now()) if dewar else None,
            ln2_fill=dewar.fills - 1 if dewar else 0,
        )
        p_cold = mb.reported[0]
        to_mmol_g = 1e3 / run.mass_g
        point = Point(
            p_cold,
            n * to_mmol_g,
            sigma * to_mmol_g,
            cell_k,
            branch,
            st.waited_s,
            st.settled,
            p0_now,
        )
        points.append(point)
        readables = [a.gauge, a.manifold]
        if a.bath is not None and not a.cryogenic:
            readables.append(a.bath)
        if a.cryogenic and a.p0_gauge is not None:
            readables.append(a.p0_gauge)
        yield from bps.trigger_and_read(readables)
        label = "uptake" if branch == "adsorption" else "uptake_des"
        extra: dict[str, Any] = {}
        if p0_now is not None:
            extra = {"relative_pressure": p_cold / p0_now, "p0_bar": p0_now / 1e5}
        ctx.measure(
            f"{label}@{p_cold / 1e5:.4g}bar",
            Q_(point.uptake_mmol_g, "mmol/g"),
            sample=run.sample,
            pressure_bar=p_cold / 1e5,
            sigma=point.sigma_mmol_g,
            sigma_parts={k: v * to_mmol_g for k, v in mb.last_parts.items()},
            sigma_pressure_bar=mb.pressure_sigma(eq_reading, cell_k) / 1e5,
            manifold_pressure_bar=eq_reading.pa / 1e5,
            gauge_channel=eq_reading.head,
            gas=run.gas,
            temperature_k=cell_k,
            sigma_temperature_k=mb.cell_accuracy_k / RECTANGULAR,
            manifold_temperature_k=mb.manifold_k,
            branch=branch,
            point=len(points),
            equilibration_s=st.waited_s,
            equilibrated=st.settled,
            still_to_come_mmol_g=remaining_mol * to_mmol_g,
            relaxation_time_s=st.tau_s,
            calibration=record | {"gauge_noise_pa": mb.gauge.noise},
            **extra,
        )
        return p_cold

    def slope_now() -> float:
        """Uptake per Pa between the last two points (mol/Pa), never negative."""
        if len(points) < 2:
            return 0.0
        a1, a2 = points[-2], points[-1]
        dp = a2.pressure_pa - a1.pressure_pa
        if dp == 0:
            return 0.0
        return max(0.0, (a2.uptake_mmol_g - a1.uptake_mmol_g) * run.mass_g * 1e-3 / dp)

    def nitrogen() -> Plan:
        if dewar is not None and dewar.elapsed(a.now()) >= dewar.top_up_s:
            yield from top_up(a, ctx, dewar)

    exhausted = False
    for target in targets:
        for _ in range(MAX_DOSES_PER_TARGET):
            if exhausted or p_prev >= target * 0.98:
                break
            yield from nitrogen()
            cell_k, _, _ = yield from cold_temperature(a, run.gas)
            p_want = _dose_plan(mb, p_prev, target, cell_k, slope_now(), top)
            fill = yield from a.fill_manifold(p_want)
            if fill.pa <= (mb.doses[-1].eq.pa if mb.doses else 0.0) * 1.002:
                exhausted = True  # the supply cannot push the cell any higher
                break
            p_prev = yield from book(fill, "adsorption")

    for target in desorption:
        if target >= p_prev:
            continue
        yield from nitrogen()
        cell_k, _, _ = yield from cold_temperature(a, run.gas)
        p_want = _dose_plan(mb, p_prev, target, cell_k, slope_now(), top)
        fill = yield from a.pump_manifold(p_want)
        p_prev = yield from book(fill, "desorption")

    yield from a.close_all()
    return points, space, record | {"gauge_noise_pa": a.calibration.noise}, p0_now


def calibration_record(a: Analyzer, space: FreeSpace, run: Run, leak: float) -> dict[str, Any]:
    """The calibration in force for a run, as every stored point's provenance carries it."""
    eq = run.eq
    return {
        "manifold_volume_ml": a.manifold_m3 * 1e6,
        "manifold_volume_accuracy": VOLUME_ACCURACY,
        "manifold_setpoint_k": a.manifold_k,
        "manifold_temperature_accuracy_k": MANIFOLD_TEMPERATURE_ACCURACY_K,
        "free_volume_ml": space.volume_m3 * 1e6,
        "free_space_cell_k": space.cell_k,
        "gauge": a.gauge.name,
        "gauge_full_scale_pa": [g.full_scale * a.to_pa for g in a.gauge.gauges],
        "gauge_accuracy": [g.accuracy for g in a.gauge.gauges],
        "gauge_step_pa": [g.step * a.to_pa for g in a.gauge.gauges],
        "cell_stem_diameter_mm": run.cell.stem_diameter_m * 1e3,
        "transpiration_correction": run.cell.transpiration,
        "ln2_fall_mm_h": run.cell.ln2_fall_m_s * 1e3 * 3600,
        "leak_mbar_l_s": leak * 10.0,
        "equilibration": {
            "interval_s": eq.interval_s,
            "pressure_tolerance": eq.tolerance,
            "window": eq.window,
            "max_wait_s": eq.max_wait_s,
            "uptake_fraction": eq.uptake_fraction,
        },
    }
