"""The gas inventory of a volumetric (Sieverts) sorption analyzer: the rig behind its devices.

A manifold of volume V_m at a controlled temperature (the gauge sits on it) connects through
valve `gas_in` and a flow restriction to the gas supply (a regulator at `supply_pressure_pa`,
the gas chosen by a selector valve), through valve `vacuum` to a pump, and through valve
`dose` to the sample cell, whose free volume (the cell less what the sample's skeleton fills)
sits in the bath: a temperature controller, or a liquid-nitrogen dewar at 77.35 K.

State, per gas: moles in the manifold, moles in the cell's gas phase, and moles adsorbed by
each portion of solid in the cell (the `Portion`s at the world place `place`; a portion
adsorbs if its `substance` is a `simulators.world.Adsorbent`, per gram of `mass_g`). Flows:

* `dose` open:    F = G_dose (p_m − p_c)                  (seconds to equalise)
* `gas_in` open:  F = G_fill (p_supply − p_m), inflow only (a restriction: a short dose)
* `vacuum` open:  F = S p_m / (R T_m)                     (a pump of speed S)
* adsorption:     dq/dt = (q_eq(p_c, T_c) − q) / τ        (first order; He is not adsorbed)

Pressures come from the moles through CoolProp's reference equations of state (real gas), so
the equilibrium after a dose is equal *real* pressures, as the kernel's real-gas mass balance
assumes. Between requests the ODE is integrated in exact steps: each step solves the system
linearised at its start (secant capacities n/p, secant isotherm slope q_eq(p)/p, both exact
at the start and at zero) with a matrix exponential, so every flow is a transfer between
compartments and moles are conserved to rounding. A step is halved until the linearisation
holds to a small tolerance over it; steps grow again while nothing changes.

The instrument side sees only what a real analyzer shows: valve states (the relay),
the manifold pressure (the gauge simulator, with its own seeded gain error), the bath
temperature (the temperature controller). The true volumes differ from the nominal ones
by a seeded calibration error (±0.5 %); they are truth, for tests, never for kernels.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from simulators.world import Adsorbent, Portion, World

R = 8.314462618  # J/(mol K)
LN2_K = 77.35  # liquid nitrogen boiling at one atmosphere
FLUIDS = {
    "He": "Helium",
    "CO2": "CarbonDioxide",
    "N2": "Nitrogen",
    "Ar": "Argon",
    "Kr": "Krypton",
    "CH4": "Methane",
}
VALVES = ("gas_in", "dose", "vacuum")
_H_START_S = 0.05  # first step after anything changed
_H_MIN_S = 1e-4
_P_HENRY_PA = 1e-3  # the isotherm's slope at zero pressure is taken here
_TINY_MOL = 1e-21  # less than this of a gas everywhere, and it is gone
_CAPACITY_TOL = 1e-3  # relative change of n/p allowed over one step
_SLOPE_TOL = 0.02  # relative change of q_eq(p)/p allowed over one step


class RealGas:
    """p(T, ρ) from CoolProp's Helmholtz equations of state (one AbstractState per gas)."""

    def __init__(self) -> None:
        # Loaded when the rig is built, never mid-run: the import takes a second or two, and
        # a simulator that stalls that long misses its driver's timeout.
        import CoolProp.CoolProp as CP

        self._cp = CP
        self._inputs = CP.DmolarT_INPUTS
        self._states: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}  # CoolProp's states are caches: rebuilt on first use

    def __setstate__(self, _state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def _state(self, gas: str) -> Any:
        st = self._states.get(gas)
        if st is None:
            st = self._cp.AbstractState("HEOS", FLUIDS.get(gas, gas))
            self._states[gas] = st
        return st

    def pressure(self, gas: str, temperature_k: float, density_mol_m3: float) -> float:
        if density_mol_m3 <= 0.0:
            return 0.0
        ideal = density_mol_m3 * R * temperature_k
        if density_mol_m3 < 1e-6:
            return ideal  # far below any measurable non-ideality
        st = self._state(gas)
        try:
            st.update(self._inputs, density_mol_m3, temperature_k)
            return float(st.p())
        except ValueError:
            return ideal  # outside the equation's range (a gas below its triple point)


class SorptionRig:
    """Manifold + cell + sample of one analyzer, shared by its device simulators."""

    def __init__(
        self,
        now: Callable[[], float],
        world: World,
        *,
        place: str,
        seed: int = 0,
        manifold_volume_ml: float = 25.0,
        cell_volume_ml: float = 12.0,
        volume_error: float = 0.005,
        manifold_temperature_k: float = 308.15,
        ambient_k: float = 298.15,
        supply_pressure_pa: float = 125_000.0,
        fill_conductance_ml_s: float = 1.0,
        dose_conductance_ml_s: float = 10.0,
        pump_speed_ml_s: float = 10.0,
        valve_channels: Mapping[str, int] | None = None,
        gas_ports: Mapping[int | str, str] | None = None,
        supply_gas: str | None = None,
        skeletal_density_g_ml: float = 1.9,
        max_step_s: float = 120.0,
    ) -> None:
        self.now = now
        self.world = world
        self.place = place
        self.rng = random.Random(seed)
        # What the instrument's calibration certificate says, and what is really there.
        self.nominal_manifold_volume_ml = manifold_volume_ml
        self.nominal_cell_volume_ml = cell_volume_ml
        self.manifold_volume_ml = manifold_volume_ml * (
            1 + self.rng.uniform(-volume_error, volume_error)
        )
        self.cell_volume_ml = cell_volume_ml * (1 + self.rng.uniform(-volume_error, volume_error))
        self.manifold_temperature_k = manifold_temperature_k
        self.ambient_k = ambient_k
        self.supply_pressure_pa = supply_pressure_pa
        self.fill_conductance_m3_s = fill_conductance_ml_s * 1e-6
        self.dose_conductance_m3_s = dose_conductance_ml_s * 1e-6
        self.pump_speed_m3_s = pump_speed_ml_s * 1e-6
        self.valve_channels = dict(valve_channels or {"gas_in": 0, "dose": 1, "vacuum": 2})
        unknown = set(self.valve_channels) - set(VALVES)
        if unknown:
            raise ValueError(f"sorption rig: unknown valves {sorted(unknown)} (has {VALVES})")
        self._valve_of = {ch: name for name, ch in self.valve_channels.items()}
        ports = gas_ports or {1: "He", 2: "CO2", 3: "N2"}
        self.gas_ports = {int(k): v for k, v in ports.items()}
        self.default_supply_gas = supply_gas  # used when no selector valve is attached
        self.skeletal_density_g_ml = skeletal_density_g_ml
        self.max_step_s = max_step_s
        self.gas = RealGas()
        # state
        self.valves: dict[str, bool] = dict.fromkeys(VALVES, False)
        self.manifold: dict[str, float] = {}  # mol of each gas
        self.cell: dict[str, float] = {}
        self._adsorbed: dict[int, dict[str, float]] = {}  # id(portion) -> gas -> mol
        self._dewar = False
        self._t = now()
        self._h: dict[str, float] = {}
        self.steps = 0  # integration steps taken (a cost figure for tests)
        # the device simulators it hears from
        self.gauge: Any = None
        self.relay: Any = None
        self.selector: Any = None
        self.bath: Any = None
        self.operator_actions: dict[str, Callable[[Any], None]] = {
            "fill_dewar": self.fill_dewar,
            "remove_dewar": self.remove_dewar,
        }
        world.on_take(place, self._sample_taken)

    def fill_dewar(self, _step: Any = None) -> None:
        self.set_dewar(True)

    def remove_dewar(self, _step: Any = None) -> None:
        self.set_dewar(False)

    # -- wiring to the device simulators ----------------------------------------------
    def simulator_options(self, device_name: str, driver_model: str) -> dict[str, Any]:
        """Extra constructor arguments for the simulator of one of the instrument's devices."""
        if driver_model == "mks-9xx":
            return {"pressure_pa": self.manifold_pressure_pa}
        if driver_model == "modbus-relay":
            return {"on_change": self.valve_changed}
        return {}

    def attach(self, device_name: str, sim: Any) -> None:
        """Keep a reference to a device's simulator once built (the runtime calls this)."""
        from simulators.eurotherm import Eurotherm3200Simulator
        from simulators.mks import MKSGaugeSimulator
        from simulators.modbus_relay import ModbusRelaySimulator
        from simulators.vici import VICISimulator

        if isinstance(sim, MKSGaugeSimulator):
            self.gauge = sim
            sim.pressure_pa = self.manifold_pressure_pa
        elif isinstance(sim, ModbusRelaySimulator):
            self.relay = sim
            sim.on_change = self.valve_changed
            self._advance()
            for name, channel in self.valve_channels.items():
                if channel < len(sim.coils):
                    self.valves[name] = bool(sim.coils[channel])
        elif isinstance(sim, VICISimulator):
            self.selector = sim
        elif isinstance(sim, Eurotherm3200Simulator):
            self._advance()
            self.bath = sim

    # -- what the devices see ---------------------------------------------------------
    def valve_changed(self, channel: int, energised: bool) -> None:
        """The relay's hook: an energised coil opens its (normally closed) valve."""
        name = self._valve_of.get(channel)
        if name is not None:
            self.set_valve(name, energised)

    def set_valve(self, name: str, open_: bool) -> None:
        if name not in self.valves:
            raise KeyError(f"sorption rig has no valve {name!r} (valves: {', '.join(VALVES)})")
        self._advance()
        if self.valves[name] != open_:
            self.valves[name] = open_
            self._h.clear()  # something moves now: start with small steps

    def manifold_pressure_pa(self) -> float:
        """True pressure in the manifold (the gauge adds its own errors)."""
        self._advance()
        v = self.manifold_volume_ml * 1e-6
        t = self.manifold_temperature_k
        return sum(self.gas.pressure(g, t, n / v) for g, n in self.manifold.items())

    def cell_pressure_pa(self) -> float:
        """True pressure in the sample cell (no gauge reads it: truth for tests)."""
        self._advance()
        v = self.free_volume_m3()
        t = self.cell_temperature_k()
        return sum(self.gas.pressure(g, t, n / v) for g, n in self.cell.items())

    def cell_temperature_k(self) -> float:
        """The bath's temperature: the dewar's 77.35 K, the controller's, or ambient."""
        if self._dewar:
            return LN2_K
        if self.bath is not None:
            self.bath.advance()
            return float(self.bath.temperature_c) + 273.15
        return self.ambient_k

    def supply_gas(self) -> str | None:
        """The gas at `gas_in`: the selector's port, or none while its rotor turns."""
        if self.selector is None:
            return self.default_supply_gas
        self.selector.advance()
        if self.selector.move is not None:
            return None
        return self.gas_ports.get(int(self.selector.position))

    # -- the operator's acts and the world ---------------------------------------------
    @property
    def dewar_filled(self) -> bool:
        return self._dewar

    def set_dewar(self, filled: bool) -> None:
        """Raise a full liquid-nitrogen dewar around the cell (or take it away)."""
        self._advance()
        if self._dewar != filled:
            self._dewar = filled
            self._h.clear()

    def _portions(self) -> list[Portion]:
        return self.world.contents(self.place)

    def _sample_taken(self, place: str) -> None:
        """The cell is opened to take the sample out: its gas is vented, and what the
        sample held desorbs into the room."""
        self._advance()
        for p in self._portions():
            self._adsorbed.pop(id(p), None)
        self.cell.clear()
        self._h.clear()

    def free_volume_m3(self) -> float:
        solid_ml = 0.0
        for p in self._portions():
            rho = p.properties.get("skeletal_density_g_ml") or getattr(
                p.substance, "skeletal_density_g_ml", None
            )
            solid_ml += p.mass_g / float(rho or self.skeletal_density_g_ml)
        return max(self.cell_volume_ml - solid_ml, 1e-3) * 1e-6

    # -- truth, for tests -------------------------------------------------------------
    def adsorbed_mol(self, gas: str | None = None) -> float:
        self._advance()
        return sum(
            n for held in self._adsorbed.values() for g, n in held.items() if gas in (None, g)
        )

    def total_mol(self, gas: str | None = None) -> float:
        """Every mole of `gas` (or of all gases) in manifold, cell and sample."""
        self._advance()
        gas_phase = sum(
            n for d in (self.manifold, self.cell) for g, n in d.items() if gas in (None, g)
        )
        return gas_phase + self.adsorbed_mol(gas)

    # -- physics ----------------------------------------------------------------------
    def _advance(self) -> None:
        t = self.now()
        dt = t - self._t
        if dt <= 0:
            return
        self._t = t
        t_cell = self.cell_temperature_k()
        supply = self.supply_gas() if self.valves["gas_in"] else None
        sorbents = [p for p in self._portions() if isinstance(p.substance, Adsorbent)]
        for p in sorbents:
            self._adsorbed.setdefault(id(p), {})
        gases = set(self.manifold) | set(self.cell)
        gases |= {g for p in sorbents for g in self._adsorbed[id(p)]}
        if supply is not None:
            gases.add(supply)
        for gas in sorted(gases):
            self._integrate(gas, dt, t_cell, gas == supply, sorbents)
            held = sum(self._adsorbed[id(p)].get(gas, 0.0) for p in sorbents)
            if self.manifold.get(gas, 0.0) + self.cell.get(gas, 0.0) + held < _TINY_MOL:
                self.manifold.pop(gas, None)
                self.cell.pop(gas, None)
                for p in sorbents:
                    self._adsorbed[id(p)].pop(gas, None)

    def _integrate(
        self, gas: str, dt: float, t_cell: float, supplied: bool, sorbents: list[Portion]
    ) -> None:
        adsorbing = [] if gas == "He" else sorbents
        h = self._h.get(gas, _H_START_S)
        left = dt
        while left > 0:
            step = min(h, left)
            y, ok = self._step(gas, step, t_cell, supplied, adsorbing)
            if not ok and step > _H_MIN_S:
                h = step / 2
                continue
            self.steps += 1
            self.manifold[gas], self.cell[gas] = float(y[0]), float(y[1])
            for i, p in enumerate(adsorbing):
                self._adsorbed[id(p)][gas] = float(y[2 + i])
            left -= step
            if ok and step == h:
                h = min(2 * h, self.max_step_s)
        self._h[gas] = h

    def _capacity(self, gas: str, n: float, volume: float, t: float) -> float:
        """Secant capacity n/p (mol/Pa) of a volume holding n mol: exact here and at zero."""
        p = self.gas.pressure(gas, t, n / volume)
        return n / p if p > 0 else volume / (R * t)

    def _slope(self, portion: Portion, gas: str, t_cell: float, p_cell: float) -> float:
        """Secant slope q_eq(p)/p of the portion's isotherm (mol/Pa): exact at p and 0."""
        p = max(p_cell, _P_HENRY_PA)
        sorbent: Adsorbent = portion.substance
        return sorbent.loading(gas, t_cell, p) * portion.mass_g * 1e-3 / p

    def _step(
        self, gas: str, h: float, t_cell: float, supplied: bool, adsorbing: list[Portion]
    ) -> tuple[np.ndarray, bool]:
        """One exact step of the linearised system; ok when the linearisation held."""
        t_m = self.manifold_temperature_k
        v_m = self.manifold_volume_ml * 1e-6
        v_c = self.free_volume_m3()
        n_m = self.manifold.get(gas, 0.0)
        n_c = self.cell.get(gas, 0.0)
        c_m = self._capacity(gas, n_m, v_m, t_m)
        c_c = self._capacity(gas, n_c, v_c, t_cell)
        p_c = n_c / c_c
        k = [self._slope(p, gas, t_cell, p_c) for p in adsorbing]
        taus = [p.substance.uptake_time_constant_s(gas, t_cell) for p in adsorbing]
        size = 3 + len(adsorbing)
        one = size - 1  # homogeneous coordinate: constant sources
        a = np.zeros((size, size))
        if self.valves["dose"]:
            g = self.dose_conductance_m3_s / (R * t_m)
            a[0, 0] -= g / c_m
            a[0, 1] += g / c_c
            a[1, 0] += g / c_m
            a[1, 1] -= g / c_c
        if self.valves["vacuum"]:
            a[0, 0] -= self.pump_speed_m3_s / (R * t_m) / c_m
        if supplied and n_m / c_m < self.supply_pressure_pa:
            g = self.fill_conductance_m3_s / (R * t_m)
            a[0, 0] -= g / c_m
            a[0, one] += g * self.supply_pressure_pa
        for i, (ki, tau) in enumerate(zip(k, taus, strict=True)):
            r = 2 + i
            a[r, 1] += ki / (c_c * tau)
            a[r, r] -= 1.0 / tau
            a[1, 1] -= ki / (c_c * tau)
            a[1, r] += 1.0 / tau
        y0 = np.zeros(size)
        y0[0], y0[1], y0[one] = n_m, n_c, 1.0
        for i, p in enumerate(adsorbing):
            y0[2 + i] = self._adsorbed[id(p)].get(gas, 0.0)
        y = np.maximum(expm(a * h) @ y0, 0.0)
        # Did the linearisation hold over the step?
        ok = _close(self._capacity(gas, y[0], v_m, t_m), c_m, _CAPACITY_TOL) and _close(
            self._capacity(gas, y[1], v_c, t_cell), c_c, _CAPACITY_TOL
        )
        if ok and adsorbing:
            p_c1 = y[1] / self._capacity(gas, y[1], v_c, t_cell)
            ok = all(
                _close(self._slope(p, gas, t_cell, p_c1), ki, _SLOPE_TOL)
                for p, ki in zip(adsorbing, k, strict=True)
            )
        return y, ok


def expm(a: np.ndarray) -> np.ndarray:
    """exp(a) by scaling and squaring a degree-12 Taylor polynomial.

    For the few-by-few matrices here this is exact to rounding, and it avoids LAPACK:
    scipy's expm costs milliseconds per call once OpenBLAS spins up its threads."""
    norm = float(np.abs(a).sum(axis=0).max())
    squarings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    b = a / 2.0**squarings
    term = np.eye(a.shape[0])
    out = term.copy()
    for k in range(1, 13):
        term = term @ b / k
        out += term
    for _ in range(squarings):
        out = out @ out
    return out


def _close(x: float, ref: float, tol: float) -> bool:
    return abs(x - ref) <= tol * abs(ref) or math.isclose(x, ref, abs_tol=1e-300)
