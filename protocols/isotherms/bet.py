"""BET area from N2 at 77 K: pyGAPS's range, checked against the Rouquerol criteria, or the
longest range that meets them."""

from __future__ import annotations

import math
from typing import Any

from protocols.isotherms.reading import gas_label, pygaps_said, quiet, worth_telling


# -- BET --------------------------------------------------------------------------------------
def is_n2_77k(iso: Any) -> bool:
    return gas_label(iso) == "N2" and abs(float(iso.temperature) - 77.35) <= 2.0


def bet(normalized: Any) -> dict[str, Any]:
    """BET area (m²/g) from N2 at 77 K (an isotherm in mmol/g: the area is per g) over pyGAPS's
    automatic range (where n(1 − p/p0) stops rising, down to a tenth of that pressure),
    checked against the Rouquerol criteria. When that range fails one, the longest range
    (then the most linear) meeting them all is computed too, as `rouquerol_area`: the chemist
    sees both. p/p0 uses the measured saturation pressure when the points carry one (`p0`),
    else pyGAPS's at the isotherm's temperature."""
    import numpy as np
    from pygaps.characterisation.area_bet import area_BET
    from pygaps.utilities.pygaps_utilities import get_iso_loading_and_pressure_ordered

    iso, p0_from = _relative(normalized)
    with pygaps_said() as said:  # its doubts about the range it chose ("not linear") matter
        x, n = get_iso_loading_and_pressure_ordered(
            iso,
            "ads",
            {"loading_basis": "molar", "loading_unit": "mol"},
            {"pressure_mode": "relative"},
        )
        x, n = np.asarray(x, float), np.asarray(n, float)
        default = area_BET(iso)
    lo, hi = (int(i) for i in default["p_limit_indices"])
    checks = _rouquerol(x, n, lo, hi, default["c_const"], default["n_monolayer"])
    result: dict[str, Any] = {
        "area": float(default["area"]),
        "c": float(default["c_const"]),
        "n_monolayer": float(default["n_monolayer"]) * 1e3,
        "range": (float(x[lo]), float(x[hi])),
        "points": hi - lo + 1,
        "corr_coef": float(default["corr_coef"]),
        "criteria": checks,
        "rouquerol": all(checks.values()),
        "p0": p0_from,
        "said": [f"BET: {w}" for w in worth_telling(said)],
    }
    if result["rouquerol"]:
        return result
    chosen = _rouquerol_search(x, n)
    if chosen is None:
        result["rouquerol_area"] = None
        return result
    i, j = chosen
    upper = (x[j] + x[j + 1]) / 2 if j + 1 < len(x) else x[j] * 1.0001
    with quiet():
        r = area_BET(iso, p_limits=(float(x[i]), float(upper)))
    lo, hi = (int(k) for k in r["p_limit_indices"])
    result["rouquerol_area"] = float(r["area"])
    result["rouquerol_range"] = (float(x[lo]), float(x[hi]))
    return result


def _relative(iso: Any) -> tuple[Any, str]:
    """The isotherm in p/p0 from its measured p0 column, when every adsorption point has one."""
    import math

    import pandas as pd
    import pygaps

    from protocols.isotherms.basis import NORMALIZED_UNITS

    kelvin = float(iso.temperature)
    said = f"pyGAPS's saturation pressure at {kelvin:g} K"
    if "p0" not in iso.other_keys:
        return iso, said
    data = iso.data(branch="ads")
    p0 = [float(v) for v in data["p0"]]
    if not p0 or not all(math.isfinite(v) and v > 0 for v in p0):
        return iso, said
    frame = pd.DataFrame(
        {
            "pressure": [float(p) / v for p, v in zip(data["pressure"], p0, strict=True)],
            "loading": [float(n) for n in data["loading"]],
        }
    )
    units = {**NORMALIZED_UNITS, "pressure_mode": "relative", "pressure_unit": None}
    with quiet():
        rel = pygaps.PointIsotherm(
            isotherm_data=frame,
            pressure_key="pressure",
            loading_key="loading",
            branch="ads",
            material=str(iso.material),
            adsorbate=str(iso.adsorbate),
            temperature=kelvin,
            **units,
        )
    return rel, f"measured with the points ({min(p0):.4g}–{max(p0):.4g} bar)"


def _rouquerol(x: Any, n: Any, lo: int, hi: int, c: float, n_m: float) -> dict[str, bool]:
    """Rouquerol, Llewellyn & Rouquerol (Stud. Surf. Sci. Catal. 160, 49, 2007)."""
    # pyGAPS ends its range on the first point past the maximum of n(1 − p/p0): the rise is
    # checked up to the point before the range's last
    roq = n[lo:hi] * (1 - x[lo:hi])
    x_m = 1 / (math.sqrt(c) + 1) if c > 0 else math.nan
    return {
        "n(1-p/p0) rises up to the top of the range": bool((roq[1:] > roq[:-1]).all()),
        "C is positive": bool(c > 0),
        "monolayer amount inside the range": bool(n[lo] <= n_m <= n[hi]),
        "monolayer p/p0 inside the range": bool(x[lo] <= x_m <= x[hi]),
    }


def _rouquerol_search(x: Any, n: Any) -> tuple[int, int] | None:
    import numpy as np

    ok = (x > 0) & (x < 1) & (n > 0)
    end = len(x) - 1
    roq = n * (1 - x)
    for k in range(len(x) - 1):
        if roq[k + 1] <= roq[k]:
            end = k
            break
    best: tuple[int, float, int, int] | None = None
    for i in range(end + 1):
        for j in range(i + 2, end + 1):
            if not ok[i : j + 1].all():
                continue
            xs = x[i : j + 1]
            ys = xs / (n[i : j + 1] * (1 - xs))
            slope, intercept = np.polyfit(xs, ys, 1)
            if intercept <= 0 or slope <= 0:
                continue
            c = slope / intercept + 1
            n_m = 1 / (intercept * c)
            x_m = 1 / (math.sqrt(c) + 1)
            if not (x[i] <= x_m <= x[j] and n[i] <= n_m <= n[j]):
                continue
            r = float(np.corrcoef(xs, ys)[0, 1])
            if best is None or (j - i, r) > best[:2]:
                best = (j - i, r, i, j)
    return None if best is None else (best[2], best[3])
