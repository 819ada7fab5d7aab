"""Which driver, device and simulator make up each instrument model a lab file can name.

Imports are by dotted path and happen only when a lab is opened, so the CLI stays quick.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InstrumentModel:
    driver: str  # "module:Class", called as Class(port, **driver_options)
    device: str  # "module:Class", called as Class(driver, name=..., **limits, **settings)
    simulator: str  # "module:Class", called as Class(now, seed=..., faults=..., **options)
    baudrate: int = 9600
    timeout_s: float = 1.0
    limits: dict[str, str] = field(default_factory=dict)  # name -> unit
    settings: dict[str, str] = field(default_factory=dict)  # name -> unit ("" = plain value)
    driver_options: tuple[str, ...] = ()


MODELS: dict[str, InstrumentModel] = {
    "ne1000": InstrumentModel(
        driver="devices.ne1000:NE1000",
        device="devices.syringe_pump:SyringePump",
        simulator="simulators.ne1000:NE1000Simulator",
        limits={"max_rate": "mL/min", "max_volume": "mL"},
        settings={"diameter": "mm", "poll_interval": ""},
        driver_options=("address",),
    ),
    "mt-sics": InstrumentModel(
        driver="devices.mt_sics:MTSICSBalance",
        device="devices.balance:Balance",
        simulator="simulators.mt_sics:MTSICSSimulator",
        limits={"capacity": "g"},
        settings={"readability": "mg", "poll_interval": "", "max_timeout": ""},
    ),
    "alicat": InstrumentModel(
        driver="devices.alicat:AlicatController",
        device="devices.mass_flow:MassFlowController",
        simulator="simulators.alicat:AlicatSimulator",
        baudrate=19200,
        limits={"full_scale": "sccm"},
        settings={"tolerance": "", "poll_interval": "", "settle_timeout": "", "tare_delay": ""},
        driver_options=("unit_id",),
    ),
    "mks-9xx": InstrumentModel(
        driver="devices.mks:MKSGauge",
        device="devices.pressure_gauge:PressureGauge",
        simulator="simulators.mks:MKSGaugeSimulator",
        settings={"model": "", "unit": "", "channel": ""},
        driver_options=("address",),
    ),
    "vici": InstrumentModel(
        driver="devices.vici:VICIActuator",
        device="devices.selector_valve:SelectorValve",
        simulator="simulators.vici:VICISimulator",
        settings={"positions": "", "safe_position": "", "step_time": "", "poll_interval": ""},
        driver_options=("device_id",),
    ),
    "eurotherm-3200": InstrumentModel(
        driver="devices.eurotherm:Eurotherm3200",
        device="devices.temperature_controller:TemperatureController",
        simulator="simulators.eurotherm:Eurotherm3200Simulator",
        # a socket ignores the baud rate; at 19200+ minimalmodbus's silent gap is shortest
        baudrate=19200,
        timeout_s=0.3,
        limits={"min_setpoint": "degC", "max_setpoint": "degC", "max_ramp_rate": "delta_degC/min"},
        settings={
            "tolerance": "delta_degC",
            "dwell": "s",
            "safe_setpoint": "degC",
            "poll_interval": "",
        },
        driver_options=("slave",),
    ),
    "modbus-relay": InstrumentModel(
        driver="devices.modbus_relay:ModbusRelayModule",
        device="devices.solenoid_valve:ValveBank",
        simulator="simulators.modbus_relay:ModbusRelaySimulator",
        baudrate=19200,
        timeout_s=0.3,
        settings={
            "valves": "",
            "interlocks": "",
            "normally_open": "",
            "feedback": "",
            "actuation_time": "s",
        },
        driver_options=("slave", "channels"),
    ),
}


@dataclass(frozen=True)
class RigModel:
    """Shared physics behind one simulated instrument's devices (a reactor, a manifold).

    Called as Class(now, world, seed=..., **places, **options), where each place template is
    filled with the instrument's name. The rig then gives each device simulator extra
    constructor arguments (`simulator_options`) and sees each one built (`attach`)."""

    path: str
    places: dict[str, str] = field(default_factory=dict)


RIGS: dict[str, RigModel] = {
    "synthesis": RigModel("simulators.synthesis:SynthesisRig", {"place": "{instrument}:reactor"}),
    "oven": RigModel("simulators.oven:ActivationOvenRig", {"place": "{instrument}:chamber"}),
    "balance": RigModel("simulators.weighing:WeighingRig", {"place": "{instrument}:pan"}),
    "sorption": RigModel("simulators.sorption:SorptionRig", {"place": "{instrument}:cell"}),
}


def load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
