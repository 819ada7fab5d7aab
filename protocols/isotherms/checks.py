"""What an adsorption isotherm must be before it is analysed (else it is refused, naming the
file), and what makes one doubtful (a warning carried with the result).

Refused: negative pressures; an adsorption branch whose loading falls with pressure beyond
the noise where the gas is near-ideal; a gas measured where it would be condensed (CO2 at
77 K is a solid; "25 K" is most likely 25 °C written as K). Doubtful: more adsorbed than the
gas as a liquid could fill into the most porous solid known; loadings below zero beyond the
noise."""

from __future__ import annotations

import math
from typing import Any

from ppu.core.errors import BadInput
from protocols.isotherms.reading import branch_points, branch_sigmas, gas_label, pygaps_said

R = 8.314462618  # J/(mol K)

#: pore volume no solid exceeds (DUT-60, about 5.0 cm3/g, is the largest reported): filled
#: with the adsorbate at liquid density it bounds any loading
MAX_PORE_VOLUME_CM3_G = 6.0
#: when the adsorbate's liquid density is not known
MAX_UPTAKE_MMOL_G = 200.0
#: BET areas above this exceed any known solid's (NU-110 ~7100, DUT-60 ~7800 m²/g)
MAX_BET_M2_G = 8000.0
#: the gas phase is near-ideal below this: an excess isotherm cannot pass a maximum there
IDEAL_GAS_BAR = 10.0
#: the noise floor below which a fall in loading is not told from scatter (mmol/g), and the
#: share of the largest loading scatter may reach when the file gives no 1σ
NOISE_MMOL_G = 0.02
NOISE_SHARE = 0.02
#: points this far above the condensation pressure are condensed gas (a warning); this far,
#: no error in the bath temperature explains them (refused)
CONDENSED_ABOVE = 1.1
CONDENSED_REFUSED_ABOVE = 2.0
#: temperatures at or below this, refused as condensed gas, are most likely °C written as K
CELSIUS_AS_KELVIN_BELOW = 60.0


def refuse_impossible(iso: Any, source: str) -> None:
    """BadInput naming `source` when the isotherm (normalized) cannot be an adsorption
    isotherm."""
    kelvin = float(iso.temperature)
    if not math.isfinite(kelvin) or kelvin <= 0:
        raise BadInput(source, f"temperature {kelvin:g} K is not a temperature in K")
    p, n = branch_points(iso)
    for branch in ("ads", "des"):
        bp, _ = branch_points(iso, branch) if iso.has_branch(branch) else ([], [])
        negative = [x for x in bp if x < 0]
        if negative:
            raise BadInput(
                source,
                f"{len(negative)} negative pressure(s), down to {min(negative):.4g} bar: "
                "adsorption pressures are absolute (a gauge reading?)",
            )
    if p:
        _refuse_condensed(iso, source, max(p), CONDENSED_REFUSED_ABOVE)
        _refuse_falling(iso, source, p, n)


def _refuse_condensed(iso: Any, source: str, p_max: float, above: float) -> None:
    gas = gas_label(iso)
    kelvin = float(iso.temperature)
    found = condensation_bar(iso.adsorbate, kelvin)
    if found is None:
        return
    limit, solid = found
    if p_max <= above * limit:
        return
    state = (
        f"{gas} at {kelvin:g} K is a solid (its vapour pressure there is at most {limit:.2g} bar)"
        if solid
        else f"{gas} condenses at {limit:.3g} bar at {kelvin:g} K"
    )
    hint = ": not an adsorption isotherm" if above >= CONDENSED_REFUSED_ABOVE else ""
    if kelvin <= CELSIUS_AS_KELVIN_BELOW:
        celsius = condensation_bar(iso.adsorbate, kelvin + 273.15)
        if celsius is None or p_max <= CONDENSED_ABOVE * celsius[0]:
            hint = f": is '{kelvin:g} K' {kelvin:g} °C ({kelvin + 273.15:.2f} K)? Give it in K"
    raise BadInput(source, f"{state}, yet the points reach {p_max:.3g} bar{hint}")


def condensation_bar(adsorbate: Any, kelvin: float) -> tuple[float, bool] | None:
    """(pressure in bar at which the gas condenses at `kelvin`, whether as a solid), or None
    above the critical temperature or when CoolProp does not know the gas. Below the triple
    point the sublimation pressure is estimated from the triple point with the enthalpy of
    vaporisation there (smaller than that of sublimation: the estimate is an upper bound).
    CoolProp's own saturation pressure below the triple point is meaningless (CO2 at 77 K
    comes out at 23 000 bar), so it is never asked there."""
    import CoolProp.CoolProp as CP

    try:
        with pygaps_said():
            state = adsorbate.backend
        t_triple, t_crit = state.Ttriple(), state.T_critical()
        if kelvin >= t_crit:
            return None
        if kelvin >= t_triple:
            state.update(CP.QT_INPUTS, 0.0, kelvin)
            return state.p() / 1e5, False
        p_triple = state.keyed_output(CP.iP_triple)
        state.update(CP.QT_INPUTS, 0.0, t_triple)
        h_liquid = state.hmolar()
        state.update(CP.QT_INPUTS, 1.0, t_triple)
        h_vapour = state.hmolar()
    except Exception:
        return None
    dh = h_vapour - h_liquid
    return p_triple / 1e5 * math.exp(-dh / R * (1 / kelvin - 1 / t_triple)), True


def noise(iso: Any, n: list[float], k: int) -> float:
    """How far point `k`'s loading may scatter: 3σ when the file gives σ, else a share of the
    largest loading, never below the analyzers' noise floor."""
    top = max((abs(x) for x in n), default=0.0)
    floor = max(NOISE_MMOL_G, NOISE_SHARE * top)
    sig = branch_sigmas(iso)
    if sig is None or len(sig) != len(n):
        return floor
    return max(floor, 3 * sig[k] * math.sqrt(2))


def _refuse_falling(iso: Any, source: str, p: list[float], n: list[float]) -> None:
    """Loading falling with pressure beyond the noise, where the gas is near-ideal: the
    largest such fall is named."""
    worst: tuple[float, int, int] | None = None
    top_k = 0
    for k in range(1, len(n)):
        if n[k] > n[top_k]:
            top_k = k
            continue
        drop = n[top_k] - n[k]
        if p[k] <= IDEAL_GAS_BAR and drop > noise(iso, n, k) and (worst is None or drop > worst[0]):
            worst = (drop, top_k, k)
    if worst is not None:
        _, i, k = worst
        raise BadInput(
            source,
            f"the adsorption branch falls with pressure: {n[i]:.4g} mmol/g at {p[i]:.4g} bar, "
            f"{n[k]:.4g} mmol/g at {p[k]:.4g} bar (beyond the noise, {noise(iso, n, k):.2g} "
            "mmol/g); a desorption branch, or swapped columns?",
        )


def plausibility(iso: Any) -> list[str]:
    """Warnings about an isotherm (normalized) that is possible but doubtful."""
    out = []
    p, n = branch_points(iso)
    if not n:
        return out
    try:
        _refuse_condensed(iso, "", max(p), CONDENSED_ABOVE)
    except BadInput as e:
        out.append(f"{e.problem}: the points above condensation are not adsorption")
    bound = uptake_bound(iso.adsorbate)
    top = max(n)
    gas = gas_label(iso)
    if top > bound:
        out.append(
            f"uptake up to {top:.4g} mmol/g is implausible: {gas} as a liquid filling "
            f"{MAX_PORE_VOLUME_CM3_G:g} cm3/g of pores (more than any known solid has) is "
            f"{bound:.0f} mmol/g; check the loading unit"
        )
    low_k = min(range(len(n)), key=lambda k: n[k])
    if n[low_k] < -noise(iso, n, low_k):
        out.append(
            f"loading {n[low_k]:.3g} mmol/g at {p[low_k]:.3g} bar is below zero beyond the noise"
        )
    falls = [
        k for k in range(1, len(n)) if p[k] > IDEAL_GAS_BAR and max(n[:k]) - n[k] > noise(iso, n, k)
    ]
    if falls:
        k = falls[0]
        out.append(
            f"loading falls with pressure above {IDEAL_GAS_BAR:g} bar ({max(n[:k]):.4g} to "
            f"{n[k]:.4g} mmol/g at {p[k]:.4g} bar): an excess maximum, where the gas is dense?"
        )
    return out


def uptake_bound(adsorbate: Any) -> float:
    """The most a gram of any solid could hold of this gas (mmol/g): MAX_PORE_VOLUME_CM3_G
    filled at the liquid's density at the triple point (its densest liquid)."""
    try:
        with pygaps_said():
            state = adsorbate.backend
            import CoolProp.CoolProp as CP

            state.update(CP.QT_INPUTS, 0.0, state.Ttriple())
            mol_per_cm3 = state.rhomolar() / 1e6
    except Exception:
        return MAX_UPTAKE_MMOL_G
    return MAX_PORE_VOLUME_CM3_G * mol_per_cm3 * 1e3


def bet_plausibility(area_m2_g: float) -> list[str]:
    if area_m2_g > MAX_BET_M2_G:
        return [
            f"BET area {area_m2_g:.0f} m2/g exceeds any known solid's "
            f"({MAX_BET_M2_G:.0f} m2/g): check the loading unit"
        ]
    return []
