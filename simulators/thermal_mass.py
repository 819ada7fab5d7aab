"""A heated block (or cell): one thermal mass, a heater, a loss to the room.

A lab file states the physics once, in physical units, instead of simulator internals:

    C dT/dt = P(t) − G (T − T_room)

so with the heater at full power P the block approaches T_room + P/G with time constant
C/G. The instrument's Eurotherm simulator(s) are built with these values (its own exact
first-order solution does the rest; each controller is one such block). The heater is either

* the Eurotherm's output (the default): P = heater_power × output %, its PID in charge; or
* switched by a Modbus relay channel (`heater_channel`): full power while the coil is
  energised, nothing otherwise; the Eurotherm, if any, only reads the temperature (its own
  output drives no heater). The rig advances the controller before each switch, so every
  step stays exact. With no Eurotherm at all the rig keeps the temperature itself
  (`temperature_c()`, exact between switches), for a gas cell's pressure.

Options (lab keys, the unit each arrives in): heat_capacity J/K, heat_loss W/K,
heater_power W, ambient_temperature degC, heater_channel (a relay channel number).
Give them here, not as the Eurotherm's simulator options (they would be given twice).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from simulators.eurotherm import Eurotherm3200Simulator
from simulators.modbus_relay import ModbusRelaySimulator
from simulators.world import World

EUROTHERM = "eurotherm-3200"
RELAY = "modbus-relay"


class ThermalMassRig:
    """One heated thermal mass behind an instrument's temperature controller(s)."""

    def __init__(
        self,
        now: Callable[[], float],
        world: World,
        *,
        place: str = "",
        seed: int = 0,
        heat_capacity: float = 2000.0,
        heat_loss: float = 2.0,
        heater_power: float = 1000.0,
        ambient_temperature: float = 25.0,
        heater_channel: int | None = None,
    ) -> None:
        """heat_capacity: J/K; heat_loss: W/K (to the room); heater_power: W (full output);
        ambient_temperature: degC (the room's, where an unheated block sits);
        heater_channel: relay channel switching the heater (None: the Eurotherm's output).
        `place` (the block's world place) is kept for what sits in it; `seed` is unused:
        the physics has no random part."""
        _positive("heat_capacity", heat_capacity)
        _positive("heat_loss", heat_loss)
        if not (math.isfinite(heater_power) and heater_power >= 0):
            raise ValueError(f"thermal-mass rig: heater_power {heater_power!r} W is not >= 0")
        if not (math.isfinite(ambient_temperature) and ambient_temperature > -273.15):
            raise ValueError(f"thermal-mass rig: ambient_temperature {ambient_temperature!r}")
        if heater_channel is not None and (
            isinstance(heater_channel, bool) or not isinstance(heater_channel, int)
        ):
            raise ValueError(f"thermal-mass rig: heater_channel {heater_channel!r} is not an int")
        self.now = now
        self.world = world
        self.place = place
        self.heat_capacity = float(heat_capacity)
        self.heat_loss = float(heat_loss)
        self.heater_power = float(heater_power)
        self.ambient_temperature = float(ambient_temperature)
        self.heater_channel = heater_channel
        self.heater_on = False  # the relay heater's state (unused without a heater_channel)
        self.controllers: list[Eurotherm3200Simulator] = []
        self.relay: ModbusRelaySimulator | None = None
        self._temperature_c = self.ambient_temperature  # used only with no controller
        self._t = now()

    @property
    def time_constant_s(self) -> float:
        return self.heat_capacity / self.heat_loss

    def steady_temperature_c(self, power_w: float) -> float:
        """Where the block settles with `power_w` of heating: T_room + P/G."""
        return self.ambient_temperature + power_w / self.heat_loss

    # -- wiring to the device simulators ----------------------------------------------
    def simulator_options(self, device: str, driver: str) -> dict[str, Any]:
        if driver == EUROTHERM:
            return self.controller_options()
        if driver == RELAY and self.heater_channel is not None:
            return {"on_change": self.relay_changed}
        return {}

    def attach(self, device: str, sim: Any) -> None:
        if isinstance(sim, Eurotherm3200Simulator):
            self.add_controller(sim)
        elif isinstance(sim, ModbusRelaySimulator) and self.heater_channel is not None:
            sim.on_change = self.relay_changed
            self.set_relay(sim)

    def controller_options(self) -> dict[str, Any]:
        """The Eurotherm simulator's constructor arguments for this block."""
        relay_heated = self.heater_channel is not None
        options: dict[str, Any] = {
            "ambient_c": self.ambient_temperature,
            "heat_capacity_j_per_k": self.heat_capacity,
            "loss_w_per_k": self.heat_loss,
            "heater_w": 0.0 if relay_heated else self.heater_power,
        }
        if relay_heated:
            options["external_heat_w"] = self.relay_heat_w
        return options

    def add_controller(self, sim: Eurotherm3200Simulator) -> None:
        """Take a controller built with `controller_options()`: it holds the block's state."""
        self.controllers.append(sim)

    def set_relay(self, sim: ModbusRelaySimulator) -> None:
        """The relay module whose `heater_channel` switches the heater (its hook is ours)."""
        self.relay = sim
        if self.heater_channel is not None and self.heater_channel < len(sim.coils):
            self._switch(bool(sim.coils[self.heater_channel]))

    # -- physics ----------------------------------------------------------------------
    def relay_heat_w(self) -> float:
        """Heat from the relay-switched heater now, W."""
        return self.heater_power if self.heater_on else 0.0

    def relay_changed(self, channel: int, energised: bool) -> None:
        """The relay's hook: the heater channel switches the heater."""
        if channel == self.heater_channel:
            self._switch(energised)

    def _switch(self, on: bool) -> None:
        # every controller (and our own state) integrates up to now with the old power
        for sim in self.controllers:
            sim.advance()
        self._advance_own()
        self.heater_on = on

    def _advance_own(self) -> None:
        """Exact step of C dT/dt = P − G (T − T_room), P held since the last event."""
        t = self.now()
        dt, self._t = max(0.0, t - self._t), t
        t_eq = self.steady_temperature_c(self.relay_heat_w())
        self._temperature_c = t_eq + (self._temperature_c - t_eq) * math.exp(
            -dt / self.time_constant_s
        )

    def temperature_c(self) -> float:
        """The block's true temperature now: the first controller's, else the rig's own."""
        if self.controllers:
            sim = self.controllers[0]
            sim.advance()
            return float(sim.temperature_c)
        self._advance_own()
        return self._temperature_c


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"thermal-mass rig: {name} {value!r} is not a positive number")
