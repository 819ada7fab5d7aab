"""The lab file (TOML): plugins, instruments, their devices, driver model, port, limits, and
for a dry-run the simulator behind each port. Loading checks everything before anything moves.

    name = "bench"
    plugins = ["mykernels"]          # modules beside this file (or on sys.path)
    [instruments.dosing]
    roles = ["pump"]
    [instruments.dosing.devices.pump]
    driver = "ne1000"
    port = "/dev/ttyUSB0"
    limits = { max_rate = "20 mL/min", max_volume = "50 mL" }
    settings = { diameter = "26.59 mm" }
    simulator = { seed = 1, options = { syringe_ml = 60 } }

The structure is the pydantic model `LabFile` (`ppu schema lab`); what a device or rig may
be given comes from its instrument model or rig record, whichever plugin registered it.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import typing
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from ppu.core.catalog import InstrumentModel, RigModel, load
from ppu.core.errors import BadInput
from ppu.core.files import (
    FileModel,
    QuantityText,
    check_value,
    read_toml,
    unknown_key,
    unknown_name,
    validated,
)
from ppu.core.units import UnitError, parse_quantity
from ppu.lab.plugins import Registry, for_lab

__all__ = [
    "DeviceSpec",
    "InstrumentSpec",
    "LabFile",
    "LabSpec",
    "RigSpec",
    "SimulatorSpec",
    "load_lab",
    "read_toml",
]

Name = Annotated[str, Field(min_length=1)]
Seed = Annotated[int, Field(ge=0)]


# -- the file's structure -----------------------------------------------------------------


class SimulatorTable(FileModel):
    """What stands behind the port in a dry-run."""

    seed: Seed = 0
    options: dict[str, Any] = Field(default_factory=dict, description="the simulator's options")
    fault_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="chance that one request meets a fault (0 … 1)"
    )


class DeviceTable(FileModel):
    driver: Name = Field(description="instrument model, e.g. ne1000 (see `ppu plugins`)")
    port: Name = Field(description="pyserial URL: /dev/ttyUSB0, socket://host:port, rfc2217://…")
    limits: dict[str, Any] = Field(default_factory=dict, description="hard limits, with units")
    settings: dict[str, Any] = Field(default_factory=dict)
    driver_options: dict[str, Any] = Field(default_factory=dict)
    simulator: SimulatorTable = SimulatorTable()
    trace: bool = False


class RigTable(FileModel):
    model: Name = Field(description="rig, e.g. gas-cell (see `ppu plugins`)")
    seed: Seed = 0
    options: dict[str, Any] = Field(default_factory=dict)


class InstrumentTable(FileModel):
    roles: Annotated[list[Name], Field(min_length=1)] | None = Field(
        None, description="kernel roles it serves [its name]"
    )
    devices: Annotated[dict[str, DeviceTable], Field(min_length=1)]
    rig: RigTable | None = None


class ComputeTable(FileModel):
    """Where computed kernels (digital twins) run."""

    scheduler: Name | None = Field(
        None, description="a Dask scheduler address, e.g. 'tcp://10.0.0.5:8786'; none: local"
    )
    workers: Annotated[int, Field(ge=1)] | None = Field(
        None, description="local worker threads (default: up to 4)"
    )


class WatchdogTable(FileModel):
    """When a running launch counts as stalled: past `multiple` × its expected duration,
    plus `grace`; when an idle instrument counts as silent: unanswered `silent_polls` polls
    in a row, one whenever it has been quiet for `poll`. The instrument is then held and the
    alarm recorded."""

    multiple: Annotated[float, Field(ge=1.0)] = Field(
        3.0, description="how many times its expected duration a launch may run"
    )
    grace: QuantityText = Field("1 min", description="added to the limit (a time)")
    poll: QuantityText = Field(
        "30 min",
        description="how long an idle instrument may be quiet before it is asked who it is "
        "('0 s': never)",
    )
    silent_polls: Annotated[int, Field(ge=1)] = Field(
        3, description="unanswered polls in a row before the alarm"
    )


class ConsumableTable(FileModel):
    """A stock the kernels draw on: a stock solution, a solvent, a gas cylinder, vials."""

    level: QuantityText = Field(description="what is there now, e.g. '250 mL' or 24 (vials)")
    capacity: QuantityText | None = Field(
        None, description="what a refill fills it to (default: the level given)"
    )


class NotifyTable(FileModel):
    """Where a person is told what needs them: Apprise URLs (mail, Slack, ntfy, webhooks),
    and how many instrument faults within how much lab time make a burst worth telling."""

    urls: list[Name] = Field(
        default_factory=list,
        description="Apprise URLs, e.g. 'mailto://user:pass@example.org', "
        "'slack://T/B/C', 'ntfys://ntfy.sh/lab', 'json://host:8080/hook'; $PPU_NOTIFY adds more",
    )
    burst: Annotated[int, Field(ge=2)] = Field(
        5, description="instrument faults within `window` that are told as a burst"
    )
    window: QuantityText = Field("10 min", description="the lab time a burst is counted over")


class LabFile(FileModel):
    """A lab: its instruments and the plugin modules that define what they are."""

    name: str | None = None
    plugins: list[Name] = Field(
        default_factory=list,
        description="plugin modules, found beside this file first, then on sys.path",
    )
    instruments: Annotated[dict[str, InstrumentTable], Field(min_length=1)]
    compute: ComputeTable = ComputeTable()
    watchdog: WatchdogTable = WatchdogTable()
    consumables: dict[str, ConsumableTable] = Field(
        default_factory=dict, description="stocks the kernels draw on, with their levels"
    )
    notify: NotifyTable = NotifyTable()


# -- what the runtime gets ----------------------------------------------------------------


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
class ComputeSpec:
    scheduler: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class WatchdogSpec:
    multiple: float = 3.0
    grace_s: float = 60.0
    #: 0: idle instruments are not polled
    poll_s: float = 1800.0
    silent_polls: int = 3


@dataclass(frozen=True)
class ConsumableSpec:
    name: str
    level: float
    capacity: float
    unit: str


@dataclass(frozen=True)
class NotifySpec:
    urls: tuple[str, ...] = ()
    burst: int = 5
    window_s: float = 600.0


@dataclass(frozen=True)
class LabSpec:
    name: str
    path: str
    instruments: dict[str, InstrumentSpec]
    #: the kernels, instrument models, rigs and planners this lab's plugins registered
    registry: Registry = field(default_factory=Registry, compare=False, repr=False)
    compute: ComputeSpec = ComputeSpec()
    watchdog: WatchdogSpec = WatchdogSpec()
    consumables: dict[str, ConsumableSpec] = field(default_factory=dict)
    notify: NotifySpec = NotifySpec()

    def with_role(self, role: str) -> list[InstrumentSpec]:
        return [i for i in self.instruments.values() if role in i.roles]

    @property
    def roles(self) -> set[str]:
        return {r for i in self.instruments.values() for r in i.roles}

    @property
    def kernels(self) -> dict[str, Any]:
        return dict(sorted(self.registry.kernels.items()))


def load_lab(path: str | Path) -> LabSpec:
    raw = read_toml(path)
    f = Path(path).name
    plugins = raw.get("plugins", []) if isinstance(raw, dict) else []
    if not isinstance(plugins, list):
        raise BadInput(f"{f}: plugins", f"expected a list of module names, got {plugins!r}")
    # the plugins first: they say which driver models and rigs the instruments may name
    registry = for_lab(plugins, Path(path).resolve().parent, f"{f}: plugins")
    lab = validated(LabFile, raw, f)
    instruments = {
        name: _instrument(f"{f}: instruments.{name}", name, table, registry)
        for name, table in lab.instruments.items()
    }
    return LabSpec(
        name=lab.name if lab.name is not None else Path(path).stem,
        path=str(path),
        instruments=instruments,
        registry=registry,
        compute=compute_spec(f"{f}: compute", lab.compute),
        watchdog=watchdog_spec(f"{f}: watchdog", lab.watchdog),
        consumables={
            name: consumable_spec(f"{f}: consumables.{name}", name, t)
            for name, t in lab.consumables.items()
        },
        notify=notify_spec(f"{f}: notify", lab.notify),
    )


def consumable_spec(place: str, name: str, t: ConsumableTable) -> ConsumableSpec:
    """Level and capacity in one unit (a bare number counts items: vials, plates)."""
    from ppu.core.units import Q_, to_json

    try:
        level = Q_(t.level) if isinstance(t.level, str) else Q_(float(t.level), "")
    except Exception:
        raise BadInput(
            f"{place}.level", f"{t.level!r} is not an amount with its unit ('250 mL', 24)"
        ) from None
    unit = str(to_json(level)["unit"])
    try:
        capacity = parse_quantity(t.capacity if t.capacity is not None else level, unit)
    except UnitError as e:
        raise BadInput(f"{place}.capacity", str(e)) from None
    amount, full = float(level.m), float(capacity.m_as(level.units))
    if not amount >= 0:
        raise BadInput(f"{place}.level", f"{t.level!r} is negative")
    if not full >= amount:
        raise BadInput(f"{place}.capacity", f"{t.capacity!r} is less than the level {t.level!r}")
    return ConsumableSpec(name=name, level=amount, capacity=full, unit=unit)


def watchdog_spec(place: str, t: WatchdogTable) -> WatchdogSpec:
    times: dict[str, float] = {}
    for key, text in (("grace", t.grace), ("poll", t.poll)):
        try:
            seconds = float(parse_quantity(text, "s").m_as("s"))
        except UnitError as e:
            raise BadInput(f"{place}.{key}", str(e)) from None
        if not seconds >= 0:
            raise BadInput(f"{place}.{key}", f"{text!r} is negative")
        times[key] = seconds
    return WatchdogSpec(
        multiple=t.multiple,
        grace_s=times["grace"],
        poll_s=times["poll"],
        silent_polls=t.silent_polls,
    )


def notify_spec(place: str, t: NotifyTable) -> NotifySpec:
    """A `[notify]` table checked: each URL one Apprise understands, the window a time."""
    for i, url in enumerate(t.urls):
        problem = notification_url_problem(url)
        if problem is not None:
            raise BadInput(f"{place}.urls[{i}]", problem)
    try:
        window = float(parse_quantity(t.window, "s").m_as("s"))
    except UnitError as e:
        raise BadInput(f"{place}.window", str(e)) from None
    if not window > 0:
        raise BadInput(f"{place}.window", f"{t.window!r} is not a positive time")
    return NotifySpec(urls=tuple(t.urls), burst=t.burst, window_s=window)


def notification_url_problem(url: str) -> str | None:
    """Why Apprise cannot send to `url` (an unknown scheme, a malformed address), or None.
    The URL itself is not repeated in full: it may carry a password."""
    import apprise

    if apprise.Apprise.instantiate(url) is not None:
        return None
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme:
        return (
            f"{_redacted(url)!r} is not a notification URL (write e.g. mailto://…, "
            "slack://…, ntfys://ntfy.sh/TOPIC, json://host:port/path)"
        )
    return (
        f"{_redacted(url)!r} is not a notification URL Apprise can send to (an unknown "
        f"scheme '{scheme}://' or a malformed address; see the Apprise URL list)"
    )


def _redacted(url: str) -> str:
    """A URL with any password between '://user:' and '@' hidden."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


_SCHEDULER = re.compile(r"^(tcp|tls|inproc|ws|wss)://[^\s/:]+(:\d{1,5})?$")


def compute_spec(place: str, t: ComputeTable) -> ComputeSpec:
    """A `[compute]` table checked: a scheduler address is `tcp://host:port` (or tls)."""
    if t.scheduler is not None and not _SCHEDULER.match(t.scheduler):
        raise BadInput(
            f"{place}.scheduler",
            f"{t.scheduler!r} is not a Dask scheduler address (write tcp://host:8786)",
        )
    return ComputeSpec(t.scheduler, t.workers)


def _instrument(place: str, name: str, t: InstrumentTable, reg: Registry) -> InstrumentSpec:
    devices = {
        dname: _device(f"{place}.devices.{dname}", dname, d, reg) for dname, d in t.devices.items()
    }
    rig = None
    if t.rig is not None:
        model = reg.rigs.get(t.rig.model)
        if model is None:
            raise BadInput(
                f"{place}.rig.model",
                unknown_name("rig", t.rig.model, reg.rigs),
            )
        rig = RigSpec(
            model=t.rig.model,
            seed=t.rig.seed,
            options=_rig_options(f"{place}.rig.options", model, t.rig.options),
        )
    return InstrumentSpec(name=name, roles=tuple(t.roles or [name]), devices=devices, rig=rig)


def _device(place: str, name: str, t: DeviceTable, reg: Registry) -> DeviceSpec:
    model = reg.instruments.get(t.driver)
    if model is None:
        raise BadInput(f"{place}.driver", unknown_name("driver model", t.driver, reg.instruments))
    limits = _with_units(f"{place}.limits", t.limits, model.limits, model, "limit")
    settings = _with_units(f"{place}.settings", t.settings, model.settings, model, "setting")
    for key, value in t.driver_options.items():
        if key not in model.driver_options:
            raise BadInput(
                f"{place}.driver_options.{key}",
                f"{t.driver} takes no driver option '{key}' "
                f"({unknown_key(key, list(model.driver_options))})",
            )
        hint = _hints(model.driver, f"{place}.driver").get(key)
        if hint is not None:
            check_value(hint, value, f"{place}.driver_options.{key}")
    given = {**t.driver_options, **limits, **settings}
    options = _simulator_options(f"{place}.simulator.options", model, t.simulator.options)
    for key, target in model.to_simulator.items():
        if key not in given:
            continue
        arg, _, unit = target.partition(":")
        if arg in options:
            raise BadInput(
                f"{place}.simulator.options.{arg}",
                f"given already as {key}, which reaches the simulator too: give it once",
            )
        value = given[key]
        if hasattr(value, "magnitude"):
            value = float(value.m_as(unit or _unit_of(model, key)))
        options[arg] = value
    return DeviceSpec(
        name=name,
        driver=t.driver,
        port=t.port,
        limits=limits,
        settings=settings,
        driver_options=dict(t.driver_options),
        simulator=SimulatorSpec(
            seed=t.simulator.seed, options=options, fault_rate=float(t.simulator.fault_rate)
        ),
        trace=t.trace,
    )


def _unit_of(model: InstrumentModel, key: str) -> str:
    spec = {**model.limits, **model.settings}.get(key, "")
    return spec if isinstance(spec, str) else ""


def _with_units(
    place: str,
    raw: dict[str, Any],
    declared: Mapping[str, Any],
    model: InstrumentModel,
    what: str,
) -> dict[str, Any]:
    """Values read in their declared units; a tuple declares the allowed values, "unit of
    Pa" a unit's name measuring the same as Pa; a value without a unit must fit the
    annotation of the device's parameter it is passed to."""
    driver = model.name
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in declared:
            raise BadInput(
                f"{place}.{key}",
                f"{driver} has no {what} '{key}' ({unknown_key(key, list(declared))})",
            )
        spec = declared[key]
        if isinstance(spec, tuple):
            if value not in spec:
                raise BadInput(
                    f"{place}.{key}",
                    f"{value!r} is not one of {', '.join(map(repr, spec))} for {driver}",
                )
            out[key] = value
            continue
        if isinstance(spec, str) and spec.startswith("unit of "):
            out[key] = _unit_name(f"{place}.{key}", value, spec.removeprefix("unit of "))
            continue
        if not spec:
            hint = _hints(model.device, f"{place}.{key}").get(key)
            if hint is not None:
                check_value(hint, value, f"{place}.{key}")
            out[key] = value
            continue
        out[key] = _quantity(f"{place}.{key}", value, spec)
    return out


def _unit_name(place: str, value: Any, like: str) -> str:
    """A unit's name (a gauge's display unit), which must measure what `like` measures."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(place, f"expected a unit name such as '{like}', got {value!r}")
    try:
        parse_quantity(f"1 {value}", like)
    except UnitError as e:
        raise BadInput(place, f"{value!r} is not a unit of that kind ({e})") from None
    return value


def _quantity(place: str, value: Any, unit: str) -> Any:
    try:
        q = parse_quantity(value, unit)
    except UnitError as e:
        raise BadInput(place, str(e)) from None
    if not math.isfinite(q.magnitude):
        raise BadInput(place, f"{value!r} is not a finite quantity")
    return q


#: simulator and rig arguments the runtime supplies itself
_SUPPLIED = {"self", "now", "world", "seed", "faults"}


def _class(cls_ref: Any, place: str) -> Any:
    try:
        return load(cls_ref)
    except Exception as e:
        raise BadInput(place, f"cannot import {cls_ref}: {type(e).__name__}: {e}") from None


def _hints(cls_ref: Any, place: str) -> Mapping[str, Any]:
    """The annotations of a class's parameters: what a value passed as written must fit."""
    return _signature(_class(cls_ref, place))[1]


@functools.cache
def _signature(cls: Any) -> tuple[frozenset[str] | None, Mapping[str, Any]]:
    """The keyword arguments a class takes (None: any, it has **kwargs) and their
    annotations, less what the runtime supplies itself."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None, {}
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:
        hints = {}
    hints = {k: v for k, v in hints.items() if k not in _SUPPLIED and k != "return"}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None, hints
    names = {
        p.name
        for p in params
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
    return frozenset(names - _SUPPLIED), hints


def _simulator_options(place: str, model: InstrumentModel, raw: dict[str, Any]) -> dict[str, Any]:
    accepted, hints = _signature(_class(model.simulator, place))
    what = f"the {model.name} simulator"
    return _options(place, raw, model.simulator_options, accepted, hints, what)


def _rig_options(place: str, model: RigModel, raw: dict[str, Any]) -> dict[str, Any]:
    accepted, hints = _signature(_class(model.cls, place))
    if accepted is not None:
        accepted -= set(model.places)
    return _options(place, raw, model.options, accepted, hints, f"rig {model.name}")


def _options(
    place: str,
    raw: dict[str, Any],
    units: Mapping[str, str],
    accepted: Set[str] | None,
    hints: Mapping[str, Any],
    what: str,
) -> dict[str, Any]:
    known = set(units) | set(accepted or ())
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if units.get(key):
            out[key] = float(_quantity(f"{place}.{key}", value, units[key]).m_as(units[key]))
        elif key in units or accepted is None or key in accepted:
            if key in hints:
                check_value(hints[key], value, f"{place}.{key}")
            out[key] = value
        else:
            raise BadInput(
                f"{place}.{key}",
                f"{what} takes no option '{key}' ({unknown_key(key, sorted(known))})",
            )
    return out
