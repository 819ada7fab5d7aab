"""The plan that doses: targets along the isotherm, one dose after another until each is
reached, and the calibration in force recorded with the points."""

from __future__ import annotations

import math
from typing import Any

import bluesky.plan_stubs as bps

from ppu.core.units import Q_
from protocols.sorption.analyzer import (
    FILL_OF_FULL_SCALE,
    FILL_READINGS,
    HE_FILL_PA,
    MAX_DOSES_PER_TARGET,
    Analyzer,
    Plan,
)
from protocols.sorption.equilibration import Equilibration
from protocols.sorption.thermo import density, pressure_at
from protocols.sorption.volumetric import (
    GAUGE_ACCURACY,
    VOLUME_ACCURACY,
    FreeSpace,
    MassBalance,
    Point,
    Reading,
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


def run_isotherm(
    a: Analyzer,
    ctx: Any,
    *,
    gas: str,
    bath_k: float,
    mass_g: float,
    targets: list[float],
    desorption: list[float],
    eq: Equilibration,
    evacuation_s: float,
    sample: str,
    p0: float | None = None,
) -> Plan:
    """Free space, then the doses. Returns (points, free space)."""
    yield from a.close_all()
    if a.cryogenic:
        yield from bps.sleep(900.0)  # the cell and its neck come to the dewar's temperature
    else:
        yield from a.bath_to(bath_k)
    yield from a.evacuate(evacuation_s)

    # free space with helium
    yield from a.select("He")
    top = FILL_OF_FULL_SCALE * a.full_scale_pa
    p1 = yield from a.fill_manifold(min(HE_FILL_PA, top))
    t_cell = yield from a.cell_temperature()
    yield from a.valve("dose", True)
    he = yield from a.equilibrate(2.0, eq.tolerance, 5, 900.0)
    t_cell = (t_cell + (yield from a.cell_temperature())) / 2
    space = free_space(
        a.manifold_m3,
        a.manifold_k,
        t_cell,
        Reading(p1, 1 / FILL_READINGS),
        Reading(he.pressure_pa, he.weight, he.drift_pa),
    )
    yield from a.valve("dose", False)
    yield from a.evacuate(max(300.0, evacuation_s / 4))

    yield from a.select(gas)
    mb = MassBalance(gas, a.manifold_m3, a.manifold_k, space)
    points: list[Point] = []
    p_prev = 0.0
    record = calibration_record(a, space, eq)

    def book(p_fill: float, branch: str) -> Plan:
        cell_k = yield from a.cell_temperature()

        def allowed_pa(p: float) -> float:
            """The pressure change that would still be `eq.uptake_fraction` of the uptake."""
            n = abs(mb.amount(p_fill, p, cell_k))
            return eq.uptake_fraction * n / mb.gas_capacity(p, cell_k)

        yield from a.valve("dose", True)
        st = yield from a.equilibrate(
            eq.interval_s, eq.tolerance, eq.window, eq.max_wait_s, allowed_pa
        )
        cell_k = (cell_k + (yield from a.cell_temperature())) / 2
        yield from a.valve("dose", False)
        p_eq = st.pressure_pa
        remaining_mol = mb.gas_capacity(p_eq, cell_k) * st.remaining_pa
        mb.gauge = a.calibration
        eq_reading = Reading(p_eq, st.weight, st.drift_pa)
        n, sigma = mb.dose(Reading(p_fill, 1 / FILL_READINGS), eq_reading, cell_k, remaining_mol)
        to_mmol_g = 1e3 / mass_g
        point = Point(
            p_eq, n * to_mmol_g, sigma * to_mmol_g, cell_k, branch, st.waited_s, st.settled
        )
        points.append(point)
        yield from bps.trigger_and_read(
            [a.gauge] if a.cryogenic or a.bath is None else [a.gauge, a.bath]
        )
        label = "uptake" if branch == "adsorption" else "uptake_des"
        extra = {} if p0 is None else {"relative_pressure": p_eq / p0}
        u_p = math.sqrt((mb.gauge.gain_u * p_eq) ** 2 + mb.gauge.variance(eq_reading))
        ctx.measure(
            f"{label}@{p_eq / 1e5:.4g}bar",
            Q_(point.uptake_mmol_g, "mmol/g"),
            sample=sample,
            pressure_bar=p_eq / 1e5,
            sigma=point.sigma_mmol_g,
            sigma_parts={k: v * to_mmol_g for k, v in mb.last_parts.items()},
            sigma_pressure_bar=u_p / 1e5,
            gas=gas,
            temperature_k=cell_k,
            branch=branch,
            point=len(points),
            equilibration_s=st.waited_s,
            equilibrated=st.settled,
            still_to_come_mmol_g=remaining_mol * to_mmol_g,
            relaxation_time_s=st.tau_s,
            calibration=record | {"gauge_noise": mb.gauge.noise},
            **extra,
        )
        return p_eq

    def slope_now() -> float:
        """Uptake per Pa between the last two points (mol/Pa), never negative."""
        if len(points) < 2:
            return 0.0
        a1, a2 = points[-2], points[-1]
        dp = a2.pressure_pa - a1.pressure_pa
        if dp == 0:
            return 0.0
        return max(0.0, (a2.uptake_mmol_g - a1.uptake_mmol_g) * mass_g * 1e-3 / dp)

    exhausted = False
    for target in targets:
        for _ in range(MAX_DOSES_PER_TARGET):
            if exhausted or p_prev >= target * 0.98:
                break
            cell_k = yield from a.cell_temperature()
            p_want = _dose_plan(mb, p_prev, target, cell_k, slope_now(), top)
            p_fill = yield from a.fill_manifold(p_want)
            if p_fill <= p_prev * 1.002:
                exhausted = True  # the supply cannot push the cell any higher
                break
            p_prev = yield from book(p_fill, "adsorption")

    for target in desorption:
        if target >= p_prev:
            continue
        cell_k = yield from a.cell_temperature()
        p_want = _dose_plan(mb, p_prev, target, cell_k, slope_now(), top)
        p_fill = yield from a.pump_manifold(p_want)
        p_prev = yield from book(p_fill, "desorption")

    yield from a.close_all()
    return points, space, record | {"gauge_noise": a.calibration.noise}


def calibration_record(a: Analyzer, space: FreeSpace, eq: Equilibration) -> dict[str, Any]:
    """The calibration in force for a run, as every stored point's provenance carries it."""
    return {
        "manifold_volume_ml": a.manifold_m3 * 1e6,
        "manifold_volume_accuracy": VOLUME_ACCURACY,
        "manifold_temperature_k": a.manifold_k,
        "free_volume_ml": space.volume_m3 * 1e6,
        "gauge_model": getattr(getattr(a.gauge, "gauge_model", None), "name", None),
        "gauge_unit": a.gauge.unit,
        "gauge_digits": a.digits,
        "gauge_accuracy": GAUGE_ACCURACY,
        "equilibration": {
            "interval_s": eq.interval_s,
            "pressure_tolerance": eq.tolerance,
            "window": eq.window,
            "max_wait_s": eq.max_wait_s,
            "uptake_fraction": eq.uptake_fraction,
        },
    }
