"""The volumetric mass balance and its uncertainty, as pure functions of readings: the free
space from a helium expansion, the amount adsorbed dose by dose, the 1-sigma each error
contributes (GUM), and reading an isotherm at a pressure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from protocols.sorption.thermo import density, density_slope

GAUGE_ACCURACY = 0.0012  # ± limit, fraction of reading: a capacitance manometer's accuracy
VOLUME_ACCURACY = 0.005  # ± limit, fraction: the manifold volume's calibration
RECTANGULAR = math.sqrt(3.0)  # a ± limit over this is its standard uncertainty (GUM 4.3.7)


# -- the mass balance and its uncertainty ---------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """A pressure that enters the mass balance: its value, and how its noise was reduced
    (`weight` scales one reading's noise variance: 1/3 for a mean of three, the line's
    prediction factor for an equilibrium read off a line)."""

    pa: float
    weight: float = 1.0
    drift_pa: float = 0.0  # how far the pressure moved while the readings were taken


def _as_reading(value: float | Reading) -> Reading:
    return value if isinstance(value, Reading) else Reading(float(value))


@dataclass(frozen=True)
class GaugeCalibration:
    """What the kernel knows of its gauge's errors: the accuracy limit (a gain common to
    all its readings), the digits it prints and the pressure per display unit (resolution),
    and the reading noise estimated from the readings themselves (relative, 1σ)."""

    accuracy: float = GAUGE_ACCURACY
    digits: int = 4
    pa_per_unit: float = 133.322
    noise: float = 0.0

    @property
    def gain_u(self) -> float:
        return self.accuracy / RECTANGULAR

    def step_pa(self, pa: float) -> float:
        """One count of the last printed digit at this pressure."""
        v = abs(pa) / self.pa_per_unit
        if v <= 0:
            return 0.0
        return 10 ** (math.floor(math.log10(v)) - self.digits + 1) * self.pa_per_unit

    def variance(self, r: Reading) -> float:
        """Variance of one (possibly averaged) reading from its own errors, Pa²: noise
        averages down; the rounding to the last digit (±half a step, rectangular) averages
        down only as far as the noise dithers it: the rounding errors of two readings of
        one pressure correlate by exp(−2π² σ²/q²) (the sawtooth's first harmonic), less
        as the pressure drifts across the steps."""
        sigma, q = self.noise * r.pa, self.step_pa(r.pa)
        rho = math.exp(-2 * math.pi**2 * sigma**2 / q**2) / (1 + r.drift_pa / q) if q > 0 else 0.0
        return r.weight * sigma**2 + q**2 / 12.0 * (rho + (1 - rho) * r.weight)


@dataclass(frozen=True)
class FreeSpace:
    """The cell's free volume at the bath, from one helium dose, and how it depends on the
    two helium readings: ((∂V_f/∂p, reading), ...)."""

    volume_m3: float
    sensitivities: tuple[tuple[float, Reading], ...]

    @property
    def gain_sensitivity(self) -> float:
        """∂V_f/∂ln(gain): ≈ 0, a ratio of two readings of one gauge (real-gas residue)."""
        return sum(dv * r.pa for dv, r in self.sensitivities)


def free_space(
    manifold_m3: float,
    manifold_k: float,
    cell_k: float,
    p1: float | Reading,
    p2: float | Reading,
) -> FreeSpace:
    r1, r2 = _as_reading(p1), _as_reading(p2)
    d = density("He", manifold_k, r1.pa) - density("He", manifold_k, r2.pa)
    rc = density("He", cell_k, r2.pa)
    if d <= 0 or rc <= 0:
        raise ValueError(
            f"free space: helium did not expand into the cell (p1 {r1.pa:.1f} Pa, "
            f"p2 {r2.pa:.1f} Pa)"
        )
    v = manifold_m3 * d / rc
    dv_dp1 = manifold_m3 * density_slope("He", manifold_k, r1.pa) / rc
    dv_dp2 = (
        manifold_m3
        * (-density_slope("He", manifold_k, r2.pa) * rc - d * density_slope("He", cell_k, r2.pa))
        / rc**2
    )
    return FreeSpace(v, ((dv_dp1, r1), (dv_dp2, r2)))


@dataclass
class MassBalance:
    """Cumulative amount adsorbed, dose after dose, with its first-order 1σ.

    `gauge.noise` may be updated between doses (it is estimated as the run goes); every
    variance is recomputed from the stored sensitivities, so all readings use the latest."""

    gas: str
    manifold_m3: float
    manifold_k: float
    space: FreeSpace
    gauge: GaugeCalibration = field(default_factory=GaugeCalibration)
    volume_accuracy: float = VOLUME_ACCURACY
    left_manifold: float = 0.0  # Σ_j ρ(p_m,j) − ρ(p_j) at T_m, mol/m³
    # (∂n/∂p, reading) of every reading in the manifold sum: fills +, equilibria −
    manifold_terms: list[tuple[float, Reading]] = field(default_factory=list)
    doses: list[tuple[float, float, float]] = field(default_factory=list)
    last_point: tuple[float, float] | None = None  # (p, n) of the previous dose
    last_parts: dict[str, float] = field(default_factory=dict)  # 1σ parts of the last dose

    def amount(self, p_fill: float, p_eq: float, cell_k: float) -> float:
        """n (mol) were this dose read now at `p_eq`, without booking it."""
        g, vm, tm, vf = self.gas, self.manifold_m3, self.manifold_k, self.space.volume_m3
        left = self.left_manifold + density(g, tm, p_fill) - density(g, tm, p_eq)
        return vm * left - vf * density(g, cell_k, p_eq)

    def gas_capacity(self, p: float, cell_k: float) -> float:
        """Moles the gas phase (manifold + cell) takes up per pascal at `p`, mol/Pa."""
        g = self.gas
        return self.manifold_m3 * density_slope(g, self.manifold_k, p) + (
            self.space.volume_m3 * density_slope(g, cell_k, p)
        )

    def dose(
        self,
        p_fill: float | Reading,
        p_eq: float | Reading,
        cell_k: float,
        remaining_mol: float = 0.0,
    ) -> tuple[float, float]:
        """Book one dose (manifold at `p_fill`, equilibrium at `p_eq`, `remaining_mol` still
        to be adsorbed as projected): (n mol, σ mol). σ is that of the uptake at the
        pressure the point is reported at; its parts are left in `last_parts`."""
        fill, eq = _as_reading(p_fill), _as_reading(p_eq)
        g, vm, tm, vf = self.gas, self.manifold_m3, self.manifold_k, self.space.volume_m3
        self.left_manifold += density(g, tm, fill.pa) - density(g, tm, eq.pa)
        rho_cell = density(g, cell_k, eq.pa)
        n = vm * self.left_manifold - vf * rho_cell
        self.manifold_terms.append((vm * density_slope(g, tm, fill.pa), fill))
        d_cell = vf * density_slope(g, cell_k, eq.pa)  # the cell term, this dose only
        d_eq = -vm * density_slope(g, tm, eq.pa)
        gauge = self.gauge
        slope = self._slope(eq.pa, n)
        # each reading's own errors, independent; the equilibrium reading's moves the
        # reported pressure too, and with it the uptake it should be compared with
        var_readings = sum(c**2 * gauge.variance(r) for c, r in self.manifold_terms)
        var_readings += (d_eq - d_cell - slope) ** 2 * gauge.variance(eq)
        var_readings += sum(
            (rho_cell * dv) ** 2 * gauge.variance(r) for dv, r in self.space.sensitivities
        )
        # the gain common to every reading, seen through n and through the reported pressure
        dn_dgain = (
            sum(c * r.pa for c, r in self.manifold_terms)
            + (d_eq - d_cell) * eq.pa
            - rho_cell * self.space.gain_sensitivity
        )
        gain = (dn_dgain - slope * eq.pa) * gauge.gain_u
        volume = n * self.volume_accuracy / RECTANGULAR
        # the projected uptake still to come is a limit, not a standard deviation (the
        # window's slope carried on for τ bounds it): like the other limits, over √3
        unsettled = remaining_mol / RECTANGULAR
        self.manifold_terms.append((d_eq, eq))  # p_eq stays in every later dose's sum
        self.doses.append((fill.pa, eq.pa, cell_k))
        self.last_point = (eq.pa, n)
        self.last_parts = {
            "readings": math.sqrt(var_readings),
            "gauge_gain": abs(gain),
            "manifold_volume": abs(volume),
            "equilibrium": abs(unsettled),
        }
        var = var_readings + gain**2 + volume**2 + unsettled**2
        return n, math.sqrt(var)

    def _slope(self, p: float, n: float) -> float:
        """dn/dp of the isotherm here (mol/Pa): the secant from the previous point, or
        from the origin for the first."""
        if self.last_point is None:
            return n / p if p > 0 else 0.0
        p0, n0 = self.last_point
        return (n - n0) / (p - p0) if p != p0 else 0.0

    def gas_needed(self, p_prev: float, p_target: float, cell_k: float) -> float:
        """Moles the cell's gas phase needs to go from `p_prev` to `p_target`."""
        g, vf = self.gas, self.space.volume_m3
        return vf * (density(g, cell_k, p_target) - density(g, cell_k, p_prev))


@dataclass
class Point:
    pressure_pa: float
    uptake_mmol_g: float
    sigma_mmol_g: float
    cell_k: float
    branch: str
    equilibration_s: float
    settled: bool


def interpolate(points: list[Point], pressure_pa: float) -> tuple[float, float]:
    """(uptake, σ) at `pressure_pa` by linear interpolation of the adsorption branch;
    a little beyond the last point (≤ 5 %) by extrapolation; NaN further out."""
    ads = sorted((p for p in points if p.branch == "adsorption"), key=lambda p: p.pressure_pa)
    if not ads:
        return math.nan, math.nan
    if len(ads) == 1:
        only = ads[0]
        if math.isclose(only.pressure_pa, pressure_pa, rel_tol=0.02):
            return only.uptake_mmol_g, only.sigma_mmol_g
        return math.nan, math.nan
    if pressure_pa < ads[0].pressure_pa or pressure_pa > ads[-1].pressure_pa * 1.05:
        return math.nan, math.nan
    i = next((k for k in range(1, len(ads) - 1) if pressure_pa <= ads[k].pressure_pa), len(ads) - 1)
    lo, hi = ads[i - 1], ads[i]
    f = (pressure_pa - lo.pressure_pa) / (hi.pressure_pa - lo.pressure_pa)
    return (
        lo.uptake_mmol_g + f * (hi.uptake_mmol_g - lo.uptake_mmol_g),
        lo.sigma_mmol_g + f * (hi.sigma_mmol_g - lo.sigma_mmol_g),
    )
