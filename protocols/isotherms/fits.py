"""Model fits (dual-site Langmuir, Langmuir, Henry) on the capture window, and uptakes read at
a pressure: interpolated where measured, from the fit just outside."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ppu.core.units import Q_, to_json
from protocols.isotherms.reading import NORMALIZED_UNITS, branch_points, quiet, short_reason

#: below this the sample adsorbs nothing we can tell from an analyzer's noise
NO_MEASURABLE_UPTAKE_MMOL_G = 0.02


CAPTURE_WINDOW_BAR = 1.25  # fit here when the isotherm has ≥ MIN_FIT_POINTS in it
MIN_FIT_POINTS = 4
MODELS = ("DSLangmuir", "Langmuir", "Henry")


EXTRAPOLATE_ABOVE = 1.5  # the fit may be read up to this × the highest measured pressure


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

    p, n = branch_points(iso)
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
            failed[name] = short_reason(e)
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
    p, n = branch_points(iso)
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
    _, n = branch_points(iso)
    return bool(n) and max(n) >= NO_MEASURABLE_UPTAKE_MMOL_G
