"""The Sieverts analyzer as the kernels drive it: the capacitance manometer on the manifold,
the manifold's and the bath's temperature controllers, the p0 cell's manometer, the valve
bank and the gas selector, with the fills, expansions, evacuations and checks the method is
made of."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Generator
from typing import Any

import bluesky.plan_stubs as bps

from ppu.core.errors import InstrumentError
from ppu.core.units import Q_
from protocols.plan_tools import call
from protocols.sorption.equilibration import Settling, drift_line, relaxation_fit
from protocols.sorption.volumetric import GaugeCalibration, Head, Reading

GAS_PORTS = {"He": 1, "CO2": 2, "N2": 3}  # the selector's lines; port 4 is blanked


HE_FILL_PA = 90_000.0  # helium in the manifold for the free-space dose
FILL_OF_FULL_SCALE = 0.95  # never fill the manifold closer than this to the gauge's top
SETTLE_S = 5.0  # after a valve closes, before the reading that counts
EVACUATED_PA = 1.0  # "under vacuum" for the evacuation check
FILL_TIMEOUT_S = 180.0
MAX_DOSES_PER_TARGET = 12
FILL_READINGS = 3  # a manifold pressure that counts is the mean of this many readings
LEAK_SETTLE_S = 60.0  # after the pump's valve closes, before the rate of rise is timed
LEAK_RISE_S = 300.0  # the rate of rise is timed over this long
MANIFOLD_TOLERANCE_K = 0.5  # the manifold counts as at its setpoint within this
THERMOSTAT_HOLD_K = 1.0  # a thermostat whose reading leaves its run's mean by more has lost it

Plan = Generator[Any, Any, Any]


class LeakDetected(InstrumentError):
    """The rate of rise says air is coming in: the instrument must be seen to first."""


async def _settle(device: Any, celsius: float, timeout_s: float, what: str) -> None:
    async def settled() -> None:
        await device.set(celsius)

    try:
        await asyncio.wait_for(settled(), timeout_s)
    except TimeoutError:
        raise TimeoutError(
            f"{device.name}: {what} did not settle at {celsius:g} degC within "
            f"{timeout_s / 60:.0f} min"
        ) from None


class Analyzer:
    """Plan stubs over the analyzer's devices; keeps nothing the devices do not report."""

    def __init__(self, instrument: Any, ctx: Any, manifold_m3: float, manifold_k: float):
        for name in ("gauge", "valves", "selector", "manifold"):
            if not hasattr(instrument, name):
                raise ValueError(
                    f"{instrument.name}: a sorption analyzer needs a device '{name}'"
                    + (
                        " (the manifold's temperature controller: its temperature is read, "
                        "not assumed)"
                        if name == "manifold"
                        else ""
                    )
                )
        self.name = instrument.name
        self.ctx = ctx
        self.gauge = instrument.gauge
        if not hasattr(self.gauge, "gauges"):
            model = getattr(getattr(self.gauge, "gauge_model", None), "sensor", "")
            raise ValueError(
                f"{instrument.name}.gauge: a {model or 'gauge'} is not a capacitance manometer; "
                "a volumetric measurement needs one (gas-independent, ±0.1–0.25 % of reading): "
                "use a tpg-26x"
            )
        self.valves = instrument.valves
        self.selector = instrument.selector
        self.manifold = instrument.manifold
        self.bath = getattr(instrument, "bath", None)
        self.p0_gauge = getattr(instrument, "p0_gauge", None)
        self.manifold_m3 = manifold_m3
        self.manifold_k = manifold_k  # the manifold controller's setpoint
        self.to_pa = float(Q_(1.0, self.gauge.unit).to("Pa").magnitude)
        self.full_scale_pa = float(self.gauge.high) * self.to_pa
        self.cryogenic = False
        self._manifold_t: list[float] = []  # the thermostats' readings in this run
        self._bath_t: list[float] = []
        # per gauge: Σ (scatter about equilibration lines)², resolution removed; and its dof
        self._noise_ss: dict[int, float] = {}
        self._noise_dof: dict[int, int] = {}

    def now(self) -> float:
        return float(self.ctx.now())

    # -- readings -------------------------------------------------------------------------
    def reading(self) -> Plan:
        """(Pa, the gauge's channel) of one manometer reading; over the top of its range is
        an error, under the bottom of the finest gauge is a reading of (nearly) nothing."""
        value, channel, status = yield from call(self.gauge.measure)
        if status == "OVER":
            raise RuntimeError(
                f"{self.gauge.name}: {value:g} {self.gauge.unit} is at the top of its range"
            )
        return float(value) * self.to_pa, int(channel)

    def pressure(self) -> Plan:
        return (yield from self.reading())[0]

    def mean_reading(self, n: int = FILL_READINGS, spacing_s: float = 1.0) -> Plan:
        """A Reading: the mean of `n`, its gauge the coarsest that gave one of them."""
        total, heads = 0.0, set()
        for i in range(n):
            if i:
                yield from bps.sleep(spacing_s)
            pa, head = yield from self.reading()
            total += pa
            heads.add(head)
        yield from self.manifold_temperature()  # one more reading for its mean
        return Reading(total / n, 1 / n, head=self._coarsest(heads))

    def _coarsest(self, channels: set[int]) -> int:
        return max(channels, key=lambda c: self.gauge.gauge(c).full_scale)

    def manifold_temperature(self) -> Plan:
        """K: the mean of every reading of the manifold's thermostat since it was found at
        its setpoint. A thermostat holds its temperature; one reading alone carries the
        display's 0.1 K step and noise into a manifold term (0.3 % of a weak sample's
        uptake per reading at 1 bar); a mean of many does not."""
        return (yield from self._held(self.manifold, self._manifold_t, "manifold"))

    def bath_temperature(self) -> Plan:
        """K: the mean of the bath controller's readings since it settled (as the
        manifold's)."""
        if self.bath is None:
            raise ValueError(f"{self.name}: no bath controller reports the cell's temperature")
        return (yield from self._held(self.bath, self._bath_t, "bath"))

    def _held(self, device: Any, readings: list[float], what: str) -> Plan:
        celsius = yield from bps.rd(device.temperature)
        t = float(celsius) + 273.15
        readings.append(t)
        mean = sum(readings) / len(readings)
        if abs(t - mean) > THERMOSTAT_HOLD_K:
            raise RuntimeError(
                f"{device.name}: the {what} reads {t:.2f} K, {t - mean:+.2f} K from its mean "
                "in this run: its thermostat is not holding"
            )
        return mean

    def p0(self, n: int = FILL_READINGS) -> Plan:
        """The saturation-pressure cell's pressure (Pa, mean of `n` readings) and the
        gauge that read it."""
        if self.p0_gauge is None:
            raise ValueError(
                f"{self.name}: a measurement at 77 K needs a saturation-pressure (p0) cell "
                "with its manometer, device 'p0_gauge'"
            )
        to_pa = float(Q_(1.0, self.p0_gauge.unit).to("Pa").magnitude)
        total = 0.0
        for i in range(n):
            if i:
                yield from bps.sleep(1.0)
            value, channel, status = yield from call(self.p0_gauge.measure)
            if status != "OK":
                raise RuntimeError(
                    f"{self.p0_gauge.name}: the p0 cell reads {value:g} {self.p0_gauge.unit} "
                    f"({status}): is its nitrogen condensed?"
                )
            total += float(value) * to_pa
        return total / n, self.p0_gauge.gauge(channel)

    # -- valves, gas and temperatures -----------------------------------------------------
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
        yield from call(lambda: _settle(self.bath, celsius, timeout_s, "the bath"))
        self._bath_t.clear()

    def manifold_ready(self, timeout_s: float = 4 * 3600.0) -> Plan:
        """The manifold at its setpoint (`manifold_k`): set and waited for if it is not."""
        t = yield from self.manifold_temperature()
        setpoint = yield from bps.rd(self.manifold.setpoint)
        wanted = self.manifold_k - 273.15
        if abs(t - self.manifold_k) > MANIFOLD_TOLERANCE_K or abs(setpoint - wanted) > 0.05:
            yield from call(lambda: _settle(self.manifold, wanted, timeout_s, "the manifold"))
        self._manifold_t.clear()

    # -- procedures -----------------------------------------------------------------------
    def evacuate(self, hold_s: float, max_wait_s: float = 3600.0) -> Plan:
        """Pump the manifold first (what it still holds must not reach the sample), then
        manifold and cell until the gauge reads vacuum, then keep pumping `hold_s`."""
        yield from self.valve("gas_in", False)
        yield from self.valve("dose", False)
        yield from self.valve("vacuum", True)
        yield from self._pumped_down(max_wait_s)
        yield from self.valve("dose", True)
        yield from self._pumped_down(max_wait_s)
        if hold_s > 0:
            yield from bps.sleep(hold_s)
        yield from self.valve("vacuum", False)
        yield from self.valve("dose", False)

    def _pumped_down(self, max_wait_s: float) -> Plan:
        start = self.now()
        while True:
            value, _, status = yield from call(self.gauge.measure)
            if value * self.to_pa <= EVACUATED_PA or status == "UNDER":
                break
            if self.now() - start > max_wait_s:
                raise LeakDetected(
                    f"{self.name}: still {value:g} {self.gauge.unit} after pumping "
                    f"{max_wait_s / 60:.0f} min: a leak?"
                )
            yield from bps.sleep(10.0)

    def zero_gauge(self) -> Plan:
        """Zero the manometer's gauges while manifold and cell are under vacuum (pumping)."""
        yield from self.valve("gas_in", False)
        yield from self.valve("dose", True)
        yield from self.valve("vacuum", True)
        yield from bps.sleep(60.0)
        offsets = yield from call(self.gauge.zero)
        yield from self.valve("vacuum", False)
        yield from self.valve("dose", False)
        return [o * self.to_pa for o in offsets]

    def leak_check(self, volume_m3: float, max_leak_pa_m3_s: float) -> Plan:
        """Rate of rise: manifold and cell evacuated, the pump's valve shut, the pressure
        timed over `LEAK_RISE_S`; the gas that came in, Q = V dp/dt (V the manifold's and
        the cell's volume at the manifold's temperature), must stay under the limit.
        Returns Q (Pa m³/s)."""
        yield from self.valve("gas_in", False)
        yield from self.valve("dose", True)
        yield from self.valve("vacuum", True)
        yield from bps.sleep(LEAK_SETTLE_S)
        yield from self.valve("vacuum", False)
        yield from bps.sleep(LEAK_SETTLE_S)
        start = yield from self.mean_reading()
        t0 = self.now()
        yield from bps.sleep(LEAK_RISE_S)
        end = yield from self.mean_reading()
        rate = (end.pa - start.pa) / (self.now() - t0)
        leak = rate * volume_m3
        yield from self.valve("dose", False)
        if leak > max_leak_pa_m3_s:
            unit = 0.1  # Pa m³/s per mbar L/s
            raise LeakDetected(
                f"{self.name}: leak check failed: {self.gauge.name} rose "
                f"{end.pa - start.pa:.3g} Pa in {LEAK_RISE_S:.0f} s with the pump's valve "
                f"shut, a leak of {leak / unit:.2g} mbar·L/s (allowed "
                f"{max_leak_pa_m3_s / unit:.2g}): check the cell's seal and fittings before "
                "dosing"
            )
        return leak

    def _move_manifold(self, target_pa: float, valve: str) -> Plan:
        """Open `valve` (gas_in up, vacuum down) until the manifold reaches `target_pa`,
        timing the next look from the rate seen so far; then settle and read."""
        rising = valve == "gas_in"
        p = yield from self.pressure()
        if (p >= target_pa) if rising else (p <= target_pa):
            return (yield from self.mean_reading())
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
        return (yield from self.mean_reading())

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
        through the last `window` readings, which beats the gauge's steps and noise) is
        below `tolerance` × pressure and, with `allowed_pa`, the first-order relaxation
        fitted to all the dose's readings projects at most `allowed_pa(p)` still to come.
        Returns the Settling and the Reading it stands for (its gauge, the manifold's
        temperature then)."""
        start = self.now()
        ts: list[float] = []
        ps: list[float] = []
        heads: list[int] = []
        while True:
            yield from bps.sleep(interval_s)
            pa, head = yield from self.reading()
            ps.append(pa)
            heads.append(head)
            ts.append(self.now() - start)
            timed_out = ts[-1] >= max_wait_s
            if len(ps) < window and not timed_out:
                continue
            if len(ps) < 3:
                settling = Settling(ps[-1], ts[-1], False, 1.0, 0.0, 0.0)
                break
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
                self._pool_noise(ps[-window:], ts[-window:], heads[-window:])
            if settled or timed_out:
                drift = abs(slope) * (ts[-1] - ts[-min(window, len(ts))])
                settling = Settling(value, ts[-1], settled, weight, remaining, tau, drift)
                break
        yield from self.manifold_temperature()
        head = self._coarsest(set(heads[-window:]))
        reading = Reading(settling.pressure_pa, settling.weight, settling.drift_pa, head=head)
        return settling, reading

    def _pool_noise(self, ps: list[float], ts: list[float], heads: list[int]) -> None:
        """Add a window's scatter about its line to its gauge's estimate of reading noise,
        less what the A/D steps explain (Sheppard's correction)."""
        k = len(ps)
        if k < 3 or len(set(heads)) != 1:
            return
        head = heads[0]
        slope, _, _ = drift_line(ts, ps)
        tm, pm = sum(ts) / k, sum(ps) / k
        ssr = sum((p - pm - slope * (t - tm)) ** 2 for t, p in zip(ts, ps, strict=True))
        step = self.calibration.head(head).quantum(pm) if pm > 0 else 0.0
        self._noise_ss[head] = self._noise_ss.get(head, 0.0) + ssr - (k - 2) * step**2 / 12.0
        self._noise_dof[head] = self._noise_dof.get(head, 0) + k - 2

    @property
    def calibration(self) -> GaugeCalibration:
        """The manometer's gauges as known now (the noise from the readings so far)."""
        heads = []
        for g in self.gauge.gauges:
            dof = self._noise_dof.get(g.channel, 0)
            ss = self._noise_ss.get(g.channel, 0.0)
            noise = math.sqrt(max(ss, 0.0) / dof) if dof else 0.0
            heads.append(
                Head(
                    channel=g.channel,
                    full_scale_pa=g.full_scale * self.to_pa,
                    accuracy=g.accuracy,
                    step_pa=g.step * self.to_pa,
                    noise_pa=noise,
                    pa_per_unit=self.to_pa,
                )
            )
        return GaugeCalibration(tuple(heads))
