"""BET area from an N2 77 K isotherm: the Rouquerol range, the linear fit, the monolayer and
the C constant (ISO 9277)."""

from __future__ import annotations

import math
from typing import Any

from protocols.sorption.thermo import LN2_K


def desorption_fractions(n: int) -> list[float]:
    return [0.9 * (0.05 / 0.9) ** (i / max(1, n - 1)) for i in range(n)] if n else []


def rouquerol_range(relative: list[float], uptake: list[float]) -> tuple[int, int] | None:
    """The BET range (indices into the points sorted by pressure) meeting the consistency
    criteria of Rouquerol, Llewellyn and Rouquerol (Stud. Surf. Sci. Catal. 160, 49, 2007):
    n(1 − x) rises over the whole range; C > 0; the monolayer's x_m = 1/(√C + 1) and n_m
    lie inside the range. Of the ranges of ≥ 3 points that qualify: the longest, then the
    most linear. None when no range qualifies."""
    pts = sorted(zip(relative, uptake, strict=True))
    x = [p[0] for p in pts]
    n = [p[1] for p in pts]
    end = len(x) - 1
    for k in range(len(x) - 1):
        if n[k + 1] * (1 - x[k + 1]) <= n[k] * (1 - x[k]):
            end = k
            break
    best: tuple[int, float, int, int] | None = None
    for i in range(end + 1):
        for j in range(i + 2, end + 1):
            xs = x[i : j + 1]
            ys = [xk / (nk * (1 - xk)) for xk, nk in zip(xs, n[i : j + 1], strict=True)]
            slope, intercept, r = _fit(xs, ys)
            if intercept <= 0 or slope <= 0:
                continue
            c = slope / intercept + 1
            n_m = 1 / (slope + intercept)
            x_m = 1 / (math.sqrt(c) + 1)
            if not (x[i] <= x_m <= x[j] and n[i] <= n_m <= n[j]):
                continue
            key = (j - i, r, i, j)
            if best is None or key[:2] > best[:2]:
                best = key
    return None if best is None else (best[2], best[3])


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least-squares slope, intercept and correlation coefficient."""
    k = len(xs)
    xm, ym = sum(xs) / k, sum(ys) / k
    sxx = sum((a - xm) ** 2 for a in xs)
    syy = sum((b - ym) ** 2 for b in ys)
    sxy = sum((a - xm) * (b - ym) for a, b in zip(xs, ys, strict=True))
    slope = sxy / sxx if sxx else 0.0
    r = sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0
    return slope, ym - slope * xm, r


def bet_fit(
    relative: list[float],
    uptake_mmol_g: list[float],
    *,
    material: str = "sample",
    limits: tuple[float, float] = (0.05, 0.3),
    temperature_k: float = LN2_K,
) -> dict[str, Any]:
    """BET area by pyGAPS's linear BET fit over the range `rouquerol_range` chooses (pyGAPS's
    own choice applies only the first criterion); when no range qualifies, the classic
    `limits`, flagged `rouquerol: False`."""
    import pygaps
    from pygaps.characterisation.area_bet import area_BET

    pts = sorted(zip(relative, uptake_mmol_g, strict=True))
    x = [p[0] for p in pts]
    iso = pygaps.PointIsotherm(
        pressure=x,
        loading=[p[1] for p in pts],
        material=material,
        adsorbate="nitrogen",
        temperature=temperature_k,
        temperature_unit="K",
        pressure_mode="relative",
        loading_basis="molar",
        loading_unit="mmol",
        material_basis="mass",
        material_unit="g",
    )
    chosen = rouquerol_range(x, [p[1] for p in pts])
    if chosen is not None:
        i, j = chosen
        # pyGAPS takes the points with lo <= x < hi
        hi = (x[j] + x[j + 1]) / 2 if j + 1 < len(x) else x[j] * 1.001
        result = area_BET(iso, p_limits=(x[i], hi))
    else:
        result = area_BET(iso, p_limits=limits)
    lo, hi_index = result.get("p_limit_indices", (0, len(x) - 1))
    return {
        "area": float(result["area"]),
        "c": float(result["c_const"]),
        "n_monolayer_mmol_g": float(result["n_monolayer"]) * 1e3,
        "corr_coef": float(result["corr_coef"]),
        "range": (x[int(lo)], x[int(hi_index)]),
        "rouquerol": chosen is not None,
    }
