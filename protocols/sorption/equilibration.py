"""When a dose has come to equilibrium: the pressure's drift per interval, and the uptake a
first-order relaxation says is still to come."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EQUILIBRIUM_UPTAKE_FRACTION = 0.005  # at most this much of the uptake may still be to come
_TAU_GRID = 48  # steps of the log grid of τ in `relaxation_fit`


@dataclass(frozen=True)
class Settling:
    """How a dose came to equilibrium, as `Analyzer.equilibrate` saw it."""

    pressure_pa: float  # on the line through the last readings, at the last one
    waited_s: float
    settled: bool
    weight: float  # the line value's noise variance over one reading's
    remaining_pa: float  # change the fitted relaxation still projects (signed)
    tau_s: float  # its time constant (0: none fitted)
    drift_pa: float = 0.0  # the line's change over its window


def drift_line(ts: list[float], ps: list[float]) -> tuple[float, float, float]:
    """Least-squares slope, the line's value at the last time, and that value's variance
    over one reading's (1/n + (t_last − t̄)²/Sxx)."""
    n = len(ts)
    tm = sum(ts) / n
    pm = sum(ps) / n
    sxx = sum((t - tm) ** 2 for t in ts)
    slope = sum((t - tm) * (p - pm) for t, p in zip(ts, ps, strict=True)) / sxx if sxx else 0.0
    weight = 1 / n + ((ts[-1] - tm) ** 2 / sxx if sxx else 0.0)
    return slope, pm + slope * (ts[-1] - tm), weight


def relaxation_fit(ts: list[float], ps: list[float]) -> tuple[float, float]:
    """Fit p(t) = p∞ + A exp(−(t − t_last)/τ) to a dose's readings (the first, taken while
    manifold and cell still equalise, left out): (A, the change still to come, and τ).
    τ is searched on a log grid up to twice the span seen; when the readings do not bend,
    the best τ is the longest and A the line's slope × τ."""
    if len(ts) < 5:
        return 0.0, 0.0
    t, p = ts[1:], ps[1:]
    span = t[-1] - t[0]
    if span <= 0:
        return 0.0, 0.0
    lo, hi = max(span / (len(t) - 1), 1e-3), 2.0 * span
    # every τ of the grid at once: one row per τ (numpy, as this runs at every reading)
    taus = lo * (hi / lo) ** (np.arange(_TAU_GRID + 1) / _TAU_GRID)
    tv, pv = np.asarray(t), np.asarray(p)
    x = np.exp(np.minimum((tv[-1] - tv)[None, :] / taus[:, None], 60.0))
    dx = x - x.mean(axis=1, keepdims=True)
    dp = pv - pv.mean()
    sxx = (dx * dx).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (dx * dp).sum(axis=1) / sxx
        ssr = ((dp[None, :] - a[:, None] * dx) ** 2).sum(axis=1)
    ssr[~(sxx > 0) | ~np.isfinite(ssr)] = np.inf
    i = int(np.argmin(ssr))  # the first of equals, the shortest τ
    if not math.isfinite(ssr[i]):
        return 0.0, 0.0
    return float(a[i]), float(taus[i])


@dataclass(frozen=True)
class Equilibration:
    interval_s: float
    tolerance: float
    max_wait_s: float
    window: int = 10  # readings in the line whose slope is the change per interval
    uptake_fraction: float = EQUILIBRIUM_UPTAKE_FRACTION  # at most this still to come
