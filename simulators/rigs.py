"""The rigs ppu ships: the shared physics behind a simulated instrument's devices. A plugin
module like any other (entry point `ppu.plugins` → `simulators.rigs`).

Only records live here (named by path), so nothing is imported until a dry-run opens.
Record types come from ppu's SDK; the simulators themselves import nothing of ppu.
"""

from __future__ import annotations

from ppu.core.catalog import RigModel

SYNTHESIS = RigModel(
    "synthesis",
    "simulators.synthesis:SynthesisRig",
    {"place": "{instrument}:reactor"},
    doc="a solvothermal reactor fed by pumps: what was dispensed, heated how long, makes a MOF",
)
OVEN = RigModel(
    "oven",
    "simulators.oven:ActivationOvenRig",
    {"place": "{instrument}:chamber"},
    doc="an activation oven's chamber: temperature and vacuum history of what sits inside",
)
BALANCE = RigModel(
    "balance",
    "simulators.weighing:WeighingRig",
    {"place": "{instrument}:pan"},
    doc="a balance pan: the balance reads what is placed on it",
)
SORPTION = RigModel(
    "sorption",
    "simulators.sorption:SorptionRig",
    {"place": "{instrument}:cell"},
    doc="a volumetric (Sieverts) analyzer: manifold, sample cell, gas supply, bath",
)
GAS_CELL = RigModel(
    "gas-cell",
    "simulators.gas_cell:GasCellRig",
    {"place": "{instrument}:cell"},
    options={
        "volume": "mL",
        "temperature": "degC",
        "ambient_pressure": "Pa",
        "initial_pressure": "Pa",
        "vent_conductance": "mL/s",
        "vent_channel": "",
        "heat_capacity": "J/K",
        "heat_loss": "W/K",
        "heater_power": "W",
        "heater_channel": "",
    },
    doc="a closed cell filled by the instrument's mass-flow controllers, vented through a "
    "relay valve, read by its gauge; heated by its temperature controller (ideal gas)",
)
THERMAL_MASS = RigModel(
    "thermal-mass",
    "simulators.thermal_mass:ThermalMassRig",
    {"place": "{instrument}:block"},
    options={
        "heat_capacity": "J/K",
        "heat_loss": "W/K",
        "heater_power": "W",
        "ambient_temperature": "degC",
        "heater_channel": "",
    },
    doc="a heated block losing heat to the room: C dT/dt = P - G (T - T_room)",
)
