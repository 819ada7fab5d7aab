"""The volumetric mass balance and its uncertainty, as pure functions of readings: the free
space from a helium expansion, the amount adsorbed dose by dose, the 1-sigma each error
contributes (GUM), and reading an isotherm at a pressure.

What a point's uncertainty is made of (GUM: first order, each error where it acts):

* each pressure reading's own errors, independent from reading to reading: the gauge's
  noise (estimated from the readings, Type A) and its A/D steps, through the analytic
  sensitivity of n to that reading;
* errors common to many readings, each varied in turn through the whole mass balance
  (numerically): each gauge's gain (its accuracy, a fraction of reading) and what zeroing
  left of its offset (one A/D step); an offset of the manifold's temperature sensor (the
  gas may be a few tenths of a kelvin from it); of the cell's temperature (the bath probe
  against the sample, or, at 77 K, the temperature the p0 cell gives and the cell's
  difference from it); the thermal transpiration correlation (a fraction of its
  correction); the liquid nitrogen's boil-off rate (the cold zone it leaves);
* the calibrated manifold volume, which scales V_f too, so n scales with it;
* the uptake the equilibration projects is still to come: corrected for, its projection
  ±100 % a limit.

An error that moves the pressure the point is reported at also moves the truth it is
compared with, by the isotherm's local slope; one that moves its temperature, by
−∂q/∂T = slope · p · q_st / (R T²) with a typical isosteric heat for the gas. Limits (±a)
count as rectangular, a/√3 (GUM 4.3.7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from protocols.sorption import transpiration
from protocols.sorption.thermo import R, density, density_slope

GAUGE_ACCURACY = 0.002  # ± limit, fraction of reading: a capacitance gauge's
VOLUME_ACCURACY = 0.005  # ± limit, fraction: the manifold volume's calibration
MANIFOLD_TEMPERATURE_ACCURACY_K = 0.3  # ± limit: the manifold's gas against its sensor
BATH_TEMPERATURE_ACCURACY_K = 0.1  # ± limit: a bath's probe against the sample
CELL_P0_ACCURACY_K = 0.02  # ± limit: the cell against the p0 cell, in one dewar
LN2_FALL_ACCURACY = 0.3  # ± limit, fraction of the dewar's nominal boil-off rate
LN2_MARK_ACCURACY_M = 2e-3  # ± limit: how well a top-up meets the dewar's mark
#: a typical isosteric heat, to carry a temperature error to the uptake (J/mol)
ISOSTERIC_HEAT_J_MOL = {"CO2": 30e3, "N2": 15e3, "Ar": 15e3, "He": 0.0}
RECTANGULAR = math.sqrt(3.0)  # a ± limit over this is its standard uncertainty (GUM 4.3.7)


# -- readings and the gauges that make them ------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """A pressure that enters the mass balance: its value, which gauge read it, the
    temperature of the volume it was read in (the manifold's, as read then), and how its
    noise was reduced (`weight` scales one reading's noise variance: 1/3 for a mean of three,
    the line's prediction factor for an equilibrium read off a line)."""

    pa: float
    weight: float = 1.0
    drift_pa: float = 0.0  # how far the pressure moved while the readings were taken
    head: int = 1
    kelvin: float | None = None


def _as_reading(value: float | Reading) -> Reading:
    return value if isinstance(value, Reading) else Reading(float(value))


@dataclass(frozen=True)
class Head:
    """One gauge of the manometer, as the kernel knows it: its accuracy (a gain common to all
    its readings, ± fraction of reading), its A/D step and the digits its controller prints,
    and the noise of one reading, estimated from the readings themselves (Pa, 1σ)."""

    channel: int = 1
    full_scale_pa: float = 1e5
    accuracy: float = GAUGE_ACCURACY
    step_pa: float = 0.0
    noise_pa: float = 0.0
    digits: int = 5
    pa_per_unit: float = 100.0

    @property
    def gain_u(self) -> float:
        return self.accuracy / RECTANGULAR

    @property
    def zero_u(self) -> float:
        """What zeroing leaves of the offset: within one A/D step."""
        return self.step_pa / RECTANGULAR

    def quantum(self, pa: float) -> float:
        """The larger of the A/D step and the last printed digit at this pressure."""
        v = abs(pa) / self.pa_per_unit
        printed = 10 ** (math.floor(math.log10(v)) - self.digits + 1) * self.pa_per_unit if v else 0
        return max(self.step_pa, printed)

    def variance(self, r: Reading) -> float:
        """Variance of one (possibly averaged) reading from its own errors, Pa²: noise
        averages down; the rounding to a step (±half a step, rectangular) averages down only
        as far as the noise dithers it: the rounding errors of two readings of one pressure
        correlate by exp(−2π² σ²/q²) (the sawtooth's first harmonic), less as the pressure
        drifts across the steps."""
        sigma, q = self.noise_pa, self.quantum(r.pa)
        rho = math.exp(-2 * math.pi**2 * sigma**2 / q**2) / (1 + r.drift_pa / q) if q > 0 else 0.0
        return r.weight * sigma**2 + q**2 / 12.0 * (rho + (1 - rho) * r.weight)


@dataclass(frozen=True)
class GaugeCalibration:
    """The manometer's gauges, by channel."""

    heads: tuple[Head, ...] = (Head(),)

    def head(self, channel: int) -> Head:
        for h in self.heads:
            if h.channel == channel:
                return h
        return self.heads[0]

    def variance(self, r: Reading) -> float:
        return self.head(r.head).variance(r)

    @property
    def noise(self) -> dict[int, float]:
        return {h.channel: h.noise_pa for h in self.heads}


@dataclass(frozen=True)
class Shift:
    """Errors common to many readings, as the uncertainty analysis varies them (zero: the
    values as read)."""

    gain: tuple[tuple[int, float], ...] = ()  # (gauge, relative) pairs
    zero: tuple[tuple[int, float], ...] = ()  # (gauge, Pa)
    manifold_k: float = 0.0
    cell_k: float = 0.0
    transpiration: float = 1.0  # scale of the correction
    ln2_fall: float = 1.0  # scale of the boil-off rate

    def pa(self, r: Reading) -> float:
        g = dict(self.gain).get(r.head, 0.0)
        z = dict(self.zero).get(r.head, 0.0)
        return r.pa * (1.0 + g) + z

    def manifold(self, r: Reading, default_k: float) -> float:
        return (r.kelvin if r.kelvin is not None else default_k) + self.manifold_k


NO_SHIFT = Shift()


@dataclass(frozen=True)
class Cell:
    """What the kernel knows of the sample cell: its stem's inner diameter (thermal
    transpiration, and the cold volume a falling nitrogen level gives up), the correction it
    applies, and the dewar's nominal boil-off (m/s; 0 without a dewar)."""

    stem_diameter_m: float = 6e-3
    transpiration: str = "weber-schmidt"
    ln2_fall_m_s: float = 0.0

    @property
    def stem_area_m2(self) -> float:
        return math.pi * self.stem_diameter_m**2 / 4.0

    def cold_pressure(
        self, gas: str, warm_pa: float, warm_k: float, cold_k: float, scale: float = 1.0
    ) -> float:
        if self.transpiration == "none":
            return warm_pa
        d = self.stem_diameter_m
        return transpiration.cold_pressure(gas, warm_pa, warm_k, cold_k, d, scale)

    def cold_slope(self, gas: str, warm_pa: float, warm_k: float, cold_k: float) -> float:
        if self.transpiration == "none":
            return 1.0
        return transpiration.slope(gas, warm_pa, warm_k, cold_k, self.stem_diameter_m)


# -- the free space ------------------------------------------------------------------------
@dataclass(frozen=True)
class FreeSpace:
    """The cell's free volume as an equivalent volume at the cold zone's temperature, from
    one helium expansion, with what is needed to work it out again under a `Shift`."""

    volume_m3: float
    sensitivities: tuple[tuple[float, Reading], ...]  # ((∂V_f/∂p, reading), ...)
    manifold_m3: float = 0.0
    manifold_k: float = 308.15
    cell_k: float = 298.15
    p1: Reading = field(default_factory=lambda: Reading(0.0))
    p2: Reading = field(default_factory=lambda: Reading(0.0))
    cell: Cell = field(default_factory=Cell)
    ln2_elapsed_s: float | None = None  # since the dewar was filled, when measured

    def volume(self, shift: Shift = NO_SHIFT) -> float:
        if shift == NO_SHIFT or self.manifold_m3 <= 0:
            return self.volume_m3
        return _free_volume(self, shift)

    def at(self, manifold_k: float, cell_k: float) -> FreeSpace:
        """The same helium readings worked out at these temperatures (as better known)."""
        return free_space(
            self.manifold_m3,
            manifold_k,
            cell_k,
            self.p1,
            self.p2,
            cell=self.cell,
            ln2_elapsed_s=self.ln2_elapsed_s,
        )


def _free_volume(fs: FreeSpace, shift: Shift) -> float:
    p1, p2 = shift.pa(fs.p1), shift.pa(fs.p2)
    t1, t2 = shift.manifold(fs.p1, fs.manifold_k), shift.manifold(fs.p2, fs.manifold_k)
    t_c = fs.cell_k + shift.cell_k
    p_c = fs.cell.cold_pressure("He", p2, t2, t_c, shift.transpiration)
    d = density("He", t1, p1) - density("He", t2, p2)
    return fs.manifold_m3 * d / density("He", t_c, p_c)


def free_space(
    manifold_m3: float,
    manifold_k: float,
    cell_k: float,
    p1: float | Reading,
    p2: float | Reading,
    *,
    cell: Cell | None = None,
    ln2_elapsed_s: float | None = None,
) -> FreeSpace:
    """V_f = V_m [ρ(p1, T_m) − ρ(p2, T_m)] / ρ(p2', T_c): helium, not adsorbed, expanded from
    the manifold into the evacuated cell (p2' the cold zone's pressure, p2 nearly)."""
    r1, r2 = _as_reading(p1), _as_reading(p2)
    cell = cell or Cell()
    t1, t2 = r1.kelvin or manifold_k, r2.kelvin or manifold_k
    d = density("He", t1, r1.pa) - density("He", t2, r2.pa)
    p_c = cell.cold_pressure("He", r2.pa, t2, cell_k)
    rc = density("He", cell_k, p_c)
    if d <= 0 or rc <= 0:
        raise ValueError(
            f"free space: helium did not expand into the cell (p1 {r1.pa:.1f} Pa, "
            f"p2 {r2.pa:.1f} Pa)"
        )
    v = manifold_m3 * d / rc
    dv_dp1 = manifold_m3 * density_slope("He", t1, r1.pa) / rc
    dv_dp2 = (
        manifold_m3
        * (-density_slope("He", t2, r2.pa) * rc - d * density_slope("He", cell_k, p_c))
        / rc**2
    )
    return FreeSpace(
        v, ((dv_dp1, r1), (dv_dp2, r2)), manifold_m3, manifold_k, cell_k, r1, r2, cell,
        ln2_elapsed_s,
    )  # fmt: skip


# -- the mass balance ----------------------------------------------------------------------
@dataclass(frozen=True)
class Dose:
    """One dose as booked: the manifold filled to `fill`, equilibrium at `eq` (both read on
    the manifold), the cold zone at `cell_k`; with a dewar, how long since it was last
    filled and which filling that was."""

    fill: Reading
    eq: Reading
    cell_k: float
    ln2_elapsed_s: float | None = None
    ln2_fill: int = 0


@dataclass
class MassBalance:
    """Cumulative amount adsorbed, dose after dose, with its first-order 1σ.

    `gauge` may be updated between doses (its noise is estimated as the run goes); every
    variance is worked out again from the stored readings, so all use the latest."""

    gas: str
    manifold_m3: float
    manifold_k: float
    space: FreeSpace
    gauge: GaugeCalibration = field(default_factory=GaugeCalibration)
    volume_accuracy: float = VOLUME_ACCURACY
    cell_accuracy_k: float = BATH_TEMPERATURE_ACCURACY_K
    doses: list[Dose] = field(default_factory=list)
    last_point: tuple[float, float] | None = None  # (p_cold, n) of the previous dose, booked
    reported: tuple[float, float] = (0.0, 0.0)  # (p_cold, n) of the last point reported
    last_parts: dict[str, float] = field(default_factory=dict)  # 1σ parts of the last dose

    @property
    def cell(self) -> Cell:
        return self.space.cell

    # -- the arithmetic, under a shift ----------------------------------------------------
    def free_volume(
        self, cell_k: float, ln2_elapsed_s: float | None, warm_k: float, shift: Shift = NO_SHIFT
    ) -> float:
        """V_f now: the helium's, less the cold volume the nitrogen has given up since
        (stem area × the level's fall, which the gas there sees warm: × (1 − T_c/T_w))."""
        v = self.space.volume(shift)
        rate = self.cell.ln2_fall_m_s * shift.ln2_fall
        if rate <= 0 or ln2_elapsed_s is None or self.space.ln2_elapsed_s is None:
            return v
        fallen = rate * (ln2_elapsed_s - self.space.ln2_elapsed_s)
        t_c = cell_k + shift.cell_k
        return v - self.cell.stem_area_m2 * fallen * (1.0 - t_c / (warm_k + shift.manifold_k))

    def cold_pressure(self, eq: Reading, cell_k: float, shift: Shift = NO_SHIFT) -> float:
        t_m = shift.manifold(eq, self.manifold_k)
        return self.cell.cold_pressure(
            self.gas, shift.pa(eq), t_m, cell_k + shift.cell_k, shift.transpiration
        )

    def _amount(self, doses: list[Dose], shift: Shift = NO_SHIFT) -> tuple[float, float]:
        """(n, p_cold) after `doses`."""
        g, vm = self.gas, self.manifold_m3
        left = 0.0
        for d in doses:
            t_f = shift.manifold(d.fill, self.manifold_k)
            t_e = shift.manifold(d.eq, self.manifold_k)
            left += density(g, t_f, shift.pa(d.fill)) - density(g, t_e, shift.pa(d.eq))
        last = doses[-1]
        p_c = self.cold_pressure(last.eq, last.cell_k, shift)
        t_w = last.eq.kelvin or self.manifold_k
        vf = self.free_volume(last.cell_k, last.ln2_elapsed_s, t_w, shift)
        return vm * left - vf * density(g, last.cell_k + shift.cell_k, p_c), p_c

    def amount(self, p_fill: float | Reading, p_eq: float | Reading, cell_k: float) -> float:
        """n (mol) were this dose read now at `p_eq`, without booking it."""
        previous = self.doses[-1] if self.doses else None
        dose = Dose(
            _as_reading(p_fill),
            _as_reading(p_eq),
            cell_k,
            previous.ln2_elapsed_s if previous else self.space.ln2_elapsed_s,
        )
        return self._amount([*self.doses, dose])[0]

    def gas_capacity(self, p: float, cell_k: float) -> float:
        """Moles the gas phase (manifold + cell) takes up per pascal at `p`, mol/Pa."""
        g = self.gas
        return self.manifold_m3 * density_slope(g, self.manifold_k, p) + (
            self.space.volume_m3 * density_slope(g, cell_k, p)
        )

    # -- booking a dose -------------------------------------------------------------------
    def dose(
        self,
        p_fill: float | Reading,
        p_eq: float | Reading,
        cell_k: float,
        remaining_mol: float = 0.0,
        *,
        ln2_elapsed_s: float | None = None,
        ln2_fill: int = 0,
    ) -> tuple[float, float]:
        """Book one dose (manifold at `p_fill`, equilibrium at `p_eq`, the cold zone at
        `cell_k`, `remaining_mol` still to be adsorbed as projected): (n mol, σ mol) of the
        point reported. The uptake still to come is a known bias, so it is corrected for
        (GUM 3.2.4), and what is not known of it is a part of σ; the readings stay as read,
        and what was still to come is counted with the next dose.
        σ is that of the uptake at the pressure (and temperature) the point is reported at
        (`reported`); its parts are left in `last_parts`."""
        fill, eq = _as_reading(p_fill), _as_reading(p_eq)
        self.doses.append(Dose(fill, eq, cell_k, ln2_elapsed_s, ln2_fill))
        n, p_c = self._amount(self.doses)
        slope = self._slope(p_c, n)
        var_readings = self._reading_variance(p_c, slope)
        systematic = self._systematics(n, slope)
        # the uptake still to come, as the relaxation fitted to the dose projects it, is a
        # known bias: corrected for in n, its projection ±100 % (over √3) left in σ. The
        # pressure stays as read: the equilibrium test keeps its fall still to come within
        # a few 1e-3 of it, and a projection of that from readings near the gauge's steps
        # is noise
        n_final = n + remaining_mol
        volume = n_final * self.volume_accuracy / RECTANGULAR
        unsettled = remaining_mol / RECTANGULAR
        self.last_point = (p_c, n)  # as booked: the next dose's slope is taken from it
        self.reported = (p_c, n_final)
        self.last_parts = {
            "readings": math.sqrt(var_readings),
            **systematic,
            "manifold_volume": abs(volume),
            "equilibrium": abs(unsettled),
        }
        var = var_readings + sum(v**2 for v in systematic.values()) + volume**2 + unsettled**2
        return n_final, math.sqrt(var)

    def pressure_sigma(self, eq: Reading, cell_k: float) -> float:
        """1σ of the cold zone's pressure the point is reported at (Pa): the reading's own
        errors, its gauge's gain and zero, the transpiration correlation."""
        g = self.gauge.head(eq.head)
        dp = self.cell.cold_slope(self.gas, eq.pa, eq.kelvin or self.manifold_k, cell_k)
        p_c = self.cold_pressure(eq, cell_k)
        correction = abs(eq.pa - p_c) * transpiration.ACCURACY / RECTANGULAR
        if self.cell.transpiration == "none":
            correction = 0.0
        var = dp**2 * (self.gauge.variance(eq) + (g.gain_u * eq.pa) ** 2 + g.zero_u**2)
        return math.sqrt(var + correction**2)

    def _reading_variance(self, p_c: float, slope: float) -> float:
        """Each reading's own errors, independent: fills (+), equilibria (−), the last
        equilibrium also through the cell's gas and the pressure it is reported at, and
        the helium readings through V_f."""
        g, vm = self.gas, self.manifold_m3
        last = self.doses[-1]
        t_e = last.eq.kelvin or self.manifold_k
        var = 0.0
        for i, d in enumerate(self.doses):
            t_f = d.fill.kelvin or self.manifold_k
            var += (vm * density_slope(g, t_f, d.fill.pa)) ** 2 * self.gauge.variance(d.fill)
            if i < len(self.doses) - 1:
                t = d.eq.kelvin or self.manifold_k
                var += (vm * density_slope(g, t, d.eq.pa)) ** 2 * self.gauge.variance(d.eq)
        dpc = self.cell.cold_slope(g, last.eq.pa, t_e, last.cell_k)
        vf = self.free_volume(last.cell_k, last.ln2_elapsed_s, t_e)
        d_eq = (
            -vm * density_slope(g, t_e, last.eq.pa)
            - (vf * density_slope(g, last.cell_k, p_c) + slope) * dpc
        )
        var += d_eq**2 * self.gauge.variance(last.eq)
        rho_cell = density(g, last.cell_k, p_c)
        var += sum(
            (rho_cell * dv) ** 2 * self.gauge.variance(r) for dv, r in self.space.sensitivities
        )
        return var

    def _systematics(self, n: float, slope: float) -> dict[str, float]:
        """Each error common to many readings, varied through the whole balance: the
        change of (n − slope · p_cold) per unit of it, times its standard uncertainty."""
        base_n, base_p = n, self.last_point_pressure()
        cryogenic = self.cell.ln2_fall_m_s > 0

        def effect(shift: Shift, size: float) -> float:
            n1, p1 = self._amount(self.doses, shift)
            return ((n1 - base_n) - slope * (p1 - base_p)) / size

        parts: dict[str, float] = {}
        for h in self.gauge.heads:
            used = any(d.fill.head == h.channel or d.eq.head == h.channel for d in self.doses)
            used = used or h.channel in (self.space.p1.head, self.space.p2.head)
            if not used:
                continue
            gain = effect(Shift(gain=((h.channel, 1e-4),)), 1e-4) * h.gain_u
            size = max(h.step_pa, 1e-9)
            zero = effect(Shift(zero=((h.channel, size),)), size) * h.zero_u
            parts[f"gauge_{h.channel}"] = math.hypot(gain, zero)
        u_m = MANIFOLD_TEMPERATURE_ACCURACY_K / RECTANGULAR
        parts["manifold_temperature"] = abs(effect(Shift(manifold_k=0.01), 0.01) * u_m)
        # the cell's temperature: through the gas in the cell, and through the truth at the
        # temperature the point is reported at (−∂q/∂T = slope p q_st / R T²)
        last = self.doses[-1]
        u_c = self.cell_accuracy_k / RECTANGULAR
        q_st = ISOSTERIC_HEAT_J_MOL.get(self.gas, 20e3)
        d_truth = slope * base_p * q_st / (R * last.cell_k**2)
        parts["cell_temperature"] = abs((effect(Shift(cell_k=0.01), 0.01) + d_truth) * u_c)
        if self.cell.transpiration != "none":
            u_t = transpiration.ACCURACY / RECTANGULAR
            parts["transpiration"] = abs(effect(Shift(transpiration=1.01), 0.01) * u_t)
        if cryogenic and last.ln2_elapsed_s is not None:
            u_f = LN2_FALL_ACCURACY / RECTANGULAR
            fall = abs(effect(Shift(ln2_fall=1.01), 0.01) * u_f)
            marks = 0.0
            if last.ln2_fill != 0:  # topped up since the helium: the two marks differ
                t_w = last.eq.kelvin or self.manifold_k
                dv = self.cell.stem_area_m2 * (1.0 - last.cell_k / t_w)
                rho = density(self.gas, last.cell_k, base_p)
                marks = rho * dv * math.sqrt(2.0) * LN2_MARK_ACCURACY_M / RECTANGULAR
            parts["nitrogen_level"] = math.hypot(fall, marks)
        return parts

    def last_point_pressure(self) -> float:
        last = self.doses[-1]
        return self.cold_pressure(last.eq, last.cell_k)

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
    pressure_pa: float  # the cold zone's, where the sample is
    uptake_mmol_g: float
    sigma_mmol_g: float
    cell_k: float
    branch: str
    equilibration_s: float
    settled: bool
    p0_pa: float | None = None  # the saturation pressure read with it (in a dewar)


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
