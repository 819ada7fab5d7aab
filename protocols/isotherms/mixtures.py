"""IAST selectivity for a flue gas, isosteric heat (Clausius-Clapeyron) and working capacity
between adsorption and desorption conditions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from protocols.isotherms.fits import EXTRAPOLATION_MARGIN, Fit, uptake_at
from protocols.isotherms.reading import quiet

FLUE_GAS_CO2 = 0.15  # mole fraction of CO2 in a coal flue gas, the rest taken as N2
WORKING_CAPACITY_BAR = (0.15, 0.01)  # adsorb at the flue gas's CO2 pressure, desorb under vacuum
#: isotherms within this of each other are at one temperature
SAME_TEMPERATURE_K = 2.0


# -- mixtures, heats, swings ------------------------------------------------------------------
def iast_selectivity(
    strong: Fit, weak: Fit, *, fraction: float = FLUE_GAS_CO2, total_bar: float = 1.0
) -> dict[str, Any]:
    """IAST from the two pure-component fits: loadings of each gas from a mixture with
    `fraction` of the first at `total_bar`, and the selectivity (x1/x2)/(y1/y2).

    IAST reads each pure isotherm at the pressure p_i/x_i where its spreading pressure equals
    the mixture's: for the weak gas that is often far above its points (N2 beside CO2 on a
    good sorbent: 10–24 bar from a 1-bar isotherm). `extrapolated` names each fit read beyond
    its points, at which pressure."""
    import numpy as np
    from pygaps.prediction.iast import iast_point_fraction

    if strong.model is None or weak.model is None:
        raise ValueError("both pure isotherms need a model fit")
    y = np.array([fraction, 1 - fraction])
    with quiet():
        q = iast_point_fraction([strong.isotherm, weak.isotherm], y, total_bar, warningoff=True)
    q1, q2 = float(q[0]), float(q[1])
    if not (q1 > 0 and q2 > 0):
        raise ValueError("IAST gave no adsorbed amount of one gas")
    x = np.array([q1, q2]) / (q1 + q2)
    pure = [float(p) for p in y * total_bar / x]
    extrapolated = {
        i: (pure[i], f.up_to_bar)
        for i, f in enumerate((strong, weak))
        if f.up_to_bar is not None and pure[i] > f.up_to_bar * (1 + EXTRAPOLATION_MARGIN)
    }
    return {
        "selectivity": (q1 / q2) / (fraction / (1 - fraction)),
        "loading_1": q1,
        "loading_2": q2,
        "pure_pressures": pure,
        "extrapolated": extrapolated,
    }


def isosteric_heat(isos: Sequence[Any]) -> dict[str, Any]:
    """Clausius–Clapeyron over isotherms of one gas on one material at ≥ 2 temperatures:
    heat (kJ/mol, positive) against loading (mmol/g) over the loadings all of them reach."""
    import numpy as np
    from pygaps.characterisation.enth_sorp_clapeyron import enthalpy_sorption_clapeyron

    isos = sorted(isos, key=lambda i: float(i.temperature))
    temps = sorted({round(float(i.temperature), 1) for i in isos})
    if len(temps) < 2:
        raise ValueError("needs isotherms at two or more temperatures")
    with quiet():
        r = enthalpy_sorption_clapeyron(isos)
    heat = np.asarray(r["isosteric_enthalpy"], float)
    loading = np.asarray(r["loading"], float)
    good = np.isfinite(heat)
    if not good.any():
        raise ValueError("the isotherms share no loading range")
    return {
        "loading": loading[good].tolist(),
        "heat": heat[good].tolist(),
        "std_err": np.asarray(r["std_errs"], float)[good].tolist(),
        "temperatures": temps,
    }


def heat_at(heat: dict[str, Any], loading: float) -> float:
    """Isosteric heat at a loading, held constant beyond the range it was measured over."""
    import numpy as np

    return float(np.interp(loading, heat["loading"], heat["heat"]))


def working_capacity(
    iso: Any,
    fitted: Fit | None,
    *,
    adsorption_bar: float = WORKING_CAPACITY_BAR[0],
    desorption_bar: float = WORKING_CAPACITY_BAR[1],
    desorption_k: float | None = None,
    heat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Uptake at the adsorption conditions less what stays at the desorption conditions.
    A desorption temperature other than the isotherm's goes through Clausius–Clapeyron with
    the isosteric heat: the loading at (p, T_des) is the one whose pressure at T_ads is
    p · exp(−Q/R (1/T_ads − 1/T_des))."""
    t_ads = float(iso.temperature)
    ads = uptake_at(iso, adsorption_bar, fitted)
    if ads.value is None:
        raise ValueError(f"uptake at {adsorption_bar:g} bar: {ads.method}")
    if desorption_k is None or abs(desorption_k - t_ads) <= SAME_TEMPERATURE_K:
        des = uptake_at(iso, desorption_bar, fitted)
        if des.value is None:
            raise ValueError(f"uptake at {desorption_bar:g} bar: {des.method}")
        left, how = des.value, des.method
        t_des = t_ads
    else:
        if heat is None:
            raise ValueError("a temperature swing needs isotherms at two or more temperatures")
        if fitted is None or fitted.model is None:
            raise ValueError("a temperature swing needs a model fit")
        r = 8.314462618e-3  # kJ/(mol K)
        left = fitted.loading_at(desorption_bar)
        for _ in range(50):
            q = heat_at(heat, left)
            p_equiv = desorption_bar * math.exp(-q / r * (1 / t_ads - 1 / desorption_k))
            new = fitted.loading_at(p_equiv)
            if abs(new - left) < 1e-6:
                break
            left = new
        how = f"{fitted.model} fit shifted by the isosteric heat"
        t_des = desorption_k
    return {
        "working_capacity": ads.value - left,
        "adsorption": (adsorption_bar, t_ads, ads.value, ads.method),
        "desorption": (desorption_bar, t_des, left, how),
    }
