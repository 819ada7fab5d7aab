"""Isotherm analysis on pyGAPS: what a chemist screening sorbents for CO2 capture asks of an
isotherm, and AIF files colleagues can open.

Every isotherm is brought to one basis first (absolute pressure in bar, mmol adsorbed per g
of sample), then:

- a model fit: dual-site Langmuir, falling back to Langmuir when DSL fails or collapses to
  one site, then to Henry; fitted to the points where capture conditions lie (≤ 1.25 bar)
  when there are enough of them, so a 25-bar isotherm does not bias the 0.15-bar figure;
- uptakes at 0.15 and 1 bar: interpolated between measured points, or from the fit (and
  said so) just outside the measured range;
- BET area from N2 at 77 K: pyGAPS's own range, checked against the Rouquerol criteria;
  when that range fails them, the longest range that meets them;
- IAST selectivity CO2/N2 for a 15:85 flue gas at 1 bar from the two pure isotherms;
- isosteric heat (Clausius–Clapeyron) from isotherms at two or more temperatures;
- working capacity between adsorption and desorption conditions (a pressure swing, or a
  temperature swing through the isosteric heat).

pyGAPS takes seconds to import: it is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppu.core.errors import BadInput
from ppu.core.units import Q_, to_json

#: below this the sample adsorbs nothing we can tell from an analyzer's noise
NO_MEASURABLE_UPTAKE_MMOL_G = 0.02
FLUE_GAS_CO2 = 0.15  # mole fraction of CO2 in a coal flue gas, the rest taken as N2
CAPTURE_PRESSURES_BAR = (0.15, 1.0)
CAPTURE_WINDOW_BAR = 1.25  # fit here when the isotherm has ≥ MIN_FIT_POINTS in it
MIN_FIT_POINTS = 4
MODELS = ("DSLangmuir", "Langmuir", "Henry")
CRYOGENIC_K = 150.0  # below this an isotherm characterises (BET), it is no capture condition
EXTRAPOLATE_ABOVE = 1.5  # the fit may be read up to this × the highest measured pressure
SAME_TEMPERATURE_K = 2.0
WORKING_CAPACITY_BAR = (0.15, 0.01)  # adsorb at the flue gas's CO2 pressure, desorb under vacuum

# file suffix → the readers tried, in order (pyGAPS's own formats, then the instruments')
_READERS = {
    ".aif": ("aif",),
    ".json": ("json", "isodb"),
    ".csv": ("csv", "bel-csv"),
    ".xls": ("mic", "3p", "xl"),
    ".xlsx": ("mic", "3p", "xl", "smsdvs"),
    ".dat": ("bel-dat",),
    ".txt": ("qnt",),
}


#: the units every isotherm is brought to: absolute bar, mmol per g of material, K
NORMALIZED_UNITS = {
    "temperature_unit": "K",
    "pressure_mode": "absolute",
    "pressure_unit": "bar",
    "loading_basis": "molar",
    "loading_unit": "mmol",
    "material_basis": "mass",
    "material_unit": "g",
}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """pyGAPS warns through its logger and pandas through `warnings`; a result carries its
    own caveats here, so both are silenced while pyGAPS works."""
    log = logging.getLogger("pygaps")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def _why(e: BaseException) -> str:
    """One short line: pyGAPS's fitting errors come as paragraphs with advice."""
    text = " ".join(str(e).split())
    text = re.sub(r"^Fitting routine for \w+ failed with error: ", "", text)
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first[:160] or type(e).__name__


# -- reading ----------------------------------------------------------------------------------
def load(path: str | Path) -> list[Any]:
    """The isotherm(s) in an AIF, pyGAPS JSON, NIST ISODB JSON, pyGAPS CSV/Excel, or an
    instrument's export (Micromeritics, 3P, BEL, Quantachrome, SMS). BadInput names the file."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(str(path), "no such file")
    readers = _READERS.get(path.suffix.lower())
    if readers is None:
        raise BadInput(
            str(path), f"not an isotherm file pyGAPS reads (suffixes: {', '.join(_READERS)})"
        )
    problems = []
    with quiet():
        for reader in readers:
            try:
                iso = _read(path, reader)
            except Exception as e:  # each reader fails in its own way
                problems.append(f"{reader}: {_why(e)}")
                continue
            if iso is not None:
                return [iso]  # a file with metadata and no points is an empty isotherm
            problems.append(f"{reader}: nothing read")
    raise BadInput(str(path), "not readable as an isotherm (" + "; ".join(problems) + ")")


def _read(path: Path, reader: str) -> Any:
    import pygaps.parsing as pgp

    if reader == "aif":
        return pgp.isotherm_from_aif(str(path))
    if reader == "json":
        return pgp.isotherm_from_json(path.read_text())
    if reader == "isodb":  # a record downloaded from NIST's ISODB (never fetched here)
        return pgp.isotherm_from_json(path.read_text(), fmt="NIST")
    if reader == "csv":
        return pgp.isotherm_from_csv(str(path))
    if reader == "xl":
        return pgp.isotherm_from_xl(str(path))
    manufacturer, _, fmt = reader.partition("-")
    fmt = fmt or {"mic": "xl", "3p": "xl", "qnt": "txt-raw", "smsdvs": "xlsx"}[manufacturer]
    return pgp.isotherm_from_commercial(str(path), manufacturer, fmt)


def gas_label(iso: Any) -> str:
    """'CO2', 'N2', 'C2H6': the formula without TeX, which chemists write in tables."""
    from pygaps import Adsorbate

    try:
        a = Adsorbate.find(str(iso.adsorbate))
        formula = a.formula or a.name
    except Exception:
        return str(iso.adsorbate)
    return formula.replace("_{", "").replace("}", "").replace("{", "")


def normalized(iso: Any) -> Any:
    """A new isotherm in absolute bar and mmol per g: the basis every figure here is given
    in. (Built afresh: a pyGAPS isotherm that has used CoolProp cannot be copied.)"""
    import pandas as pd
    import pygaps

    frames = []
    with quiet():
        for code, branch in ((0, "ads"), (1, "des")):
            if not iso.has_branch(branch):
                continue
            p = iso.pressure(branch=branch, pressure_mode="absolute", pressure_unit="bar")
            n = iso.loading(
                branch=branch,
                loading_basis="molar",
                loading_unit="mmol",
                material_basis="mass",
                material_unit="g",
            )
            if p is None or n is None:
                raise ValueError(
                    f"cannot express {iso.loading_unit} per {iso.material_unit} of material "
                    "in mmol/g (pyGAPS needs the material's molar mass or density)"
                )
            frames.append(pd.DataFrame({"pressure": p, "loading": n, "branch": code}))
        if not frames:
            raise ValueError("no data points")
        return pygaps.PointIsotherm(
            isotherm_data=pd.concat(frames, ignore_index=True),
            pressure_key="pressure",
            loading_key="loading",
            material=str(iso.material),
            adsorbate=str(iso.adsorbate),
            temperature=float(iso.temperature),
            **NORMALIZED_UNITS,
        )


def _branch(iso: Any, branch: str = "ads") -> tuple[list[float], list[float]]:
    """(pressures, loadings) of a branch in the isotherm's own units, by rising pressure."""
    p = iso.pressure(branch=branch)
    n = iso.loading(branch=branch)
    if p is None or n is None:
        return [], []
    pts = sorted(
        (float(a), float(b))
        for a, b in zip(p, n, strict=True)
        if math.isfinite(float(a)) and math.isfinite(float(b))
    )
    return [a for a, _ in pts], [b for _, b in pts]


# -- model fits -------------------------------------------------------------------------------
@dataclass
class Fit:
    """The model that describes the isotherm, or why none does."""

    model: str | None
    params: dict[str, float] = field(default_factory=dict)
    rmse: float | None = None  # mmol/g
    points: int = 0
    up_to_bar: float | None = None
    failed: dict[str, str] = field(default_factory=dict)  # model → why not
    isotherm: Any = None  # the pyGAPS ModelIsotherm

    def loading_at(self, pressure_bar: float) -> float:
        with quiet():
            return float(self.isotherm.loading_at(pressure_bar))

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            "rmse": None if self.rmse is None else to_json(Q_(self.rmse, "mmol/g")),
            "points": self.points,
            "up_to": None if self.up_to_bar is None else to_json(Q_(self.up_to_bar, "bar")),
            "failed": self.failed,
        }


def fit(iso: Any, *, max_pressure_bar: float | None = None, models: Sequence[str] = MODELS) -> Fit:
    """Fit `models` in turn to the adsorption branch (normalized), the first that works wins.

    Points above `max_pressure_bar` are left out when at least MIN_FIT_POINTS remain. A DSL
    whose two sites come out the same (or one empty) is a Langmuir: Langmuir is taken."""
    import pygaps

    p, n = _branch(iso)
    if max_pressure_bar is not None:
        kept = [(a, b) for a, b in zip(p, n, strict=True) if a <= max_pressure_bar]
        if len(kept) >= MIN_FIT_POINTS:
            p, n = [a for a, _ in kept], [b for _, b in kept]
    failed: dict[str, str] = {}
    if len(p) < 2:
        return Fit(None, failed={m: "fewer than two points" for m in models})
    sub = pygaps.PointIsotherm(
        pressure=p,
        loading=n,
        material=str(iso.material),
        adsorbate=str(iso.adsorbate),
        temperature=float(iso.temperature),
        **NORMALIZED_UNITS,
    )
    for name in models:
        try:
            with quiet():
                model = pygaps.ModelIsotherm.from_pointisotherm(sub, model=name)
        except Exception as e:
            failed[name] = _why(e)
            continue
        params = {k: float(v) for k, v in model.model.params.items()}
        bad = _implausible(name, params)
        if bad:
            failed[name] = bad
            continue
        return Fit(
            name,
            params,
            float(model.model.rmse),
            len(p),
            max(p),
            failed,
            model,
        )
    return Fit(None, points=len(p), up_to_bar=max(p), failed=failed)


def _implausible(model: str, params: dict[str, float]) -> str | None:
    if not all(math.isfinite(v) for v in params.values()):
        return "parameters are not finite"
    if any(v < 0 for v in params.values()):
        return "a negative parameter"
    if model == "DSLangmuir":
        k1, k2 = params["K1"], params["K2"]
        n1, n2 = params["n_m1"], params["n_m2"]
        if abs(k1 - k2) <= 0.05 * max(k1, k2) or min(n1, n2) <= 0.01 * (n1 + n2):
            return "the two sites collapse into one (a Langmuir)"
    return None


# -- uptakes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Uptake:
    pressure_bar: float
    value: float | None  # mmol/g; None when it cannot be told
    method: str

    def describe(self) -> dict[str, Any]:
        return {
            "pressure": to_json(Q_(self.pressure_bar, "bar")),
            "uptake": None if self.value is None else to_json(Q_(self.value, "mmol/g")),
            "method": self.method,
        }


def uptake_at(iso: Any, pressure_bar: float, fitted: Fit | None) -> Uptake:
    """Interpolated between measured points when they bracket the pressure; else from the
    fit, below the first point or a little beyond the last."""
    p, n = _branch(iso)
    if len(p) >= 2 and p[0] <= pressure_bar <= p[-1]:
        import numpy as np

        return Uptake(pressure_bar, float(np.interp(pressure_bar, p, n)), "interpolated")
    if len(p) == 1 and math.isclose(p[0], pressure_bar, rel_tol=0.02):
        return Uptake(pressure_bar, n[0], "measured")
    if fitted is None or fitted.model is None or not p:
        return Uptake(pressure_bar, None, "outside the measured range and no model fits")
    if pressure_bar > EXTRAPOLATE_ABOVE * p[-1]:
        return Uptake(pressure_bar, None, f"beyond the measured range (to {p[-1]:.3g} bar)")
    return Uptake(pressure_bar, fitted.loading_at(pressure_bar), f"{fitted.model} fit")


def measurable(iso: Any) -> bool:
    _, n = _branch(iso)
    return bool(n) and max(n) >= NO_MEASURABLE_UPTAKE_MMOL_G


# -- BET --------------------------------------------------------------------------------------
def is_n2_77k(iso: Any) -> bool:
    return gas_label(iso) == "N2" and abs(float(iso.temperature) - 77.35) <= 2.0


def bet(iso: Any) -> dict[str, Any]:
    """BET area (m²/g) from N2 at 77 K over pyGAPS's automatic range (where n(1 − p/p0)
    stops rising, down to a tenth of that pressure), checked against the Rouquerol criteria.
    When that range fails one, the longest range (then the most linear) meeting them all is
    computed too, as `rouquerol_area`: the chemist sees both."""
    import numpy as np
    from pygaps.characterisation.area_bet import area_BET
    from pygaps.utilities.pygaps_utilities import get_iso_loading_and_pressure_ordered

    with quiet():
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


# -- mixtures, heats, swings ------------------------------------------------------------------
def iast_selectivity(
    strong: Fit, weak: Fit, *, fraction: float = FLUE_GAS_CO2, total_bar: float = 1.0
) -> dict[str, float]:
    """IAST from the two pure-component fits: loadings of each gas from a mixture with
    `fraction` of the first at `total_bar`, and the selectivity (x1/x2)/(y1/y2)."""
    import numpy as np
    from pygaps.prediction.iast import iast_point_fraction

    if strong.model is None or weak.model is None:
        raise ValueError("both pure isotherms need a model fit")
    with quiet():
        q = iast_point_fraction(
            [strong.isotherm, weak.isotherm],
            np.array([fraction, 1 - fraction]),
            total_bar,
            warningoff=True,
        )
    q1, q2 = float(q[0]), float(q[1])
    if not (q1 > 0 and q2 > 0):
        raise ValueError("IAST gave no adsorbed amount of one gas")
    return {
        "selectivity": (q1 / q2) / (fraction / (1 - fraction)),
        "loading_1": q1,
        "loading_2": q2,
    }


def isosteric_heat(isos: Sequence[Any]) -> dict[str, Any]:
    """Clausius–Clapeyron over isotherms of one gas on one material at ≥ 2 temperatures:
    heat (kJ/mol, positive) against loading (mmol/g) over the loadings all of them reach."""
    import numpy as np
    from pygaps.characterisation.enth_sorp_clapeyron import enthalpy_sorption_clapeyron

    temps = sorted({round(float(i.temperature), 1) for i in isos})
    if len(temps) < 2:
        raise ValueError("needs isotherms at two or more temperatures")
    with quiet():
        r = enthalpy_sorption_clapeyron(list(isos))
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


# -- one report over files or a sample's isotherms ---------------------------------------------
def analyze(
    isos: Iterable[tuple[str, Any]],
    *,
    desorption_bar: float = WORKING_CAPACITY_BAR[1],
    desorption_k: float | None = None,
) -> dict[str, Any]:
    """Everything that can be computed from these isotherms ((source, isotherm) pairs),
    per isotherm and per material, with units; what cannot be computed says why."""
    entries: list[dict[str, Any]] = []
    for source, raw in isos:
        entries.append(_one(source, raw))
    materials: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        materials.setdefault(e["material"], []).append(e)
    per_material = [
        _material(name, group, desorption_bar, desorption_k) for name, group in materials.items()
    ]
    for e in entries:
        e.pop("_iso", None)
        e.pop("_fit", None)
    return {"isotherms": entries, "materials": per_material}


def _one(source: str, raw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "source": source,
        "material": str(raw.material),
        "gas": gas_label(raw),
        "temperature": to_json(Q_(float(raw.temperature), "K")),
        "status": "ok",
    }
    if not hasattr(raw, "pressure"):  # pyGAPS read the metadata and found no points
        e.update(points=0, status="no measurable uptake", why="no data points")
        e["max_uptake"] = to_json(Q_(0.0, "mmol/g"))
        return e
    try:
        iso = normalized(raw)
    except Exception as ex:
        e.update(
            status="not analysable",
            why=(
                f"cannot express {raw.loading_unit} per {raw.material_unit} "
                f"({raw.material_basis} basis) in mmol/g: {_why(ex)}"
            ),
        )
        return e
    p, n = _branch(iso)
    e["points"] = len(p)
    e["branches"] = [b for b in ("ads", "des") if iso.has_branch(b)]
    e["pressure_range"] = [to_json(Q_(p[0], "bar")), to_json(Q_(p[-1], "bar"))] if p else []
    e["max_uptake"] = to_json(Q_(max(n) if n else 0.0, "mmol/g"))
    if not measurable(iso):
        e["status"] = "no measurable uptake"
        e["why"] = (
            f"largest uptake {max(n) if n else 0.0:.3g} mmol/g is below "
            f"{NO_MEASURABLE_UPTAKE_MMOL_G} mmol/g"
            if n
            else "no data points"
        )
        return e
    e["_iso"] = iso
    if is_n2_77k(iso):
        try:
            b = bet(raw)
            e["bet"] = {
                "area": to_json(Q_(b["area"], "m^2/g")),
                "c": b["c"],
                "n_monolayer": to_json(Q_(b["n_monolayer"], "mmol/g")),
                "range_p_p0": list(b["range"]),
                "points": b["points"],
                "corr_coef": b["corr_coef"],
                "rouquerol": b["rouquerol"],
                "criteria": b["criteria"],
            }
            if "rouquerol_area" in b:
                e["bet"]["rouquerol_area"] = (
                    None
                    if b["rouquerol_area"] is None
                    else to_json(Q_(b["rouquerol_area"], "m^2/g"))
                )
                e["bet"]["rouquerol_range_p_p0"] = list(b.get("rouquerol_range", ()))
        except Exception as ex:
            e["bet"] = {"area": None, "why": _why(ex)}
        return e
    if float(iso.temperature) < CRYOGENIC_K:
        return e  # a characterisation isotherm of another kind: points only
    f = fit(iso, max_pressure_bar=CAPTURE_WINDOW_BAR)
    e["_fit"] = f
    e["fit"] = f.describe()
    e["uptakes"] = [uptake_at(iso, pb, f).describe() for pb in CAPTURE_PRESSURES_BAR]
    return e


def _material(
    name: str, group: list[dict[str, Any]], desorption_bar: float, desorption_k: float | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"material": name, "not_computed": {}}
    usable = [e for e in group if "_iso" in e]
    warm = [e for e in usable if "_fit" in e]
    if not usable:
        statuses = {e["status"] for e in group}
        out["status"] = (
            "no measurable uptake" if "no measurable uptake" in statuses else "not analysable"
        )
        out["why"] = "; ".join(sorted({e.get("why", "") for e in group} - {""}))
        del out["not_computed"]
        return out
    # BET
    bets = [e["bet"]["area"] for e in usable if e.get("bet", {}).get("area")]
    if bets:
        out["bet_area"] = bets[0]
    else:
        out["not_computed"]["bet_area"] = "needs an N2 isotherm at 77 K"
    # uptakes the screening asks for
    for gas, pb, key in (
        ("CO2", 0.15, "co2_uptake_0p15bar"),
        ("CO2", 1.0, "co2_uptake_1bar"),
        ("N2", 1.0, "n2_uptake_1bar"),
    ):
        found = [
            u
            for e in warm
            if e["gas"] == gas
            for u in e["uptakes"]
            if u["pressure"]["value"] == pb and u["uptake"] is not None
        ]
        if found:
            out[key] = {**found[0]["uptake"], "method": found[0]["method"]}
        else:
            out["not_computed"][key] = f"needs a {gas} isotherm reaching {pb:g} bar"
    # heats: one per gas measured at two or more temperatures
    heats: dict[str, dict[str, Any]] = {}
    by_gas: dict[str, list[dict[str, Any]]] = {}
    for e in warm:
        by_gas.setdefault(e["gas"], []).append(e)
    for gas, es in by_gas.items():
        if len({round(x["temperature"]["value"]) for x in es}) < 2:
            continue
        try:
            heats[gas] = isosteric_heat([x["_iso"] for x in es])
        except Exception as ex:
            out["not_computed"][f"heat_of_adsorption_{gas}"] = _why(ex)
    out["heat_of_adsorption"] = {
        gas: {
            "median": to_json(Q_(_median(h["heat"]), "kJ/mol")),
            "loading_range": [
                to_json(Q_(h["loading"][0], "mmol/g")),
                to_json(Q_(h["loading"][-1], "mmol/g")),
            ],
            "temperatures": [to_json(Q_(t, "K")) for t in h["temperatures"]],
            "curve": {
                "loading": {"value": h["loading"], "unit": "mmol/g"},
                "heat": {"value": h["heat"], "unit": "kJ/mol"},
            },
        }
        for gas, h in heats.items()
    }
    if not heats:
        out["not_computed"]["heat_of_adsorption"] = (
            "needs isotherms of one gas at two or more temperatures"
        )
    # IAST CO2/N2 at 15:85, per temperature both were measured at
    co2 = [e for e in warm if e["gas"] == "CO2" and e["_fit"].model]
    n2 = [e for e in warm if e["gas"] == "N2" and e["_fit"].model]
    pairs = [
        (c, m)
        for c in co2
        for m in n2
        if abs(c["temperature"]["value"] - m["temperature"]["value"]) <= SAME_TEMPERATURE_K
    ]
    if pairs:
        c, m = pairs[0]
        try:
            r = iast_selectivity(c["_fit"], m["_fit"])
            out["selectivity"] = {
                "value": r["selectivity"],
                "unit": "",
                "method": "IAST, CO2:N2 15:85 at 1 bar",
                "temperature": c["temperature"],
                "co2_loading": to_json(Q_(r["loading_1"], "mmol/g")),
                "n2_loading": to_json(Q_(r["loading_2"], "mmol/g")),
            }
        except Exception as ex:
            out["not_computed"]["selectivity"] = f"IAST failed: {_why(ex)}"
    else:
        out["not_computed"]["selectivity"] = "needs CO2 and N2 isotherms at one temperature"
    # working capacity: the CO2 isotherm, else each gas measured near ambient
    targets = [e for e in warm if e["gas"] == "CO2"] or warm
    wcs = []
    for e in targets[:1] if targets else []:
        try:
            w = working_capacity(
                e["_iso"],
                e["_fit"],
                desorption_bar=desorption_bar,
                desorption_k=desorption_k,
                heat=heats.get(e["gas"]),
            )
        except Exception as ex:
            out["not_computed"]["working_capacity"] = _why(ex)
            continue
        wcs.append(
            {
                "gas": e["gas"],
                "value": w["working_capacity"],
                "unit": "mmol/g",
                "adsorption": _condition(w["adsorption"]),
                "desorption": _condition(w["desorption"]),
            }
        )
    if wcs:
        out["working_capacity"] = wcs[0]
    if not out["not_computed"]:
        del out["not_computed"]
    return out


def _median(values: Sequence[float]) -> float:
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2


def _condition(c: tuple[float, float, float, str]) -> dict[str, Any]:
    return {
        "pressure": to_json(Q_(c[0], "bar")),
        "temperature": to_json(Q_(c[1], "K")),
        "uptake": to_json(Q_(c[2], "mmol/g")),
        "method": c[3],
    }


# -- building isotherms from the store, and AIF ------------------------------------------------
@dataclass
class MeasuredIsotherm:
    """One launch's isotherm points as the store holds them, with what made them."""

    launch_id: int
    sample_id: str | None
    gas: str
    temperature_k: float
    points: list[dict[str, Any]]  # pressure_bar, uptake (mmol/g), sigma, branch, p0_bar
    meta: dict[str, Any] = field(default_factory=dict)  # provenance shared by every point

    def to_pygaps(self, material: str | None = None, **properties: Any) -> Any:
        import pandas as pd
        import pygaps

        rows = sorted(self.points, key=lambda r: (r["branch"] != "adsorption", r["index"]))
        df = pd.DataFrame(
            {
                "pressure": [r["pressure_bar"] for r in rows],
                "loading": [r["uptake"] for r in rows],
                "amount_sigma": [r.get("sigma") for r in rows],
                "branch": [0 if r["branch"] == "adsorption" else 1 for r in rows],
            }
        )
        other = ["amount_sigma"]
        if all(r.get("p0_bar") for r in rows):
            df["p0"] = [r["p0_bar"] for r in rows]
            other.append("p0")
        with quiet():
            return pygaps.PointIsotherm(
                isotherm_data=df,
                pressure_key="pressure",
                loading_key="loading",
                other_keys=other,
                material=material or self.sample_id or f"launch {self.launch_id}",
                adsorbate=self.gas,
                temperature=self.temperature_k,
                temperature_unit="K",
                pressure_mode="absolute",
                pressure_unit="bar",
                loading_basis="molar",
                loading_unit="mmol",
                material_basis="mass",
                material_unit="g",
                **properties,
            )


_PER_POINT = {
    "pressure_bar",
    "sigma",
    "branch",
    "point",
    "equilibration_s",
    "equilibrated",
    "relative_pressure",
    "temperature_k",
}


def measured_isotherms(rows: Iterable[Any]) -> list[MeasuredIsotherm]:
    """Group point measurements (`uptake@<p>bar`, `uptake_des@<p>bar`) by launch."""
    by_launch: dict[int, list[Any]] = {}
    for m in rows:
        if m.name.startswith(("uptake@", "uptake_des@")) and m.provenance:
            by_launch.setdefault(m.launch_id, []).append(m)
    out = []
    for launch_id, ms in sorted(by_launch.items()):
        pts = []
        for k, m in enumerate(ms):
            pv = m.provenance
            value = float(Q_(m.value, m.unit).m_as("mmol/g"))
            rel = pv.get("relative_pressure")
            pts.append(
                {
                    "index": pv.get("point", k),
                    "pressure_bar": float(pv["pressure_bar"]),
                    "uptake": value,
                    "sigma": pv.get("sigma"),
                    "branch": pv.get("branch", "adsorption"),
                    "p0_bar": float(pv["pressure_bar"]) / rel if rel else None,
                    "temperature_k": pv.get("temperature_k"),
                }
            )
        temps = [p["temperature_k"] for p in pts if p["temperature_k"] is not None]
        first = ms[0].provenance
        shared = {
            k: v
            for k, v in first.items()
            if k not in _PER_POINT and k != "gas" and all(m.provenance.get(k) == v for m in ms)
        }
        out.append(
            MeasuredIsotherm(
                launch_id=launch_id,
                sample_id=ms[0].sample_id,
                gas=str(first.get("gas", "?")),
                temperature_k=round(sum(temps) / len(temps), 2) if temps else math.nan,
                points=pts,
                meta=shared,
            )
        )
    return out


#: pyGAPS adsorbate names for the gases the analyzers dose
ADSORBATES = {"CO2": "carbon dioxide", "N2": "nitrogen", "He": "helium"}


def aif_text(iso: Any, extra: dict[str, str] | None = None) -> str:
    """The isotherm as an AIF (pyGAPS's writer), with further AIF data items (degas time,
    method, isotherm type) placed among the metadata, before the data loops."""
    import pygaps.parsing as pgp
    from gemmi import cif

    with quiet():
        text = pgp.isotherm_to_aif(iso)
    lines = "".join(f"{tag} {cif.quote(str(value))}\n" for tag, value in (extra or {}).items())
    head, loop, rest = text.partition("\nloop_")
    text = head + "\n" + lines + loop + rest if loop else text + lines
    return text if text.endswith("\n") else text + "\n"


def read_aif(path: str | Path) -> Any:
    import pygaps.parsing as pgp

    with quiet():
        return pgp.isotherm_from_aif(str(path))
