"""The lab file (TOML): instruments, their devices, driver model, port, limits, and for a
dry-run the simulator behind each port. Loading checks everything before anything moves.

    name = "bench"
    [instruments.dosing]
    roles = ["pump"]
    [instruments.dosing.devices.pump]
    driver = "ne1000"
    port = "/dev/ttyUSB0"
    limits = { max_rate = "20 mL/min", max_volume = "50 mL" }
    settings = { diameter = "26.59 mm" }
    simulator = { seed = 1, options = { syringe_ml = 60 } }
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppu.catalog import MODELS, RIGS
from ppu.errors import BadInput
from ppu.units import UnitError, parse_quantity


@dataclass(frozen=True)
class SimulatorSpec:
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    fault_rate: float = 0.0


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    driver: str
    port: str
    limits: dict[str, Any]
    settings: dict[str, Any]
    driver_options: dict[str, Any]
    simulator: SimulatorSpec
    trace: bool = False


@dataclass(frozen=True)
class RigSpec:
    model: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstrumentSpec:
    name: str
    roles: tuple[str, ...]
    devices: dict[str, DeviceSpec]
    rig: RigSpec | None = None


@dataclass(frozen=True)
class LabSpec:
    name: str
    path: str
    instruments: dict[str, InstrumentSpec]

    def with_role(self, role: str) -> list[InstrumentSpec]:
        return [i for i in self.instruments.values() if role in i.roles]

    @property
    def roles(self) -> set[str]:
        return {r for i in self.instruments.values() for r in i.roles}


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        return tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise BadInput(str(path), "no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise BadInput(str(path), f"malformed TOML ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(str(path), f"cannot read ({e})") from None


def _table(value: Any, place: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput(place, f"expected a table, got {value!r}")
    return value


def load_lab(path: str | Path) -> LabSpec:
    raw = read_toml(path)
    f = Path(path).name
    known = {"name", "instruments"}
    for key in raw:
        if key not in known:
            raise BadInput(f"{f}: {key}", "unknown key (expected name, instruments)")
    instruments_raw = _table(raw.get("instruments"), f"{f}: instruments")
    if not instruments_raw:
        raise BadInput(f"{f}: instruments", "the lab has no instruments")
    instruments = {}
    for iname, iraw in instruments_raw.items():
        instruments[iname] = _instrument(f, iname, _table(iraw, f"{f}: instruments.{iname}"))
    return LabSpec(
        name=str(raw.get("name", Path(path).stem)), path=str(path), instruments=instruments
    )


def _instrument(f: str, name: str, raw: dict[str, Any]) -> InstrumentSpec:
    place = f"{f}: instruments.{name}"
    for key in raw:
        if key not in ("roles", "devices", "rig"):
            raise BadInput(f"{place}.{key}", "unknown key (expected roles, devices, rig)")
    roles = raw.get("roles", [name])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise BadInput(f"{place}.roles", f"expected a list of role names, got {roles!r}")
    devices_raw = _table(raw.get("devices"), f"{place}.devices")
    if not devices_raw:
        raise BadInput(f"{place}.devices", "the instrument has no devices")
    devices = {
        dname: _device(f"{place}.devices.{dname}", dname, _table(d, f"{place}.devices.{dname}"))
        for dname, d in devices_raw.items()
    }
    rig = None
    if "rig" in raw:
        rraw = _table(raw["rig"], f"{place}.rig")
        for key in rraw:
            if key not in ("model", "seed", "options"):
                raise BadInput(f"{place}.rig.{key}", "unknown key (expected model, seed, options)")
        if rraw.get("model") not in RIGS:
            raise BadInput(
                f"{place}.rig.model",
                f"unknown rig {rraw.get('model')!r} (known: {', '.join(sorted(RIGS))})",
            )
        rig = RigSpec(
            model=rraw["model"],
            seed=int(rraw.get("seed", 0)),
            options=_table(rraw.get("options", {}), f"{place}.rig.options"),
        )
    return InstrumentSpec(name=name, roles=tuple(roles), devices=devices, rig=rig)


def _device(place: str, name: str, raw: dict[str, Any]) -> DeviceSpec:
    allowed = {"driver", "port", "limits", "settings", "driver_options", "simulator", "trace"}
    for key in raw:
        if key not in allowed:
            raise BadInput(f"{place}.{key}", f"unknown key (expected {', '.join(sorted(allowed))})")
    driver = raw.get("driver")
    if driver not in MODELS:
        raise BadInput(
            f"{place}.driver",
            f"unknown driver model {driver!r} (known: {', '.join(sorted(MODELS))})",
        )
    model = MODELS[driver]
    port = raw.get("port")
    if not isinstance(port, str) or not port:
        raise BadInput(
            f"{place}.port", "missing: a pyserial URL such as /dev/ttyUSB0 or socket://host:port"
        )
    limits = {}
    for key, value in _table(raw.get("limits", {}), f"{place}.limits").items():
        if key not in model.limits:
            raise BadInput(
                f"{place}.limits.{key}",
                f"unknown limit for {driver} (known: {', '.join(model.limits)})",
            )
        try:
            limits[key] = parse_quantity(value, model.limits[key])
        except UnitError as e:
            raise BadInput(f"{place}.limits.{key}", str(e)) from None
    settings = {}
    for key, value in _table(raw.get("settings", {}), f"{place}.settings").items():
        if key not in model.settings:
            raise BadInput(
                f"{place}.settings.{key}",
                f"unknown setting for {driver} (known: {', '.join(model.settings)})",
            )
        unit = model.settings[key]
        try:
            settings[key] = parse_quantity(value, unit) if unit else value
        except UnitError as e:
            raise BadInput(f"{place}.settings.{key}", str(e)) from None
    options = _table(raw.get("driver_options", {}), f"{place}.driver_options")
    for key in options:
        if key not in model.driver_options:
            raise BadInput(f"{place}.driver_options.{key}", f"unknown option for {driver}")
    sim_raw = _table(raw.get("simulator", {}), f"{place}.simulator")
    for key in sim_raw:
        if key not in ("seed", "options", "fault_rate"):
            raise BadInput(
                f"{place}.simulator.{key}", "unknown key (expected seed, options, fault_rate)"
            )
    rate = sim_raw.get("fault_rate", 0.0)
    if not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise BadInput(f"{place}.simulator.fault_rate", f"{rate!r} is not a fraction in 0 … 1")
    sim = SimulatorSpec(
        seed=int(sim_raw.get("seed", 0)),
        options=_table(sim_raw.get("options", {}), f"{place}.simulator.options"),
        fault_rate=float(rate),
    )
    return DeviceSpec(
        name=name,
        driver=driver,
        port=port,
        limits=limits,
        settings=settings,
        driver_options=dict(options),
        simulator=sim,
        trace=bool(raw.get("trace", False)),
    )
