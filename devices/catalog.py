"""The instrument models ppu ships: a plugin module like any other (entry point
`ppu.plugins` → `devices.catalog`), so a lab file names them exactly as it names a user's.

Classes are named by path: nothing here imports a driver or a simulator until a lab opens.
"""

from __future__ import annotations

from ppu.core.catalog import InstrumentModel

NE1000 = InstrumentModel(
    name="ne1000",
    driver="devices.ne1000:NE1000",
    device="devices.syringe_pump:SyringePump",
    simulator="simulators.ne1000:NE1000Simulator",
    limits={"max_rate": "mL/min", "max_volume": "mL"},
    settings={"diameter": "mm", "poll_interval": ""},
    driver_options=("address",),
    simulator_options={"syringe_ml": "", "initial_ml": ""},
    to_simulator={"address": "address"},
    doc="New Era NE-1000 syringe pump (RS-232 basic protocol)",
)

MT_SICS = InstrumentModel(
    name="mt-sics",
    driver="devices.mt_sics:MTSICSBalance",
    device="devices.balance:Balance",
    simulator="simulators.mt_sics:MTSICSSimulator",
    limits={"capacity": "g"},
    settings={"readability": "mg", "poll_interval": "", "max_timeout": ""},
    doc="Mettler Toledo balance speaking MT-SICS",
)

ALICAT = InstrumentModel(
    name="alicat",
    driver="devices.alicat:AlicatController",
    device="devices.mass_flow:MassFlowController",
    simulator="simulators.alicat:AlicatSimulator",
    baudrate=19200,
    limits={"full_scale": "sccm"},
    settings={"tolerance": "", "poll_interval": "", "settle_timeout": "", "tare_delay": ""},
    driver_options=("unit_id",),
    to_simulator={"unit_id": "unit_id", "full_scale": "full_scale_sccm:sccm"},
    doc="Alicat mass-flow controller (ASCII serial protocol)",
)

MKS_9XX = InstrumentModel(
    name="mks-9xx",
    driver="devices.mks:MKSGauge",
    device="devices.pressure_gauge:PressureGauge",
    simulator="simulators.mks:MKSGaugeSimulator",
    # a tuple lists the values allowed: the models devices/mks.py knows, the units the
    # transducer reports in
    settings={
        "model": ("902B", "925", "974B"),
        "unit": "unit of Pa",
        "channel": "",
    },
    driver_options=("address",),
    simulator_options={"pressure": "Pa", "pumped_volume": ""},
    to_simulator={"address": "address", "model": "model"},
    doc="MKS 902B / 925 / 974B vacuum transducer (RS-232/485)",
)

TPG_26X = InstrumentModel(
    name="tpg-26x",
    driver="devices.pfeiffer_tpg:TPGController",
    device="devices.capacitance_manometer:CapacitanceManometer",
    simulator="simulators.pfeiffer_tpg:TPGSimulator",
    # full_scale: one per channel, e.g. ["1000 mbar", "1 mbar"]; accuracy a fraction of
    # reading, resolution of full scale: the gauges' data sheet (also what a simulator draws)
    settings={
        "full_scale": "",
        "unit": "unit of Pa",
        "accuracy": "",
        "resolution": "",
        "switch_at": "",
    },
    simulator_options={"pressure": "Pa", "pumped_volume": ""},
    to_simulator={"full_scale": "full_scale", "accuracy": "accuracy", "resolution": "resolution"},
    doc="Pfeiffer TPG 261/262 reading capacitance gauges (CMR): gas-independent, "
    "mnemonics protocol over RS-232",
)

VICI = InstrumentModel(
    name="vici",
    driver="devices.vici:VICIActuator",
    device="devices.selector_valve:SelectorValve",
    simulator="simulators.vici:VICISimulator",
    settings={"positions": "", "safe_position": "", "step_time": "", "poll_interval": ""},
    driver_options=("device_id",),
    to_simulator={"positions": "positions", "device_id": "device_id"},
    doc="VICI Valco multiposition actuator (universal electric actuator protocol)",
)

EUROTHERM_3200 = InstrumentModel(
    name="eurotherm-3200",
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
    to_simulator={"slave": "address"},
    doc="Eurotherm 3200-series temperature controller over Modbus RTU",
)

MODBUS_RELAY = InstrumentModel(
    name="modbus-relay",
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
    to_simulator={"slave": "address", "channels": "channels"},
    doc="Modbus RTU relay module driving solenoid valves",
)
