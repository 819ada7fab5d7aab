"""Model fits (dual-site Langmuir, Langmuir, Henry) on the capture window, each only where
there are enough points for its parameters, and uptakes read at a pressure: the measured point
where one was measured there, else the fit, flagged when read beyond the data it was fitted to.
(Linear interpolation between points biases a concave isotherm low: −0.4 to −2.6 % at 0.15
bar on the analyzers' spacing, where the fit is within 0.5 %.)"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ppu.core.units import Q_, to_json
from protocols.isotherms.basis import NORMALIZED_UNITS
from protocols.isotherms.reading import branch_points, branch_sigmas, quiet, short_reason

#: below this the sample adsorbs nothing we can tell from an analyzer's noise
NO_MEASURABLE_UPTAKE_MMOL_G = 0.02


CAPTURE_WINDOW_BAR = 1.25  # fit here when the isotherm has ≥ MIN_FIT_POINTS in it
MIN_FIT_POINTS = 4
MODELS = ("DSLangmuir", "Langmuir", "Henry")
#: each model's parameters: a model is fitted to at least twice as many points
PARAMETERS = {"DSLangmuir": 4, "Langmuir": 2, "Henry": 1}
#: a pressure within this share of a measured point's is that point
MEASURED_WITHIN = 0.001
#: reading a fit this little beyond its points (a last point at 0.999 bar, read at 1 bar) is
#: not flagged as an extrapolation
EXTRAPOLATION_MARGIN = 0.02
#: a fit whose RMSE exceeds this share of the largest loading (and the noise) does not
#: describe the points
POOR_FIT_SHARE = 0.05


EXTRAPOLATE_ABOVE = 1.5  # the fit may be read up to this × the highest measured pressure


def min_points(model: str) -> int:
    return max(2, 2 * PARAMETERS.get(model, 2))


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
    from_bar: float | None = None
    poor: bool = False  # RMSE beyond the noise and POOR_FIT_SHARE of the largest loading

    def loading_at(self, pressure_bar: float) -> float:
        with quiet():
            return float(self.isotherm.loading_at(pressure_bar))

    def beyond(self, pressure_bar: float) -> bool:
        """Whether reading the fit at this pressure extrapolates beyond its points."""
        lo = self.from_bar if self.from_bar is not None else 0.0
        hi = self.up_to_bar if self.up_to_bar is not None else math.inf
        m = EXTRAPOLATION_MARGIN
        return not (lo * (1 - m) <= pressure_bar <= hi * (1 + m))

    def warnings(self) -> list[str]:
        out = []
        if self.model is not None and self.poor:
            out.append(
                f"the {self.model} fit does not describe the points (RMSE {self.rmse:.3g} "
                "mmol/g): uptakes are interpolated between points instead"
            )
        short = [m for m, why in self.failed.items() if why.startswith("needs ")]
        if short and self.points:
            out.append(
                f"{self.points} point(s): "
                + ", ".join(f"{m} needs {min_points(m)}" for m in short)
                + (f"; fitted {self.model}" if self.model else "; no model fitted")
            )
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            "rmse": None if self.rmse is None else to_json(Q_(self.rmse, "mmol/g")),
            "points": self.points,
            "from": None if self.from_bar is None else to_json(Q_(self.from_bar, "bar")),
            "up_to": None if self.up_to_bar is None else to_json(Q_(self.up_to_bar, "bar")),
            "poor": self.poor,
            "failed": self.failed,
        }


def fit(iso: Any, *, max_pressure_bar: float | None = None, models: Sequence[str] = MODELS) -> Fit:
    """Fit `models` in turn to the adsorption branch (normalized), the first that describes
    the points wins (RMSE within POOR_FIT_SHARE of the largest loading, or twice the typical
    1σ); a model is tried only on at least twice as many points as it has parameters. When
    none describes them, the closest is returned, marked `poor`.

    Points above `max_pressure_bar` are left out when at least MIN_FIT_POINTS remain. A DSL
    whose two sites come out the same (or one empty) is a Langmuir: Langmuir is taken."""
    import pygaps

    p, n = branch_points(iso)
    if max_pressure_bar is not None:
        kept = [(a, b) for a, b in zip(p, n, strict=True) if a <= max_pressure_bar]
        if len(kept) >= MIN_FIT_POINTS:
            p, n = [a for a, _ in kept], [b for _, b in kept]
    failed: dict[str, str] = {}
    if not p:
        return Fit(None, failed={m: "no points" for m in models})
    sub = None
    poor: list[Fit] = []
    tolerance = max(POOR_FIT_SHARE * max(abs(x) for x in n), 2 * _typical_sigma(iso), 0.005)
    for name in models:
        if len(p) < min_points(name):
            failed[name] = (
                f"needs {min_points(name)} points for its {PARAMETERS.get(name, 2)} "
                f"parameter(s), has {len(p)}"
            )
            continue
        if sub is None:
            sub = pygaps.PointIsotherm(
                pressure=p,
                loading=n,
                material=str(iso.material),
                adsorbate=str(iso.adsorbate),
                temperature=float(iso.temperature),
                **NORMALIZED_UNITS,
            )
        try:
            with quiet():
                model = pygaps.ModelIsotherm.from_pointisotherm(sub, model=name)
        except Exception as e:
            failed[name] = short_reason(e)
            continue
        params = {k: float(v) for k, v in model.model.params.items()}
        bad = _implausible(name, params)
        if bad:
            failed[name] = bad
            continue
        # pyGAPS's own RMSE is a share of the loading range: this one is in mmol/g
        with quiet():
            fitted_n = [float(model.loading_at(a)) for a in p]
        rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(fitted_n, n, strict=True)) / len(n))
        found = Fit(name, params, rmse, len(p), max(p), failed, model, from_bar=min(p))
        if rmse <= tolerance:
            return found
        # a poor fit (pyGAPS's optimiser stuck, or the wrong shape): the next model may do
        failed[name] = f"does not describe the points (RMSE {rmse:.3g} mmol/g)"
        poor.append(found)
    if poor:
        best = min(poor, key=lambda f: f.rmse if f.rmse is not None else math.inf)
        del failed[best.model or ""]
        best.poor = True
        return best
    return Fit(None, points=len(p), up_to_bar=max(p), from_bar=min(p), failed=failed)


def _typical_sigma(iso: Any) -> float:
    sig = branch_sigmas(iso)
    return sorted(sig)[len(sig) // 2] if sig else 0.0


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
    extrapolated: bool = False  # read from the fit beyond the points it was fitted to

    def describe(self) -> dict[str, Any]:
        return {
            "pressure": to_json(Q_(self.pressure_bar, "bar")),
            "uptake": None if self.value is None else to_json(Q_(self.value, "mmol/g")),
            "method": self.method,
            "extrapolated": self.extrapolated,
        }

    def warning(self, gas: str) -> str | None:
        if not self.extrapolated:
            return None
        return f"{gas} uptake at {self.pressure_bar:g} bar: {self.method}"


def uptake_at(iso: Any, pressure_bar: float, fitted: Fit | None) -> Uptake:
    """The measured point at that pressure; else the fit (flagged when beyond its points);
    interpolation between points only when no model describes them."""
    p, n = branch_points(iso)
    for a, b in zip(p, n, strict=True):
        if math.isclose(a, pressure_bar, rel_tol=MEASURED_WITHIN):
            return Uptake(pressure_bar, b, "measured")
    usable = fitted is not None and fitted.model is not None and not fitted.poor
    if usable and p:
        assert fitted is not None
        if pressure_bar > EXTRAPOLATE_ABOVE * p[-1]:
            return Uptake(pressure_bar, None, f"beyond the measured range (to {p[-1]:.3g} bar)")
        value = fitted.loading_at(pressure_bar)
        if fitted.beyond(pressure_bar):
            lo, hi = fitted.from_bar or 0.0, fitted.up_to_bar or 0.0
            side = (
                f"below its lowest point ({lo:.3g} bar)"
                if pressure_bar < lo
                else (f"above its highest point ({hi:.3g} bar)")
            )
            return Uptake(pressure_bar, value, f"{fitted.model} fit, extrapolated {side}", True)
        return Uptake(pressure_bar, value, f"{fitted.model} fit")
    m = EXTRAPOLATION_MARGIN
    if len(p) >= 2 and pressure_bar <= p[-1] * (1 + m):
        import numpy as np

        why = "the fit is poor" if fitted is not None and fitted.model else "no model fits"
        if pressure_bar < p[0] * (1 - m):  # every isotherm starts at the origin
            why += "; below the first point, toward zero"
        value = float(np.interp(pressure_bar, [0.0, *p], [0.0, *n]))
        return Uptake(pressure_bar, value, f"interpolated ({why})")
    return Uptake(pressure_bar, None, "outside the measured points and no model describes them")


def measurable(iso: Any) -> bool:
    _, n = branch_points(iso)
    return bool(n) and max(n) >= NO_MEASURABLE_UPTAKE_MMOL_G
