"""Volumetric (Sieverts) gas adsorption: an isotherm, and a BET area from N2 at 77 K.

The analyzer (role "sorption") has these devices, named so in the lab file:
  gauge     absolute pressure gauge on the manifold (mks-9xx)
  valves    valve bank: `gas_in` (supply → manifold, through a restriction), `dose`
            (manifold ↔ sample cell) and `vacuum` (manifold → pump) (modbus-relay)
  selector  gas selector feeding `gas_in`, ports `GAS_PORTS` (vici)
  bath      temperature controller of the cell's bath (eurotherm-3200); at 77 K the
            operator raises a liquid-nitrogen dewar around the cell instead

The static volumetric method (Rouquerol, Rouquerol, Sing, "Adsorption by Powders and Porous
Solids", 2nd ed., ch. 3.2; ISO 9277 for the BET part):

1. Evacuate manifold and cell.
2. Free space with helium (not adsorbed): fill the manifold to p1, open `dose` into the
   evacuated cell, equilibrium p2:  V_f = V_m [ρ(p1, T_m) − ρ(p2, T_m)] / ρ(p2, T_c).
3. Evacuate, select the adsorptive, then dose after dose: fill the manifold to p_m,j and
   read it, open `dose`, wait until the pressure change per interval is below a fraction of
   the pressure, read p_j, close `dose`. The amount adsorbed after dose k is what left the
   manifold less what is in the cell's gas phase:
       n_k = V_m Σ_{j≤k} [ρ(p_m,j, T_m) − ρ(p_j, T_m)] − V_f ρ(p_k, T_c)
   with real-gas molar densities ρ from CoolProp.
4. 1σ by first-order propagation, each error where it really acts (GUM):
   * the gauge's calibration: its accuracy (±0.12 % of reading, a limit: rectangular,
     u = a/√3) is one gain error common to every reading of that gauge, so it is propagated
     through the sum of all the readings' sensitivities (the helium ratio that gives V_f
     does not see it at all; the manifold sum scales with it) and through the pressure the
     point is reported at (through the isotherm's local slope);
   * each reading's own errors, independent from reading to reading: noise, estimated from
     the scatter of the readings about the equilibration lines (Type A, pooled over the
     run), averaged down where readings are averaged; and the display's resolution
     (4 or 3 significant digits: rectangular, ±half a step, averaged down only as far as
     the noise or a drift carries the readings across the steps); the equilibrium
     reading's error also moves the pressure the point is reported at;
   * the calibrated manifold volume (±0.5 %, a limit: rectangular), which scales V_f too,
     so n scales with it;
   * the uptake the equilibration line projects is still to come when the point is read
     (first-order relaxation fitted to the dose's readings).
   The sum over doses grows, so the reading errors accumulate.
5. Equilibrium: the pressure change per interval (a line through the last readings) is
   below `equilibrium_tolerance` × p, and the first-order relaxation fitted to the whole
   dose projects less than `EQUILIBRIUM_UPTAKE_FRACTION` of the uptake still to come (a
   slow, weak adsorbent changes the pressure too little per interval for the first test
   alone: it stopped ZIF-8 ≈ 8 % short at 0.15 bar).

Kernels see only what the devices report: pressures, the bath temperature, valve states.
The manifold's volume and temperature are the instrument's calibration (kernel inputs).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import bluesky.plan_stubs as bps

from ppu.core.errors import SampleFailed
from ppu.core.kernels import Choice, Count, In, Uses, kernel
from ppu.core.operator import manual_step
from ppu.core.units import Q_
from protocols.plan_tools import call

R = 8.314462618  # J/(mol K)
LN2_K = 77.35  # liquid nitrogen boiling under one atmosphere
GAS_PORTS = {"He": 1, "CO2": 2, "N2": 3}  # the selector's lines; port 4 is blanked
FLUIDS = {"He": "Helium", "CO2": "CarbonDioxide", "N2": "Nitrogen"}
GAUGE_ACCURACY = 0.0012  # ± limit, fraction of reading: a capacitance manometer's accuracy
VOLUME_ACCURACY = 0.005  # ± limit, fraction: the manifold volume's calibration
RECTANGULAR = math.sqrt(3.0)  # a ± limit over this is its standard uncertainty (GUM 4.3.7)
EQUILIBRIUM_UPTAKE_FRACTION = 0.005  # at most this much of the uptake may still be to come
HE_FILL_PA = 90_000.0  # helium in the manifold for the free-space dose
FILL_OF_FULL_SCALE = 0.95  # never fill the manifold closer than this to the gauge's top
SETTLE_S = 5.0  # after a valve closes, before the reading that counts
EVACUATED_PA = 1.0  # "under vacuum" for the evacuation check
FILL_TIMEOUT_S = 180.0
MAX_DOSES_PER_TARGET = 12
FILL_READINGS = 3  # a manifold pressure that counts is the mean of this many readings

Plan = Generator[Any, Any, Any]


# -- real-gas densities ---------------------------------------------------------------------
def density(gas: str, temperature_k: float, pressure_pa: float) -> float:
    """Molar density, mol/m³ (CoolProp's reference equation of state)."""
    if pressure_pa <= 0:
        return 0.0
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("Dmolar", "T", temperature_k, "P", pressure_pa, FLUIDS[gas]))


def density_slope(gas: str, temperature_k: float, pressure_pa: float) -> float:
    """∂ρ/∂p at constant T, mol/(m³ Pa)."""
    if pressure_pa <= 0:
        return 1.0 / (R * temperature_k)
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("d(Dmolar)/d(P)|T", "T", temperature_k, "P", pressure_pa, FLUIDS[gas]))


def pressure_at(gas: str, temperature_k: float, density_mol_m3: float) -> float:
    if density_mol_m3 <= 0:
        return 0.0
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("P", "T", temperature_k, "Dmolar", density_mol_m3, FLUIDS[gas]))


def saturation_pressure(gas: str, temperature_k: float) -> float:
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("P", "T", temperature_k, "Q", 0, FLUIDS[gas]))


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


def isotherm_targets(max_pa: float, n: int) -> list[float]:
    """A third of the points geometric from 1 % to 10 % of the top, the rest even up to it."""
    n_low = max(1, n // 3)
    low = (
        [0.05 * max_pa]
        if n_low == 1
        else [0.01 * max_pa * 10 ** (i / (n_low - 1)) for i in range(n_low)]
    )
    n_high = n - n_low
    high = [0.15 * max_pa + (0.85 * max_pa) * i / max(1, n_high - 1) for i in range(n_high)]
    return sorted(set(low + high))


# -- the instrument, as the kernels drive it ------------------------------------------------
async def _settle_bath(bath: Any, celsius: float, timeout_s: float) -> None:
    async def settled() -> None:
        await bath.set(celsius)

    try:
        await asyncio.wait_for(settled(), timeout_s)
    except TimeoutError:
        raise TimeoutError(
            f"{bath.name}: the bath did not settle at {celsius:g} degC within "
            f"{timeout_s / 60:.0f} min"
        ) from None


class Analyzer:
    """Plan stubs over the analyzer's devices; keeps nothing the devices do not report."""

    def __init__(self, instrument: Any, ctx: Any, manifold_m3: float, manifold_k: float):
        for name in ("gauge", "valves", "selector"):
            if not hasattr(instrument, name):
                raise ValueError(f"{instrument.name}: a sorption analyzer needs a device '{name}'")
        self.name = instrument.name
        self.ctx = ctx
        self.gauge = instrument.gauge
        self.valves = instrument.valves
        self.selector = instrument.selector
        self.bath = getattr(instrument, "bath", None)
        self.manifold_m3 = manifold_m3
        self.manifold_k = manifold_k
        self.to_pa = float(Q_(1.0, self.gauge.unit).to("Pa").magnitude)
        self.full_scale_pa = float(self.gauge.high) * self.to_pa
        self.cryogenic = False
        # PR4 prints four significant digits, PR1–PR3 three (MKS 9xx manuals)
        self.digits = 4 if getattr(self.gauge, "channel", 1) == 4 else 3
        self._noise_ss = 0.0  # Σ (scatter about equilibration lines / p)², resolution removed
        self._noise_dof = 0

    def now(self) -> float:
        return float(self.ctx.now())

    # readings
    def pressure(self) -> Plan:
        value = yield from bps.rd(self.gauge.pressure)
        if self.gauge.classify(value) == "OVER":
            raise RuntimeError(
                f"{self.gauge.name}: {value:g} {self.gauge.unit} is at the top of its range"
            )
        return float(value) * self.to_pa

    def mean_pressure(self, n: int = FILL_READINGS, spacing_s: float = 1.0) -> Plan:
        total = 0.0
        for i in range(n):
            if i:
                yield from bps.sleep(spacing_s)
            total += yield from self.pressure()
        return total / n

    def cell_temperature(self) -> Plan:
        if self.cryogenic:
            return LN2_K
        if self.bath is None:
            raise ValueError(f"{self.name}: no bath controller reports the cell's temperature")
        celsius = yield from bps.rd(self.bath.temperature)
        return float(celsius) + 273.15

    # valves and gas
    def valve(self, name: str, open_: bool) -> Plan:
        yield from bps.mv(getattr(self.valves, name), open_)

    def close_all(self) -> Plan:
        for name in ("gas_in", "vacuum", "dose"):
            yield from self.valve(name, False)

    def select(self, gas: str) -> Plan:
        yield from bps.mv(self.selector, GAS_PORTS[gas])

    def bath_to(self, kelvin: float, timeout_s: float = 4 * 3600.0) -> Plan:
        if self.bath is None:
            raise ValueError(f"{self.name}: no bath controller to hold {kelvin:g} K")
        celsius = kelvin - 273.15
        yield from call(lambda: _settle_bath(self.bath, celsius, timeout_s))

    # procedures
    def evacuate(self, hold_s: float, max_wait_s: float = 3600.0) -> Plan:
        """Pump manifold and cell until the gauge reads vacuum, then keep pumping `hold_s`."""
        yield from self.valve("gas_in", False)
        yield from self.valve("dose", True)
        yield from self.valve("vacuum", True)
        start = self.now()
        while True:
            value = yield from bps.rd(self.gauge.pressure)
            if value * self.to_pa <= EVACUATED_PA or self.gauge.classify(value) == "UNDER":
                break
            if self.now() - start > max_wait_s:
                raise RuntimeError(
                    f"{self.name}: still {value:g} {self.gauge.unit} after pumping "
                    f"{max_wait_s / 60:.0f} min: a leak?"
                )
            yield from bps.sleep(10.0)
        if hold_s > 0:
            yield from bps.sleep(hold_s)
        yield from self.valve("vacuum", False)
        yield from self.valve("dose", False)

    def _move_manifold(self, target_pa: float, valve: str) -> Plan:
        """Open `valve` (gas_in up, vacuum down) until the manifold reaches `target_pa`,
        timing the next look from the rate seen so far; then settle and read."""
        rising = valve == "gas_in"
        p = yield from self.pressure()
        if (p >= target_pa) if rising else (p <= target_pa):
            return (yield from self.mean_pressure())
        t_prev, p_prev = self.now(), p
        start = t_prev
        yield from self.valve(valve, True)
        while True:
            p = yield from self.pressure()
            t = self.now()
            if (p >= target_pa * 0.997) if rising else (p <= target_pa * 1.003):
                break
            rate = (p - p_prev) / (t - t_prev) if t > t_prev else 0.0
            if not rising:
                rate = -rate
            if t - start > 3.0 and rate < 2e-4 * max(p, 1.0):
                break  # at the supply pressure (or the pump's floor): no further
            if t - start > FILL_TIMEOUT_S:
                break
            gap = abs(target_pa - p)
            wait = 0.5 if rate <= 0 else min(2.0, max(0.05, 0.7 * gap / rate))
            t_prev, p_prev = t, p
            yield from bps.sleep(wait)
        yield from self.valve(valve, False)
        yield from bps.sleep(SETTLE_S)
        return (yield from self.mean_pressure())

    def fill_manifold(self, target_pa: float) -> Plan:
        return (yield from self._move_manifold(target_pa, "gas_in"))

    def pump_manifold(self, target_pa: float) -> Plan:
        return (yield from self._move_manifold(target_pa, "vacuum"))

    def equilibrate(
        self,
        interval_s: float,
        tolerance: float,
        window: int,
        max_wait_s: float,
        allowed_pa: Callable[[float], float] | None = None,
    ) -> Plan:
        """Read every `interval_s` until the change per interval (the slope of a line
        through the last `window` readings, which beats the gauge's digits and noise) is
        below `tolerance` × pressure and, with `allowed_pa`, the first-order relaxation
        fitted to all the dose's readings projects at most `allowed_pa(p)` still to come."""
        start = self.now()
        ts: list[float] = []
        ps: list[float] = []
        while True:
            yield from bps.sleep(interval_s)
            ps.append((yield from self.pressure()))
            ts.append(self.now() - start)
            timed_out = ts[-1] >= max_wait_s
            if len(ps) < window and not timed_out:
                continue
            if len(ps) < 3:
                return Settling(ps[-1], ts[-1], False, 1.0, 0.0, 0.0)
            slope, value, weight = _line(ts[-window:], ps[-window:])
            steady = abs(slope) * interval_s <= tolerance * max(value, 1e-3)
            if not (steady or timed_out):
                continue
            remaining, tau = 0.0, 0.0
            if allowed_pa is not None:
                # the fit, or the last window's slope carried on for the fitted τ: a fit
                # to few readings can bend too early, the slope keeps it honest
                remaining, tau = _relaxation(ts, ps)
                if abs(slope) * tau > abs(remaining):
                    remaining = -slope * tau
            settled = steady and (allowed_pa is None or abs(remaining) <= allowed_pa(value))
            if settled:
                self._pool_noise(ps[-window:], ts[-window:])
            if settled or timed_out:
                drift = abs(slope) * (ts[-1] - ts[-min(window, len(ts))])
                return Settling(value, ts[-1], settled, weight, remaining, tau, drift)

    def _pool_noise(self, ps: list[float], ts: list[float]) -> None:
        """Add a window's scatter about its line to the run's estimate of reading noise,
        less what the display's resolution explains (Sheppard's correction)."""
        k = len(ps)
        if k < 3:
            return
        slope, _, _ = _line(ts, ps)
        tm, pm = sum(ts) / k, sum(ps) / k
        ssr = sum((p - pm - slope * (t - tm)) ** 2 for t, p in zip(ts, ps, strict=True))
        if pm <= 0:
            return
        step = self.calibration.step_pa(pm)
        self._noise_ss += (ssr - (k - 2) * step**2 / 12.0) / pm**2
        self._noise_dof += k - 2

    @property
    def calibration(self) -> GaugeCalibration:
        """The gauge's errors as known now (the noise from the readings so far)."""
        noise = math.sqrt(max(self._noise_ss, 0.0) / self._noise_dof) if self._noise_dof else 0.0
        return GaugeCalibration(GAUGE_ACCURACY, self.digits, self.to_pa, noise)


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


def _line(ts: list[float], ps: list[float]) -> tuple[float, float, float]:
    """Least-squares slope, the line's value at the last time, and that value's variance
    over one reading's (1/n + (t_last − t̄)²/Sxx)."""
    n = len(ts)
    tm = sum(ts) / n
    pm = sum(ps) / n
    sxx = sum((t - tm) ** 2 for t in ts)
    slope = sum((t - tm) * (p - pm) for t, p in zip(ts, ps, strict=True)) / sxx if sxx else 0.0
    weight = 1 / n + ((ts[-1] - tm) ** 2 / sxx if sxx else 0.0)
    return slope, pm + slope * (ts[-1] - tm), weight


def _relaxation(ts: list[float], ps: list[float]) -> tuple[float, float]:
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
    best = (math.inf, 0.0, 0.0)
    grid = 48
    for i in range(grid + 1):
        tau = lo * (hi / lo) ** (i / grid)
        x = [math.exp(min((t[-1] - tk) / tau, 60.0)) for tk in t]
        k = len(x)
        xm, pm = sum(x) / k, sum(p) / k
        sxx = sum((a - xm) ** 2 for a in x)
        if sxx <= 0:
            continue
        a_ = sum((a - xm) * (b - pm) for a, b in zip(x, p, strict=True)) / sxx
        c = pm - a_ * xm
        ssr = sum((b - c - a_ * a) ** 2 for a, b in zip(x, p, strict=True))
        if ssr < best[0]:
            best = (ssr, a_, tau)
    return best[1], best[2]


@dataclass(frozen=True)
class Equilibration:
    interval_s: float
    tolerance: float
    max_wait_s: float
    window: int = 10  # readings in the line whose slope is the change per interval
    uptake_fraction: float = EQUILIBRIUM_UPTAKE_FRACTION  # at most this still to come


def _dose_plan(
    mb: MassBalance, p_prev: float, target: float, cell_k: float, slope: float, top: float
) -> float:
    """Manifold pressure for a dose from `p_prev` towards `target`: the gas the cell needs,
    plus the uptake the last points' slope (mol/Pa) predicts; never so much that, were nothing
    adsorbed, the cell would pass `p_prev + 2 (target − p_prev)`."""
    g, vm, tm = mb.gas, mb.manifold_m3, mb.manifold_k
    need = mb.gas_needed(p_prev, target, cell_k) + slope * (target - p_prev)
    rho = density(g, tm, target) + need / vm
    bound = max(p_prev + 2 * (target - p_prev), 0.0)
    rho_bound = density(g, tm, bound) + mb.gas_needed(p_prev, bound, cell_k) / vm
    rho = min(rho, rho_bound) if target > p_prev else max(rho, rho_bound)
    return min(max(pressure_at(g, tm, max(rho, 0.0)), 0.0), top)


def _run_isotherm(
    a: Analyzer,
    ctx: Any,
    *,
    gas: str,
    bath_k: float,
    mass_g: float,
    targets: list[float],
    desorption: list[float],
    eq: Equilibration,
    evacuation_s: float,
    sample: str,
    p0: float | None = None,
) -> Plan:
    """Free space, then the doses. Returns (points, free space)."""
    yield from a.close_all()
    if a.cryogenic:
        yield from bps.sleep(900.0)  # the cell and its neck come to the dewar's temperature
    else:
        yield from a.bath_to(bath_k)
    yield from a.evacuate(evacuation_s)

    # free space with helium
    yield from a.select("He")
    top = FILL_OF_FULL_SCALE * a.full_scale_pa
    p1 = yield from a.fill_manifold(min(HE_FILL_PA, top))
    t_cell = yield from a.cell_temperature()
    yield from a.valve("dose", True)
    he = yield from a.equilibrate(2.0, eq.tolerance, 5, 900.0)
    t_cell = (t_cell + (yield from a.cell_temperature())) / 2
    space = free_space(
        a.manifold_m3,
        a.manifold_k,
        t_cell,
        Reading(p1, 1 / FILL_READINGS),
        Reading(he.pressure_pa, he.weight, he.drift_pa),
    )
    yield from a.valve("dose", False)
    yield from a.evacuate(max(300.0, evacuation_s / 4))

    yield from a.select(gas)
    mb = MassBalance(gas, a.manifold_m3, a.manifold_k, space)
    points: list[Point] = []
    p_prev = 0.0
    record = calibration_record(a, space, eq)

    def book(p_fill: float, branch: str) -> Plan:
        cell_k = yield from a.cell_temperature()

        def allowed_pa(p: float) -> float:
            """The pressure change that would still be `eq.uptake_fraction` of the uptake."""
            n = abs(mb.amount(p_fill, p, cell_k))
            return eq.uptake_fraction * n / mb.gas_capacity(p, cell_k)

        yield from a.valve("dose", True)
        st = yield from a.equilibrate(
            eq.interval_s, eq.tolerance, eq.window, eq.max_wait_s, allowed_pa
        )
        cell_k = (cell_k + (yield from a.cell_temperature())) / 2
        yield from a.valve("dose", False)
        p_eq = st.pressure_pa
        remaining_mol = mb.gas_capacity(p_eq, cell_k) * st.remaining_pa
        mb.gauge = a.calibration
        eq_reading = Reading(p_eq, st.weight, st.drift_pa)
        n, sigma = mb.dose(Reading(p_fill, 1 / FILL_READINGS), eq_reading, cell_k, remaining_mol)
        to_mmol_g = 1e3 / mass_g
        point = Point(
            p_eq, n * to_mmol_g, sigma * to_mmol_g, cell_k, branch, st.waited_s, st.settled
        )
        points.append(point)
        yield from bps.trigger_and_read(
            [a.gauge] if a.cryogenic or a.bath is None else [a.gauge, a.bath]
        )
        label = "uptake" if branch == "adsorption" else "uptake_des"
        extra = {} if p0 is None else {"relative_pressure": p_eq / p0}
        u_p = math.sqrt((mb.gauge.gain_u * p_eq) ** 2 + mb.gauge.variance(eq_reading))
        ctx.measure(
            f"{label}@{p_eq / 1e5:.4g}bar",
            Q_(point.uptake_mmol_g, "mmol/g"),
            sample=sample,
            pressure_bar=p_eq / 1e5,
            sigma=point.sigma_mmol_g,
            sigma_parts={k: v * to_mmol_g for k, v in mb.last_parts.items()},
            sigma_pressure_bar=u_p / 1e5,
            gas=gas,
            temperature_k=cell_k,
            branch=branch,
            point=len(points),
            equilibration_s=st.waited_s,
            equilibrated=st.settled,
            still_to_come_mmol_g=remaining_mol * to_mmol_g,
            relaxation_time_s=st.tau_s,
            calibration=record | {"gauge_noise": mb.gauge.noise},
            **extra,
        )
        return p_eq

    def slope_now() -> float:
        """Uptake per Pa between the last two points (mol/Pa), never negative."""
        if len(points) < 2:
            return 0.0
        a1, a2 = points[-2], points[-1]
        dp = a2.pressure_pa - a1.pressure_pa
        if dp == 0:
            return 0.0
        return max(0.0, (a2.uptake_mmol_g - a1.uptake_mmol_g) * mass_g * 1e-3 / dp)

    exhausted = False
    for target in targets:
        for _ in range(MAX_DOSES_PER_TARGET):
            if exhausted or p_prev >= target * 0.98:
                break
            cell_k = yield from a.cell_temperature()
            p_want = _dose_plan(mb, p_prev, target, cell_k, slope_now(), top)
            p_fill = yield from a.fill_manifold(p_want)
            if p_fill <= p_prev * 1.002:
                exhausted = True  # the supply cannot push the cell any higher
                break
            p_prev = yield from book(p_fill, "adsorption")

    for target in desorption:
        if target >= p_prev:
            continue
        cell_k = yield from a.cell_temperature()
        p_want = _dose_plan(mb, p_prev, target, cell_k, slope_now(), top)
        p_fill = yield from a.pump_manifold(p_want)
        p_prev = yield from book(p_fill, "desorption")

    yield from a.close_all()
    return points, space, record | {"gauge_noise": a.calibration.noise}


def calibration_record(a: Analyzer, space: FreeSpace, eq: Equilibration) -> dict[str, Any]:
    """The calibration in force for a run, as every stored point's provenance carries it."""
    return {
        "manifold_volume_ml": a.manifold_m3 * 1e6,
        "manifold_volume_accuracy": VOLUME_ACCURACY,
        "manifold_temperature_k": a.manifold_k,
        "free_volume_ml": space.volume_m3 * 1e6,
        "gauge_model": getattr(getattr(a.gauge, "gauge_model", None), "name", None),
        "gauge_unit": a.gauge.unit,
        "gauge_digits": a.digits,
        "gauge_accuracy": GAUGE_ACCURACY,
        "equilibration": {
            "interval_s": eq.interval_s,
            "pressure_tolerance": eq.tolerance,
            "window": eq.window,
            "max_wait_s": eq.max_wait_s,
            "uptake_fraction": eq.uptake_fraction,
        },
    }


MIN_SAMPLE_G = 0.005


def _sample_mass_g(ctx: Any, sample: str) -> float:
    s = ctx.samples_in.get("sample")
    if s is None or s.mass_value is None:
        raise ValueError(f"sample {sample} has no recorded mass: weigh it first")
    grams = float(Q_(s.mass_value, s.mass_unit or "g").m_as("g"))
    if grams < MIN_SAMPLE_G:
        # an empty vial, or next to nothing: uptake per gram would be noise over zero
        raise SampleFailed(
            f"sample {sample} weighs {grams * 1000:.2g} mg, below the "
            f"{MIN_SAMPLE_G * 1000:g} mg an isotherm needs"
        )
    return grams


def _load(a: Analyzer, ctx: Any, sample: str) -> Plan:
    """Ask for the sample to be put in the cell; returns where it came from."""
    cell = f"{a.name}:cell"
    home = ctx.location_of(sample)
    if home is None:
        raise ValueError(f"sample {sample}: where it is is not recorded")
    if home != cell:
        yield from manual_step(
            ctx, f"Load {sample} into the sample cell of {a.name}", move=(home, cell)
        )
    return home


def _unload(a: Analyzer, ctx: Any, sample: str, home: str) -> Plan:
    cell = f"{a.name}:cell"
    if home != cell:
        yield from manual_step(
            ctx, f"Vent the cell of {a.name} and return {sample} to {home}", move=(cell, home)
        )


def _bath_for(gas: str, kelvin: float) -> tuple[bool, float]:
    """(cryogenic, bath temperature): 77 K is a liquid-nitrogen dewar, the rest a controller."""
    if abs(kelvin - LN2_K) <= 1.0:
        if gas == "CO2":
            raise ValueError("CO2 freezes at 77 K: measure it between 273 and 353 K")
        return True, LN2_K
    if not 273.15 <= kelvin <= 353.15:
        raise ValueError(
            f"no bath for {kelvin:g} K: the controller holds 273–353 K, the dewar 77.35 K"
        )
    return False, kelvin


def _fill_dewar(a: Analyzer, ctx: Any) -> Plan:
    a.cryogenic = True
    yield from manual_step(
        ctx,
        f"Fill the dewar of {a.name} with liquid nitrogen and raise it around the sample cell",
        action="fill_dewar",
    )


def _remove_dewar(a: Analyzer, ctx: Any) -> Plan:
    yield from manual_step(ctx, f"Lower the dewar of {a.name}", action="remove_dewar")
    a.cryogenic = False


@kernel(
    role="sorption",
    rerun_safe=True,
    outputs={
        "uptake_0p15bar": "mmol/g",
        "uptake_1bar": "mmol/g",
        "free_volume": "mL",
        "duration": "h",
    },
)
def measure_isotherm(
    instrument,
    ctx,
    sample=Uses("activated"),
    gas=Choice(("CO2", "N2"), default="CO2"),
    temperature=In("K", ge="77 K", le="353.15 K", default="298.15 K", doc="bath temperature"),
    max_pressure=In("bar", ge="0.05 bar", le="1.1 bar", default="1 bar"),
    points=Count(ge=3, le=40, default=12, doc="target pressures on the adsorption branch"),
    desorption_points=Count(ge=0, le=20, default=0),
    equilibration_interval=In("s", ge="2 s", le="300 s", default="30 s"),
    equilibrium_tolerance=In(
        "",
        ge=1e-6,
        le=1e-2,
        default=1e-4,
        doc="equilibrium: pressure change per interval below this fraction of the pressure",
    ),
    max_equilibration=In("min", ge="1 min", le="600 min", default="120 min"),
    evacuation=In("min", ge="0 min", le="1440 min", default="30 min"),
    manifold_volume=In("mL", ge="1 mL", le="1000 mL", default="25 mL", doc="calibrated"),
    manifold_temperature=In("K", ge="273.15 K", le="373.15 K", default="308.15 K"),
):
    """A volumetric adsorption isotherm: helium free space, then dose after dose to
    `max_pressure`, each booked by a real-gas mass balance with its 1σ (one measurement per
    point: `uptake@<p>bar`, with pressure, σ and temperature in its provenance)."""
    start = ctx.now()
    cryogenic, bath_k = _bath_for(gas, temperature.m_as("K"))
    a = Analyzer(instrument, ctx, manifold_volume.m_as("m^3"), manifold_temperature.m_as("K"))
    mass_g = _sample_mass_g(ctx, sample)
    max_pa = max_pressure.m_as("Pa")
    p0 = saturation_pressure(gas, bath_k) if cryogenic else None
    if p0 is not None:
        max_pa = min(max_pa, 0.95 * p0)
    n_des = desorption_points
    targets = isotherm_targets(max_pa, points)
    desorption = [max_pa * f for f in _desorption_fractions(n_des)]
    home = yield from _load(a, ctx, sample)
    if cryogenic:
        yield from _fill_dewar(a, ctx)
    pts, space, record = yield from _run_isotherm(
        a,
        ctx,
        gas=gas,
        bath_k=bath_k,
        mass_g=mass_g,
        targets=targets,
        desorption=desorption,
        eq=Equilibration(
            equilibration_interval.m_as("s"),
            equilibrium_tolerance.m_as(""),
            max_equilibration.m_as("s"),
        ),
        evacuation_s=evacuation.m_as("s"),
        sample=sample,
        p0=p0,
    )
    if cryogenic:
        yield from _remove_dewar(a, ctx)
    yield from _unload(a, ctx, sample, home)
    outputs: dict[str, Any] = {}
    for name, p_bar in (("uptake_0p15bar", 0.15), ("uptake_1bar", 1.0)):
        value, sigma = interpolate(pts, p_bar * 1e5)
        q = Q_(value, "mmol/g")  # NaN when the isotherm does not reach that pressure
        ctx.measure(
            name,
            q,
            sample=sample,
            sigma=None if math.isnan(sigma) else sigma,
            pressure_bar=p_bar,
            gas=gas,
            temperature_k=bath_k,
            interpolated=True,
            calibration=record,
        )
        outputs[name] = q
    outputs["free_volume"] = Q_(space.volume_m3 * 1e6, "mL")
    outputs["duration"] = Q_((ctx.now() - start) / 3600.0, "h")
    return outputs


def _desorption_fractions(n: int) -> list[float]:
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
        temperature=LN2_K,
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


@kernel(
    role="sorption",
    rerun_safe=True,
    outputs={"bet_area": "m^2/g", "bet_c": "", "free_volume": "mL", "duration": "h"},
)
def measure_bet(
    instrument,
    ctx,
    sample=Uses("activated"),
    points=Count(ge=3, le=30, default=6, doc="points between 0.05 and 0.3 p/p0"),
    low_points=Count(
        ge=0,
        le=10,
        default=3,
        doc="points from 0.005 to 0.05 p/p0, where a microporous solid's BET range lies",
    ),
    equilibration_interval=In("s", ge="2 s", le="300 s", default="30 s"),
    equilibrium_tolerance=In("", ge=1e-6, le=1e-2, default=1e-4),
    max_equilibration=In("min", ge="1 min", le="600 min", default="180 min"),
    evacuation=In("min", ge="0 min", le="1440 min", default="30 min"),
    manifold_volume=In("mL", ge="1 mL", le="1000 mL", default="25 mL", doc="calibrated"),
    manifold_temperature=In("K", ge="273.15 K", le="373.15 K", default="308.15 K"),
):
    """BET area from an N2 isotherm at 77 K (the operator fills the dewar): points in p/p0
    0.05–0.3 (and a few below for microporous solids), the linear BET fit in the range the
    Rouquerol criteria choose (pyGAPS)."""
    start = ctx.now()
    a = Analyzer(instrument, ctx, manifold_volume.m_as("m^3"), manifold_temperature.m_as("K"))
    mass_g = _sample_mass_g(ctx, sample)
    p0 = saturation_pressure("N2", LN2_K)
    n_low = low_points
    n_std = points
    low = [0.005 * 10 ** (i / max(1, n_low)) for i in range(n_low)]  # 0.005 … < 0.05
    std = [0.05 + 0.25 * i / max(1, n_std - 1) for i in range(n_std)]
    home = yield from _load(a, ctx, sample)
    yield from _fill_dewar(a, ctx)
    pts, space, record = yield from _run_isotherm(
        a,
        ctx,
        gas="N2",
        bath_k=LN2_K,
        mass_g=mass_g,
        targets=[x * p0 for x in low + std],
        desorption=[],
        eq=Equilibration(
            equilibration_interval.m_as("s"),
            equilibrium_tolerance.m_as(""),
            max_equilibration.m_as("s"),
        ),
        evacuation_s=evacuation.m_as("s"),
        sample=sample,
        p0=p0,
    )
    yield from _remove_dewar(a, ctx)
    yield from _unload(a, ctx, sample, home)
    usable = [p for p in pts if 0 < p.pressure_pa < 0.5 * p0]
    fit = bet_fit(
        [p.pressure_pa / p0 for p in usable],
        [p.uptake_mmol_g for p in usable],
        material=sample,
    )
    area = Q_(fit["area"], "m^2/g")
    ctx.measure(
        "bet_area",
        area,
        sample=sample,
        bet_c=fit["c"],
        corr_coef=fit["corr_coef"],
        range_p_p0=list(fit["range"]),
        rouquerol=fit["rouquerol"],
        n_monolayer_mmol_g=fit["n_monolayer_mmol_g"],
        p0_pa=p0,
        calibration=record,
    )
    return {
        "bet_area": area,
        "bet_c": Q_(fit["c"], ""),
        "free_volume": Q_(space.volume_m3 * 1e6, "mL"),
        "duration": Q_((ctx.now() - start) / 3600.0, "h"),
    }
