"""Physics kernels: typed inputs with units and bounds, samples in and out, a role, outputs.

A kernel is declared in a few lines, the way FastAPI declares a route:

    @kernel(role="pump", rerun_safe=False, outputs={"dispensed": "mL"},
            produces={"solution": "solution"})
    def dispense(instrument, ctx, volume=In("mL", ge="0.1 mL", le="50 mL", default="5 mL")):
        yield from bps.mv(instrument.pump, volume.m_as("mL"))
        ...
        return {"dispensed": ...}

Its body is a bluesky plan over the instrument's ophyd-async devices (or, with
`role=None`, a plain function: a compute kernel, run off the instrument lanes).
Validation at launch converts compatible units and rejects the rest with an error naming
the kernel, the parameter, the value and what is allowed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ppu.core.errors import BadInput
from ppu.core.units import Quantity, UnitError, parse_quantity, show, unit_text


@dataclass(frozen=True)
class In:
    """A quantity input: its unit, optional bounds (inclusive) and default."""

    unit: str
    ge: Any = None
    le: Any = None
    default: Any = None
    doc: str = ""

    def __post_init__(self) -> None:
        for name in ("ge", "le", "default"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_quantity(value, self.unit))

    def allowed(self) -> str:
        lo = show(self.ge) if self.ge is not None else "-∞"
        hi = show(self.le) if self.le is not None else "∞"
        return f"{lo} … {hi}"

    def check(self, value: Any) -> Quantity:
        q = parse_quantity(value, self.unit)
        if (self.ge is not None and q < self.ge) or (self.le is not None and q > self.le):
            raise ValueError(f"{show(q)} is out of bounds (allowed {self.allowed()})")
        return q

    def describe(self) -> dict[str, Any]:
        return {
            "type": "quantity",
            "unit": unit_text(self.ge.units if self.ge is not None else _units(self.unit)),
            "min": None if self.ge is None else float(self.ge.magnitude),
            "max": None if self.le is None else float(self.le.magnitude),
            "default": None if self.default is None else float(self.default.magnitude),
            "doc": self.doc,
        }


@dataclass(frozen=True)
class Count:
    """A whole-number input (isotherm points, repeats): 8 is allowed, 8.5 and true are not."""

    ge: int | None = None
    le: int | None = None
    default: int | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        for name in ("ge", "le", "default"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"Count({name}=...) must be a whole number, not {value!r}")

    def allowed(self) -> str:
        lo = str(self.ge) if self.ge is not None else "-∞"
        hi = str(self.le) if self.le is not None else "∞"
        return f"{lo} … {hi}"

    def check(self, value: Any) -> int:
        n = _whole(value)
        if (self.ge is not None and n < self.ge) or (self.le is not None and n > self.le):
            raise ValueError(f"{n} is out of bounds (allowed {self.allowed()})")
        return n

    def describe(self) -> dict[str, Any]:
        return {
            "type": "integer",
            "min": self.ge,
            "max": self.le,
            "default": self.default,
            "doc": self.doc,
        }


def _whole(value: Any) -> int:
    """A whole number as typed: 8, "8" (a CLI argument), an integral quantity without unit."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    if isinstance(value, Quantity) and value.dimensionless:
        m = float(value.m_as(""))
        if m.is_integer():
            return int(m)
    raise ValueError(f"{value!r} is not a whole number")


@dataclass(frozen=True)
class Choice:
    """A categorical input (a solvent, a gas)."""

    options: tuple[str, ...]
    default: str | None = None
    doc: str = ""

    def check(self, value: Any) -> str:
        if value not in self.options:
            raise ValueError(f"'{value}' is not one of {', '.join(self.options)}")
        return str(value)

    def describe(self) -> dict[str, Any]:
        return {
            "type": "choice",
            "options": list(self.options),
            "default": self.default,
            "doc": self.doc,
        }


@dataclass(frozen=True)
class SampleIn:
    """A sample the kernel works on; `consumes` marks it used up afterwards."""

    consumes: bool = False
    kind: str | None = None
    doc: str = ""

    def describe(self) -> dict[str, Any]:
        return {"type": "sample", "consumes": self.consumes, "kind": self.kind, "doc": self.doc}


def Consumes(kind: str | None = None, doc: str = "") -> SampleIn:
    return SampleIn(consumes=True, kind=kind, doc=doc)


def Uses(kind: str | None = None, doc: str = "") -> SampleIn:
    return SampleIn(consumes=False, kind=kind, doc=doc)


Input = In | Count | Choice | SampleIn

#: where a kernel's outputs come from: an instrument (or analysis of what one measured), or a
#: model (a digital twin, a simulation) that estimates what the lab would measure
FIDELITIES: tuple[str, ...] = ("measured", "computed")


@dataclass
class Kernel:
    name: str
    body: Callable[..., Any]
    role: str | None
    inputs: dict[str, Input]
    outputs: dict[str, str]
    produces: dict[str, str] = field(default_factory=dict)
    rerun_safe: bool = True
    cost_s: float = 0.0  # virtual time a compute kernel costs in a dry-run
    doc: str = ""
    fidelity: str = "measured"
    #: a computed kernel's model: name and version, stored with every estimate
    model: str | None = None
    model_version: str | None = None
    #: a computed kernel's declared CPU seconds per launch (what the planner plans with)
    cpu_s: float = 0.0
    #: how long a launch should take, from its checked inputs (a time quantity): the stall
    #: watchdog's yardstick; without it the watchdog learns from finished launches
    expected: Callable[[Mapping[str, Any]], Any] | None = None
    #: what a launch takes from the lab's stocks, from its checked inputs: {consumable name:
    #: quantity}; a lab file that declares the consumable tracks its level
    draws: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.fidelity not in FIDELITIES:
            raise ValueError(
                f"kernel {self.name}: fidelity {self.fidelity!r} is not one of "
                f"{', '.join(FIDELITIES)}"
            )
        if self.fidelity == "computed":
            if self.role is not None:
                raise ValueError(
                    f"kernel {self.name}: a computed kernel holds no instrument (role=None)"
                )
            if not self.model:
                raise ValueError(f"kernel {self.name}: a computed kernel names its model")
        for name in ("cost_s", "cpu_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise ValueError(f"kernel {self.name}: {name} must be a number ≥ 0, got {v!r}")

    @property
    def is_compute(self) -> bool:
        return self.role is None

    @property
    def is_computed(self) -> bool:
        """A model's estimate (fidelity `computed`), not a measurement."""
        return self.fidelity == "computed"

    @property
    def sample_inputs(self) -> dict[str, SampleIn]:
        return {k: v for k, v in self.inputs.items() if isinstance(v, SampleIn)}

    def validate(self, raw: Mapping[str, Any], place: str = "") -> dict[str, Any]:
        """Check and convert launch arguments; BadInput names kernel, parameter, value."""
        where = place or f"kernel {self.name}"
        # in a file the input is a key under `place` (…inputs.points); on a command line
        # the kernel and the input are named apart (kernel dispense: volume)
        at = (lambda n: f"{place}.{n}") if place else (lambda n: f"{where}: {n}")
        unknown = sorted(set(raw) - set(self.inputs))
        if unknown:
            raise BadInput(
                where, f"unknown input '{unknown[0]}' (inputs: {', '.join(self.inputs) or 'none'})"
            )
        values: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if name not in raw:
                default = getattr(spec, "default", None)
                if default is None:
                    raise BadInput(at(name), f"missing ({_allowed(spec)})")
                values[name] = default
                continue
            value = raw[name]
            if isinstance(spec, SampleIn):
                values[name] = value  # a sample id or a SampleRef; resolved by the runtime
                continue
            try:
                values[name] = spec.check(value)
            except UnitError as e:
                raise BadInput(at(name), f"{e} (allowed {_allowed(spec)})") from None
            except ValueError as e:
                raise BadInput(at(name), str(e)) from None
        return values

    def check_outputs(self, outputs: Mapping[str, Any]) -> dict[str, Quantity]:
        missing = sorted(set(self.outputs) - set(outputs))
        if missing:
            raise ValueError(f"kernel {self.name} did not return output '{missing[0]}'")
        return {k: parse_quantity(outputs[k], unit) for k, unit in self.outputs.items()}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "compute": self.is_compute,
            "rerun_safe": self.rerun_safe,
            "fidelity": self.fidelity,
            **(
                {"model": self.model, "model_version": self.model_version, "cpu_s": self.cpu_s}
                if self.is_computed
                else {}
            ),
            "inputs": {k: v.describe() for k, v in self.inputs.items()},
            "produces": self.produces,
            "outputs": self.outputs,
            "doc": self.doc,
        }


def _allowed(spec: Input) -> str:
    if isinstance(spec, In):
        return f"{spec.allowed()}, in units of {_dimension(spec.unit)}"
    if isinstance(spec, Count):
        return f"a whole number {spec.allowed()}"
    if isinstance(spec, Choice):
        return "one of " + ", ".join(spec.options)
    return "a sample id"


def _dimension(unit: str) -> str:
    from ppu.core.units import describe_dimension

    return describe_dimension(unit).removeprefix("a ").removeprefix("an ")


def _units(unit: str) -> Any:
    from ppu.core.units import ureg

    return ureg.parse_units(unit)


def kernel(
    *,
    role: str | None,
    outputs: Mapping[str, str] | None = None,
    produces: Mapping[str, str] | None = None,
    rerun_safe: bool = True,
    cost_s: float = 0.0,
    name: str | None = None,
    fidelity: str = "measured",
    model: str | None = None,
    model_version: str | None = None,
    cpu_s: float = 0.0,
    expected: Callable[[Mapping[str, Any]], Any] | None = None,
    draws: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> Callable[[Callable[..., Any]], Kernel]:
    """Declare a kernel. Inputs are the body's keyword parameters whose defaults are
    `In(...)`, `Count(...)`, `Choice(...)`, `Uses(...)` or `Consumes(...)`; the first two positional
    parameters receive the instrument and the launch context. A computed kernel (a digital
    twin) says so: ``fidelity="computed"``, its `model` and `model_version`, and its declared
    cost (`cpu_s` per launch; `cost_s` of lab time in a dry-run). `expected` estimates a
    launch's duration from its inputs (``lambda a: a["volume"] / a["rate"]``), so a launch
    that runs far past it raises the stall alarm. `draws` says what it takes from the
    lab's stocks (``lambda a: {"metal_stock": a["volume"] / 4}``), so a launch that would run
    one dry waits for a refill before it starts."""

    def wrap(fn: Callable[..., Any]) -> Kernel:
        inputs: dict[str, Input] = {}
        for p in inspect.signature(fn).parameters.values():
            if isinstance(p.default, In | Count | Choice | SampleIn):
                inputs[p.name] = p.default
        return Kernel(
            name=name or fn.__name__,
            body=fn,
            role=role,
            inputs=inputs,
            outputs=dict(outputs or {}),
            produces=dict(produces or {}),
            rerun_safe=rerun_safe,
            cost_s=cost_s,
            doc=inspect.getdoc(fn) or "",
            fidelity=fidelity,
            model=model,
            model_version=model_version,
            cpu_s=cpu_s,
            expected=expected,
            draws=draws,
        )

    return wrap
