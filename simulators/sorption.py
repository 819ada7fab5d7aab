"""The gas inventory of a volumetric (Sieverts) sorption analyzer: the rig behind its devices.

A manifold of volume V_m, thermostatted by its own temperature controller (the capacitance
manometer sits on it), connects through valve `gas_in` and a flow restriction to the gas
supply (a regulator at `supply_pressure_pa`, the gas chosen by a selector valve), through
valve `vacuum` to a pump, and through valve `dose` to the sample cell. The cell is a bulb
with a stem of inner diameter d: its cold zone (the bulb and the part of the stem below the
bath's liquid, less what the sample's skeleton fills) is at the bath's temperature, its
warm zone (the rest of the stem) at room temperature. The bath is a temperature controller,
or a dewar of liquid nitrogen, whose level falls as it boils off, so the cold zone shrinks
until an operator tops it up; the nitrogen boils at the saturation temperature of the
day's atmospheric pressure, a little higher as oxygen dissolves. A saturation-pressure
(p0) cell in the same dewar holds condensed N2, read by a gauge of its own.

State, per gas: moles in the manifold, moles in the cell's gas phase, and moles adsorbed by
each portion of solid in the cell (the `Portion`s at the world place `place`; a portion
adsorbs if its `substance` is a `simulators.world.Adsorbent`, per gram of `mass_g`). Flows:

* `dose` open:    F = G_dose (p_m − p_c*)                 (seconds to equalise)
* `gas_in` open:  F = G_fill (p_supply − p_m), inflow only (a restriction: a short dose)
* `vacuum` open:  F = S p_m / (R T_m)                     (a pump of speed S)
* a leak:         F = Q / (R T_room) of air, into the manifold, if the rig is given one
* adsorption:     dq/dt = (q_eq(p_cold, T_cold) − q) / τ  (first order; He is not adsorbed)

Thermal transpiration (`simulators.transpiration`) holds the stem's warm end at
p_mouth = R₁ p_c* and its cold zone at p_cold = R₂ p_mouth, R the pressure ratios along
the stem from the manifold's temperature to the room's and from the room's to the bath's:
at the lowest pressures the cold zone holds half the manifold's pressure. p_c* is the
pressure the cell's gas shows the manifold: equal to p_m at equilibrium.

Pressures come from the moles through CoolProp's reference equations of state (real gas).
Between requests the ODE is integrated in exact steps: each step solves the system
linearised at its start (secant capacities n/p, secant isotherm slope q_eq/p, both exact
at the start and at zero) with a matrix exponential, so every flow is a transfer between
compartments and moles are conserved to rounding. A step is halved until the linearisation
holds to a small tolerance over it; steps grow again while nothing changes.

The instrument side sees only what a real analyzer shows: valve states (the relay), the
manifold pressure and the p0 cell's (the capacitance manometers, with their own seeded
errors), the bath's and the manifold's temperatures (their controllers, whose sensors sit
a seeded fraction of a kelvin from the gas). The true volumes differ from the nominal ones
by a seeded calibration error (±0.5 %), the true dewar's boil-off from the nominal; they
are truth, for tests, never for kernels.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from simulators.transpiration import Transpiration
from simulators.world import Adsorbent, Portion, World

R = 8.314462618
LN2_K = 77.35  # liquid nitrogen boiling at one atmosphere (for rough figures only)
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
_P0_COOLING_S = 120.0  # the p0 cell's charge condenses with this time constant
_O2_DRIFT_K_H = 0.005  # dissolved oxygen warms an open dewar this much per hour
_ROOM_GAS = "N2"  # what leaks in from the room (air, as nitrogen)


class RealGas:
    """p(T, ρ) and ρ(T, p) from CoolProp's Helmholtz equations of state."""

    def __init__(self) -> None:
        # Loaded when the rig is built, never mid-run: the import takes a second or two, and
        # a simulator that stalls that long misses its driver's timeout.
        import CoolProp.CoolProp as CP

        self._cp = CP
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
            st.update(self._cp.DmolarT_INPUTS, density_mol_m3, temperature_k)
            return float(st.p())
        except ValueError:
            return ideal  # outside the equation's range (a gas below its triple point)

    def density(self, gas: str, temperature_k: float, pressure_pa: float) -> float:
        """The gas-phase density at (T, p): two secant steps on p(ρ) from the ideal gas's
        (the gas is nearly ideal here, so the error is about (Bρ)³; a (p, T) flash costs
        eight times as much)."""
        if pressure_pa <= 0.0:
            return 0.0
        rho0 = pressure_pa / (R * temperature_k)
        if rho0 < 1e-6:
            return rho0
        p0 = self.pressure(gas, temperature_k, rho0)
        rho1 = rho0 * pressure_pa / p0
        p1 = self.pressure(gas, temperature_k, rho1)
        if p1 == p0:
            return rho1
        return rho1 + (pressure_pa - p1) * (rho1 - rho0) / (p1 - p0)

    def saturation(self, gas: str, temperature_k: float) -> float:
        return float(self._cp.PropsSI("P", "T", temperature_k, "Q", 0, FLUIDS.get(gas, gas)))

    def boiling_point(self, gas: str, pressure_pa: float) -> float:
        return float(self._cp.PropsSI("T", "P", pressure_pa, "Q", 0, FLUIDS.get(gas, gas)))


class SorptionRig:
    """Manifold + cell + sample + dewar of one analyzer, shared by its device simulators."""

    def __init__(
        self,
        now: Callable[[], float],
        world: World,
        *,
        place: str,
        seed: int = 0,
        manifold_volume_ml: float = 25.0,
        cell_volume_ml: float = 12.0,
        stem_diameter_mm: float = 6.0,
        stem_length_mm: float = 150.0,
        immersion_mm: float = 50.0,
        volume_error: float = 0.005,
        manifold_temperature_k: float = 308.15,
        ambient_k: float = 298.15,
        atmosphere_pa: float | None = None,
        ln2_fall_mm_h: float = 3.0,
        p0_charge_pa: float = 130_000.0,
        supply_pressure_pa: float = 125_000.0,
        fill_conductance_ml_s: float = 1.0,
        dose_conductance_ml_s: float = 10.0,
        pump_speed_ml_s: float = 10.0,
        leak_mbar_l_s: float = 0.0,
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
        self.stem_diameter_m = stem_diameter_mm * 1e-3
        self.stem_area_m2 = math.pi * self.stem_diameter_m**2 / 4
        stem_ml = self.stem_area_m2 * stem_length_mm * 1e-3 * 1e6
        if not 0 < stem_ml < self.cell_volume_ml:
            raise ValueError(
                f"sorption rig: a stem of {stem_diameter_mm:g} mm × {stem_length_mm:g} mm "
                f"({stem_ml:.2f} mL) does not fit a {cell_volume_ml:g} mL cell"
            )
        self.stem_volume_ml = stem_ml
        self.immersion_m = immersion_mm * 1e-3
        self.set_manifold_temperature_k = manifold_temperature_k
        self.ambient_k = ambient_k
        # the day's weather, and this dewar's boil-off: truth, never told to a kernel
        self.atmosphere_pa = (
            atmosphere_pa if atmosphere_pa is not None else self.rng.uniform(98.5e3, 103.0e3)
        )
        self.ln2_fall_m_s = ln2_fall_mm_h * 1e-3 / 3600.0 * self.rng.uniform(0.85, 1.15)
        self.p0_charge_pa = p0_charge_pa
        # the temperature sensors sit a little apart from the gas they stand for
        self.manifold_sensor_offset_k = self.rng.uniform(-0.3, 0.3)
        self.bath_sensor_offset_k = self.rng.uniform(-0.1, 0.1)
        self.supply_pressure_pa = supply_pressure_pa
        self.fill_conductance_m3_s = fill_conductance_ml_s * 1e-6
        self.dose_conductance_m3_s = dose_conductance_ml_s * 1e-6
        self.pump_speed_m3_s = pump_speed_ml_s * 1e-6
        self.leak_pa_m3_s = leak_mbar_l_s * 0.1  # mbar L/s → Pa m³/s
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
        self.transpiration = Transpiration()
        # state
        self.valves: dict[str, bool] = dict.fromkeys(VALVES, False)
        self.manifold: dict[str, float] = {}  # mol of each gas
        self.cell: dict[str, float] = {}
        self._adsorbed: dict[int, dict[str, float]] = {}  # id(portion) -> gas -> mol
        self._dewar = False
        self._level_at_fill_m = 0.0  # LN2 above the bulb's top, when last filled
        self._filled_at = 0.0
        self._first_fill_at = 0.0
        self._o2_k = 0.0
        self._boiling_k: float | None = None
        self.fills = 0  # dewar fills and top-ups (a figure for tests)
        self._t = now()
        self._h: dict[str, float] = {}
        self.steps = 0  # integration steps taken (a cost figure for tests)
        # the device simulators it hears from
        self.gauge: Any = None
        self.p0_gauge: Any = None
        self.relay: Any = None
        self.selector: Any = None
        self.bath: Any = None
        self.manifold_controller: Any = None
        self.operator_actions: dict[str, Callable[[Any], None]] = {
            "fill_dewar": self.fill_dewar,
            "top_up_dewar": self.top_up_dewar,
            "remove_dewar": self.remove_dewar,
        }
        world.on_take(place, self._sample_taken)

    # -- wiring to the device simulators ----------------------------------------------
    def simulator_options(self, device_name: str, driver_model: str) -> dict[str, Any]:
        """Extra constructor arguments for the simulator of one of the instrument's devices."""
        if driver_model == "tpg-26x":
            if device_name == "p0_gauge":
                return {"pressure_pa": self.p0_pressure_pa}
            return {"pressure_pa": self.manifold_pressure_pa}
        if driver_model == "mks-9xx":
            return {"pressure_pa": self.manifold_pressure_pa}
        if driver_model == "modbus-relay":
            return {"on_change": self.valve_changed}
        if driver_model == "eurotherm-3200" and device_name == "manifold":
            return {"setpoint_c": self.set_manifold_temperature_k - 273.15}
        return {}

    def attach(self, device_name: str, sim: Any) -> None:
        """Keep a reference to a device's simulator once built (the runtime calls this)."""
        from simulators.eurotherm import Eurotherm3200Simulator
        from simulators.mks import MKSGaugeSimulator
        from simulators.modbus_relay import ModbusRelaySimulator
        from simulators.pfeiffer_tpg import TPGSimulator
        from simulators.vici import VICISimulator

        if isinstance(sim, TPGSimulator):
            if device_name == "p0_gauge":
                self.p0_gauge = sim
                sim.pressure_pa = self.p0_pressure_pa
            else:
                self.gauge = sim
                sim.pressure_pa = self.manifold_pressure_pa
        elif isinstance(sim, MKSGaugeSimulator):
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
            if device_name == "manifold":
                self.manifold_controller = sim
            else:
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
        """True pressure in the cell's cold zone, where the sample is (no gauge reads it:
        truth for tests)."""
        self._advance()
        return sum(self._cell_pressures(g, n)[2] for g, n in self.cell.items())

    def p0_pressure_pa(self) -> float:
        """The saturation-pressure cell: condensed N2 at the bath's temperature while the
        dewar is up (its charge condensing over a few minutes), its gas charge otherwise."""
        self._advance()
        if not self._dewar:
            return self.p0_charge_pa * self.ambient_k / 298.15
        p_sat = self.gas.saturation("N2", self.cell_temperature_k())
        cooling = math.exp(-(self.now() - self._first_fill_at) / _P0_COOLING_S)
        return p_sat + (max(self.p0_charge_pa, p_sat) - p_sat) * cooling

    @property
    def manifold_temperature_k(self) -> float:
        """The manifold's gas: its controller's temperature, and the offset between the
        controller's sensor and the gas."""
        ctl = self.manifold_controller
        if ctl is None:
            return self.set_manifold_temperature_k
        ctl.advance()
        return float(ctl.temperature_c) + 273.15 + self.manifold_sensor_offset_k

    def cell_temperature_k(self) -> float:
        """The cold zone's temperature: boiling nitrogen, the bath controller's, or the room."""
        if self._dewar:
            if self._boiling_k is None:
                self._boiling_k = self.gas.boiling_point("N2", self.atmosphere_pa)
            hours = (self.now() - self._first_fill_at) / 3600.0
            return self._boiling_k + self._o2_k + _O2_DRIFT_K_H * hours
        if self.bath is not None:
            self.bath.advance()
            return float(self.bath.temperature_c) + 273.15 + self.bath_sensor_offset_k
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

    def fill_dewar(self, _step: Any = None) -> None:
        """Raise a dewar filled with liquid nitrogen to the mark around the cell."""
        self._advance()
        if not self._dewar:
            self._first_fill_at = self.now()
            self._o2_k = self.rng.uniform(0.02, 0.2)  # oxygen the nitrogen took up
        self._dewar = True
        self._fill_to_mark()

    def top_up_dewar(self, _step: Any = None) -> None:
        """Pour nitrogen into the raised dewar up to its mark again."""
        self._advance()
        if self._dewar:
            self._fill_to_mark()

    def _fill_to_mark(self) -> None:
        self._level_at_fill_m = self.immersion_m + self.rng.uniform(-1.5e-3, 1.5e-3)
        self._filled_at = self.now()
        self.fills += 1
        self._h.clear()

    def remove_dewar(self, _step: Any = None) -> None:
        self._advance()
        if self._dewar:
            self._dewar = False
            self._h.clear()

    def ln2_level_m(self) -> float:
        """The liquid above the bulb's top (negative: the bulb itself is coming out)."""
        if not self._dewar:
            return 0.0
        return self._level_at_fill_m - self.ln2_fall_m_s * (self.now() - self._filled_at)

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

    # -- the cell's zones ---------------------------------------------------------------
    def _solid_ml(self) -> float:
        solid_ml = 0.0
        for p in self._portions():
            rho = p.properties.get("skeletal_density_g_ml") or getattr(
                p.substance, "skeletal_density_g_ml", None
            )
            solid_ml += p.mass_g / float(rho or self.skeletal_density_g_ml)
        return solid_ml

    def zones_m3(self) -> tuple[float, float]:
        """(cold, warm) free volumes of the cell. In a bath or a dewar the cold zone is the
        bulb and the stem below the liquid; otherwise all of the cell is at room
        temperature and counted cold (one zone)."""
        free = max(self.cell_volume_ml - self._solid_ml(), 1e-3) * 1e-6
        if not (self._dewar or self.bath is not None):
            return free, 0.0
        stem = self.stem_volume_ml * 1e-6
        bulb = free - stem
        level = self.ln2_level_m() if self._dewar else self.immersion_m
        immersed = min(max(level, 0.0) * self.stem_area_m2, stem)
        if level < 0:  # the bulb as a 30 mm cylinder: its top is out of the liquid
            bulb *= max(0.0, 1.0 + level / 0.03)
        cold = max(bulb + immersed, 1e-9)
        return cold, free - cold

    def free_volume_m3(self) -> float:
        return sum(self.zones_m3())

    def _cell_pressures(self, gas: str, n: float) -> tuple[float, float, float]:
        """(p*, p_mouth, p_cold) of n mol of `gas` in the cell: p* what the manifold sees
        (equal to its pressure at equilibrium), p_mouth the stem's warm end, p_cold the cold
        zone's; found by the secant method in ln p* from the ideal guess."""
        cold, warm = self.zones_m3()
        t_m, t_r, t_c = self.manifold_temperature_k, self.ambient_k, self.cell_temperature_k()
        if warm <= 0:
            t_r = t_c  # one zone: the whole cell at room temperature
        if n <= 0:
            return 0.0, 0.0, 0.0
        d = self.stem_diameter_m
        to_mouth = self.transpiration.table(gas, t_m, t_r, d) or _one
        to_cold = self.transpiration.table(gas, t_r, t_c, d) or _one

        def held(p_star: float) -> tuple[float, float, float]:
            p_mouth = p_star * to_mouth(p_star)
            p_cold = p_mouth * to_cold(p_mouth)
            n_held = cold * self.gas.density(gas, t_c, p_cold)
            if warm > 0:
                n_held += warm * self.gas.density(gas, t_r, p_mouth)
            return n_held, p_mouth, p_cold

        x0 = math.log(n / (warm / (R * t_r) + cold / (R * t_c)))
        f0 = math.log(held(math.exp(x0))[0] / n)
        x1 = x0 - f0
        for _ in range(30):
            n1, p_mouth, p_cold = held(math.exp(x1))
            f1 = math.log(n1 / n)
            if abs(f1) < 1e-12 or f1 == f0:
                break
            x0, x1, f0 = x1, x1 - f1 * (x1 - x0) / (f1 - f0), f1
        return math.exp(x1), p_mouth, p_cold

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
        self._memo: dict[tuple[str, float], tuple[float, float]] = {}
        t_cell = self.cell_temperature_k()
        supply = self.supply_gas() if self.valves["gas_in"] else None
        sorbents = [p for p in self._portions() if isinstance(p.substance, Adsorbent)]
        for p in sorbents:
            self._adsorbed.setdefault(id(p), {})
        gases = set(self.manifold) | set(self.cell)
        gases |= {g for p in sorbents for g in self._adsorbed[id(p)]}
        if supply is not None:
            gases.add(supply)
        if self.leak_pa_m3_s > 0:
            gases.add(_ROOM_GAS)
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

    def _cell_capacity(self, gas: str, n: float) -> tuple[float, float]:
        """(n/p*, p_cold/p*) of the cell holding n mol: exact here and at zero. Within one
        advance the cell's zones and temperatures are those of its end, so a step's last
        state is the next one's first: each is worked out once."""
        if n <= 0:
            n = 1e-18  # the limit at zero: free-molecular ratios, ideal gas
        key = (gas, n)
        hit = self._memo.get(key)
        if hit is None:
            p_star, _, p_cold = self._cell_pressures(gas, n)
            hit = self._memo[key] = (n / p_star, p_cold / p_star)
        return hit

    def _slope(self, portion: Portion, gas: str, t_cell: float, p_cold: float, to_star: float):
        """Secant slope q_eq(p_cold)/p* of the portion's isotherm (mol/Pa): exact at p and 0,
        where p_cold = to_star · p*."""
        p = max(p_cold, _P_HENRY_PA)
        sorbent: Adsorbent = portion.substance
        return sorbent.loading(gas, t_cell, p) * portion.mass_g * 1e-3 / p * to_star

    def _step(
        self, gas: str, h: float, t_cell: float, supplied: bool, adsorbing: list[Portion]
    ) -> tuple[np.ndarray, bool]:
        """One exact step of the linearised system; ok when the linearisation held."""
        t_m = self.manifold_temperature_k
        v_m = self.manifold_volume_ml * 1e-6
        n_m = self.manifold.get(gas, 0.0)
        n_c = self.cell.get(gas, 0.0)
        c_m = self._capacity(gas, n_m, v_m, t_m)
        c_c, to_cold = self._cell_capacity(gas, n_c)
        p_cold = n_c / c_c * to_cold
        k = [self._slope(p, gas, t_cell, p_cold, to_cold) for p in adsorbing]
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
        if gas == _ROOM_GAS and self.leak_pa_m3_s > 0:
            a[0, one] += self.leak_pa_m3_s / (R * self.ambient_k)
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
        ok = _close(self._capacity(gas, y[0], v_m, t_m), c_m, _CAPACITY_TOL)
        if ok and (self.valves["dose"] or adsorbing):
            c_c1, to_cold1 = self._cell_capacity(gas, y[1])
            ok = _close(c_c1, c_c, _CAPACITY_TOL)
            if ok and adsorbing:
                p_cold1 = y[1] / c_c1 * to_cold1
                ok = all(
                    _close(self._slope(p, gas, t_cell, p_cold1, to_cold1), ki, _SLOPE_TOL)
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


def _one(_pressure_pa: float) -> float:
    return 1.0


def _close(x: float, ref: float, tol: float) -> bool:
    return abs(x - ref) <= tol * abs(ref) or math.isclose(x, ref, abs_tol=1e-300)
