"""A closed gas cell: mass-flow controllers fill it, a vent valve relaxes it to the room, a
gauge reads it, a heater (optionally) warms it. Configured from a lab file, no code.

State: n, the moles of gas in a cell of volume V at temperature T. The gas is ideal,
p = n R T / V: good to well under 1 % for the permanent gases an Alicat meters, at the
pressures a 9xx gauge reads (≤ 1000 Torr), far from condensation. Species are not tracked
(an ideal mixture's pressure needs only the total).

* Each Alicat MFC of the instrument delivers its *true* flow F_i (standard cm³/min at the
  Alicat's standard conditions, 25 °C and 14.696 psia), which follows the setpoint with a
  first-order lag: between two changes of its valve's goal (the MFC calls `on_retarget`),
  F_i(t) = T_i + D_i·exp(−(t − a)/τ_i). The MFC's supply is taken to be far above the cell
  (the flow does not choke as the cell fills); its pressure reading is the cell's.
* The vent valve (relay channel `vent_channel`, energised = open) joins the cell to the
  room at `ambient_pressure` through a conductance C (mL/s of gas at cell conditions):
  dn/dt = −C (p − p_amb)/(R T) = −k (n − n_amb), k = C/V, n_amb = p_amb V/(R T); so an
  open vent relaxes the pressure exponentially with time constant V/C (room air flows in
  when the cell is below ambient).

Together dn/dt = Σ F_i(t) − k (n − n_amb), solved exactly over each interval between events
(a request that changes a flow, a valve switching):

    n(a+h) = n_amb + (n(a) − n_amb) e^{−kh}
             + Σ_i [T_i (1 − e^{−kh})/k + D_i (e^{−h/τ_i} − e^{−kh})/(k − 1/τ_i)]

(k = 0 with the vent shut: plain integration of the flow). T is the cell's temperature: the
instrument's Eurotherm simulator's process temperature if it has one (a heated cell), else
the fixed `temperature`. A sealed cell's pressure is exact at any T(t); with the vent open,
n_amb is taken at the temperature at the end of each interval (exact for a steady T).

The heater: the gas cell takes the thermal-mass rig's options (`heat_capacity`, `heat_loss`,
`heater_power`, `heater_channel`; see simulators/thermal_mass.py) and builds the
instrument's Eurotherm with them, `temperature` being the room's (the heater's ambient).
With `heater_channel` the heater is switched by that relay channel (and heats the cell even
with no Eurotherm to read it).

Options (lab keys, the unit each arrives in): volume mL, temperature degC, ambient_pressure
Pa, initial_pressure Pa, vent_conductance mL/s, vent_channel (plain int), heat_capacity J/K,
heat_loss W/K, heater_power W, heater_channel (plain int). Taking out what sits at the
cell's world place (`place`) opens the cell: it fills with room air at ambient pressure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from simulators.alicat import PSI_PA, STD_P_PSIA, STD_T_C, AlicatSimulator
from simulators.eurotherm import Eurotherm3200Simulator
from simulators.mks import ATM_PA, MKSGaugeSimulator
from simulators.modbus_relay import ModbusRelaySimulator
from simulators.thermal_mass import EUROTHERM, RELAY, ThermalMassRig
from simulators.world import World

R = 8.314462618  # J/(mol K)
ZERO_C_K = 273.15
#: moles in one standard cm³ at the Alicat's standard conditions (25 °C, 14.696 psia)
MOL_PER_SCC = STD_P_PSIA * PSI_PA * 1e-6 / (R * (STD_T_C + ZERO_C_K))


class GasCellRig:
    """The shared gas inventory of one cell, behind its MFCs, gauge, vent relay and heater."""

    def __init__(
        self,
        now: Callable[[], float],
        world: World,
        *,
        place: str = "",
        seed: int = 0,
        volume: float = 50.0,
        temperature: float = 25.0,
        ambient_pressure: float = ATM_PA,
        initial_pressure: float | None = None,
        vent_conductance: float = 5.0,
        vent_channel: int = 0,
        heat_capacity: float = 2000.0,
        heat_loss: float = 2.0,
        heater_power: float = 1000.0,
        heater_channel: int | None = None,
    ) -> None:
        """volume: mL; temperature: degC (the cell's with no heater, else the room's);
        ambient_pressure: Pa (the room, behind the vent); initial_pressure: Pa (default:
        ambient); vent_conductance: mL/s (time constant volume/vent_conductance);
        vent_channel: relay channel of the vent valve (energised = open); heat_capacity J/K,
        heat_loss W/K, heater_power W, heater_channel: as in the thermal-mass rig.
        `seed` is unused: the cell's physics has no random part."""
        if initial_pressure is None:
            initial_pressure = ambient_pressure
        if not (math.isfinite(volume) and volume > 0):
            raise ValueError(f"gas-cell rig: volume {volume!r} mL is not a positive number")
        for name, value in (
            ("ambient_pressure", ambient_pressure),
            ("initial_pressure", initial_pressure),
            ("vent_conductance", vent_conductance),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"gas-cell rig: {name} {value!r} is not a number >= 0")
        if isinstance(vent_channel, bool) or not isinstance(vent_channel, int) or vent_channel < 0:
            raise ValueError(f"gas-cell rig: vent_channel {vent_channel!r} is not a channel")
        if heater_channel is not None and heater_channel == vent_channel:
            raise ValueError(f"gas-cell rig: channel {vent_channel} is both vent and heater")
        self.now = now
        self.world = world
        self.place = place
        self.volume_ml = float(volume)
        self.ambient_pressure_pa = float(ambient_pressure)
        self.vent_conductance_ml_s = float(vent_conductance)
        self.vent_channel = vent_channel
        self.thermal = ThermalMassRig(
            now,
            world,
            place=place,
            heat_capacity=heat_capacity,
            heat_loss=heat_loss,
            heater_power=heater_power,
            ambient_temperature=temperature,
            heater_channel=heater_channel,
        )
        self.vent_open = False
        self.mfcs: list[AlicatSimulator] = []
        self.gauges: list[MKSGaugeSimulator] = []
        self.relay: ModbusRelaySimulator | None = None
        # per MFC, valid from self._t until its next retarget: (T_i sccm, D_i sccm, 1/τ_i)
        self._lags: list[tuple[float, float, float]] = []
        self._t = now()
        self.n_mol = float(initial_pressure) * self.volume_m3 / (R * self.temperature_k())
        self.delivered_mol = 0.0  # through the MFCs, in all
        self.vented_mol = 0.0  # out through the vent, net (negative: room air came in)
        if place:
            world.on_take(place, self._opened)

    @property
    def volume_m3(self) -> float:
        return self.volume_ml * 1e-6

    @property
    def vent_time_constant_s(self) -> float:
        """V/C: how fast an open vent relaxes the cell to ambient (inf with no conductance)."""
        c = self.vent_conductance_ml_s
        return self.volume_ml / c if c > 0 else math.inf

    # -- wiring to the device simulators ----------------------------------------------
    def simulator_options(self, device: str, driver: str) -> dict[str, Any]:
        """Extra constructor arguments for the simulator of one of the instrument's devices."""
        if driver == "alicat":
            return {"downstream_pa": self.pressure_pa, "on_retarget": self.flows_changed}
        if driver == "mks-9xx":
            return {"pressure_pa": self.pressure_pa}
        if driver == RELAY:
            return {"on_change": self.relay_changed}
        if driver == EUROTHERM:
            return self.thermal.controller_options()
        return {}

    def attach(self, device: str, sim: Any) -> None:
        """Keep a device's simulator once built (the runtime calls this)."""
        self._advance()
        if isinstance(sim, AlicatSimulator):
            sim.downstream_pa = self.pressure_pa
            sim.on_retarget = self.flows_changed
            self.mfcs.append(sim)
            self._refresh()
        elif isinstance(sim, MKSGaugeSimulator):
            sim.pressure_pa = self.pressure_pa
            self.gauges.append(sim)
        elif isinstance(sim, ModbusRelaySimulator):
            sim.on_change = self.relay_changed
            self.relay = sim
            if self.vent_channel < len(sim.coils):
                self.vent_open = bool(sim.coils[self.vent_channel])
            if self.thermal.heater_channel is not None:
                self.thermal.set_relay(sim)
        elif isinstance(sim, Eurotherm3200Simulator):
            self.thermal.add_controller(sim)

    # -- events -----------------------------------------------------------------------
    def flows_changed(self) -> None:
        """An MFC's valve has a new goal: close the interval, start a new one."""
        self._advance()

    def relay_changed(self, channel: int, energised: bool) -> None:
        """The relay's hook: the vent channel opens the vent; the heater channel heats."""
        self._advance()
        if channel == self.vent_channel:
            self.vent_open = energised
        self.thermal.relay_changed(channel, energised)

    def _opened(self, place: str) -> None:
        """Something is taken out of the cell: it is opened to the room."""
        self._advance()
        self.vented_mol += self.n_mol - self._ambient_mol(self.temperature_k())
        self.n_mol = self._ambient_mol(self.temperature_k())

    # -- what the devices see (and truth, for tests) ------------------------------------
    def temperature_k(self) -> float:
        return self.thermal.temperature_c() + ZERO_C_K

    def pressure_pa(self) -> float:
        """True pressure in the cell (the gauge adds its own errors)."""
        self._advance()
        return self.n_mol * R * self.temperature_k() / self.volume_m3

    def amount_mol(self) -> float:
        self._advance()
        return self.n_mol

    # -- physics ----------------------------------------------------------------------
    def _ambient_mol(self, temperature_k: float) -> float:
        return self.ambient_pressure_pa * self.volume_m3 / (R * temperature_k)

    def _advance(self) -> None:
        t = self.now()
        h = t - self._t
        if h > 0:
            self._t = t
            temp = self.temperature_k()
            k = self.vent_conductance_ml_s / self.volume_ml if self.vent_open else 0.0
            n_amb = self._ambient_mol(temp) if k > 0 else 0.0
            into = delivered = 0.0  # scc·min/s: what remains in the cell, what came in
            for target, deviation, rate in self._lags:
                into += target * _relax(k, h) + deviation * _lagged(k, rate, h)
                delivered += target * h + deviation * _relax(rate, h)
            into *= MOL_PER_SCC / 60.0
            delivered *= MOL_PER_SCC / 60.0
            n = max(0.0, n_amb + (self.n_mol - n_amb) * math.exp(-k * h) + into)
            self.vented_mol += self.n_mol + delivered - n
            self.delivered_mol += delivered
            self.n_mol = n
        self._refresh()

    def _refresh(self) -> None:
        """Each MFC's lag as it stands now: the next interval starts here."""
        lags = []
        for sim in self.mfcs:
            flow, target, tau = sim.flow_state()
            lags.append((target, flow - target, 1.0 / tau))
        self._lags = lags


def _relax(k: float, h: float) -> float:
    """∫₀ʰ e^{−k(h−u)} du = (1 − e^{−kh})/k (h when k = 0)."""
    return h if k == 0 else -math.expm1(-k * h) / k


def _lagged(k: float, rate: float, h: float) -> float:
    """∫₀ʰ e^{−rate·u} e^{−k(h−u)} du = (e^{−rate·h} − e^{−kh})/(k − rate), stable for k ≈ rate."""
    y = (k - rate) * h / 2
    if abs(y) > 1.0:
        return (math.exp(-rate * h) - math.exp(-k * h)) / (k - rate)
    sinhc = math.sinh(y) / y if y != 0 else 1.0
    return h * math.exp(-(k + rate) * h / 2) * sinhc
