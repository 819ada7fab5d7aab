"""The Sieverts analyzer as the kernels drive it: gauge, valve bank, gas selector and bath,
with the fills, expansions and evacuations the method is made of."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Generator
from typing import Any

import bluesky.plan_stubs as bps

from ppu.core.units import Q_
from protocols.plan_tools import call
from protocols.sorption.equilibration import Settling, drift_line, relaxation_fit
from protocols.sorption.thermo import LN2_K
from protocols.sorption.volumetric import GAUGE_ACCURACY, GaugeCalibration

GAS_PORTS = {"He": 1, "CO2": 2, "N2": 3}  # the selector's lines; port 4 is blanked


HE_FILL_PA = 90_000.0  # helium in the manifold for the free-space dose
FILL_OF_FULL_SCALE = 0.95  # never fill the manifold closer than this to the gauge's top
SETTLE_S = 5.0  # after a valve closes, before the reading that counts
EVACUATED_PA = 1.0  # "under vacuum" for the evacuation check
FILL_TIMEOUT_S = 180.0
MAX_DOSES_PER_TARGET = 12
FILL_READINGS = 3  # a manifold pressure that counts is the mean of this many readings

Plan = Generator[Any, Any, Any]


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
            slope, value, weight = drift_line(ts[-window:], ps[-window:])
            steady = abs(slope) * interval_s <= tolerance * max(value, 1e-3)
            if not (steady or timed_out):
                continue
            remaining, tau = 0.0, 0.0
            if allowed_pa is not None:
                # the fit, or the last window's slope carried on for the fitted τ: a fit
                # to few readings can bend too early, the slope keeps it honest
                remaining, tau = relaxation_fit(ts, ps)
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
        slope, _, _ = drift_line(ts, ps)
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
