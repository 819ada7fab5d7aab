"""The campaign file (TOML): search space, objectives, constraints, workflow, budget, planner.

Two checks, both before anything moves: the structure against the pydantic model
`CampaignFile` (strict types, unknown keys refused with a "did you mean"; `ppu schema
campaign` prints it), then the meaning against the lab and its kernels: units and bounds of
the search space against the kernel inputs they feed, roles against the lab, references
between workflow steps, objectives against step outputs, planner options against the
chosen engine.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator

from ppu.campaign.fidelities import FidelitySpec, FidelityTable, check_fidelities
from ppu.core.catalog import PlannerEngine
from ppu.core.errors import BadInput
from ppu.core.files import FileModel, QuantityText, read_toml, unknown_key, unknown_name, validated
from ppu.core.kernels import Choice, Count, In, Kernel, SampleIn
from ppu.core.units import Q_, Quantity, UnitError, parse_quantity
from ppu.lab.spec import ComputeSpec, ComputeTable, LabSpec, compute_spec

Name = Annotated[str, Field(min_length=1)]
Positive = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0)]

# -- the file's structure -----------------------------------------------------------------


class CampaignTable(FileModel):
    name: str | None = Field(None, description="shown everywhere; the campaign id starts with it")
    seed: Seed = 0
    batch_size: Positive = Field(2, description="candidates kept waiting for the first step")
    approval: bool = Field(False, description="each proposal waits for a person to accept it")


class BudgetTable(FileModel):
    experiments: Positive | None = None
    lab_time: QuantityText | None = Field(None, description="a time, e.g. '120 d'")


class PlannerTable(FileModel):
    """`engine`, `cost`, `priors`; every other key is an option of the engine."""

    model_config = FileModel.model_config | {"extra": "allow"}

    engine: Name = Field("botorch", description="botorch | sobol | random | a plugin's")
    cost: QuantityText = Field("0 s", description="lab time each planner call costs in a dry-run")
    priors: Name | None = Field(None, description="CSV of earlier experiments, beside this file")


class ParameterTable(FileModel):
    low: QuantityText | None = None
    high: QuantityText | None = None
    choices: Annotated[list[Name], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ParameterTable:
        if self.choices is not None and (self.low is not None or self.high is not None):
            raise ValueError("give choices, or low and high, not both")
        if self.choices is None and (self.low is None or self.high is None):
            raise ValueError("needs low and high (or choices)")
        twice = next((c for c in self.choices or [] if self.choices.count(c) > 1), None)
        if twice is not None:
            raise ValueError(f"'{twice}' is among the choices twice")
        return self


class ObjectiveTable(FileModel):
    name: Name | None = None
    from_: Name = Field(alias="from", description="step.output of the workflow")
    unit: Name | None = None
    maximize: bool | None = None
    minimize: bool | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> ObjectiveTable:
        if self.maximize is not None and self.minimize is not None:
            raise ValueError("give maximize or minimize, not both")
        return self

    @property
    def maximizing(self) -> bool:
        if self.minimize is not None:
            return not self.minimize
        return True if self.maximize is None else self.maximize


class ConstraintTable(FileModel):
    name: Name | None = None
    from_: Name = Field(alias="from", description="step.output of the workflow")
    ge: QuantityText | None = None
    le: QuantityText | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> ConstraintTable:
        if self.ge is None and self.le is None:
            raise ValueError("needs ge and/or le")
        return self


class StepTable(FileModel):
    step: Name | None = None
    kernel: Name
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="a value, '$parameter', 'step.product' or 'step.output'",
    )
    after: list[Name] = Field(default_factory=list, description="earlier steps to wait for")
    instrument: Name | None = None


class CampaignFile(FileModel):
    """A closed-loop campaign."""

    campaign: CampaignTable = CampaignTable()
    budget: BudgetTable = Field(description="give experiments and/or lab_time in [budget]")
    search_space: Annotated[dict[str, ParameterTable], Field(min_length=1)] = Field(
        description="the parameters to search over, in [search_space]"
    )
    objectives: Annotated[list[ObjectiveTable], Field(min_length=1)] = Field(
        description="at least one [[objectives]] is needed"
    )
    constraints: list[ConstraintTable] = Field(default_factory=list)
    workflow: Annotated[list[StepTable], Field(min_length=1)] = Field(
        description="list the steps as [[workflow]] tables"
    )
    planner: PlannerTable = PlannerTable()
    fidelities: list[FidelityTable] = Field(
        default_factory=list, description="computed kernels that estimate an objective"
    )
    compute: ComputeTable | None = Field(
        None, description="where computed kernels run (instead of the lab's [compute])"
    )


# -- what the loop gets -------------------------------------------------------------------


@dataclass(frozen=True)
class ParamSpec:
    name: str
    low: Quantity | None = None
    high: Quantity | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    raw_low: Any = None
    raw_high: Any = None
    integer: bool = False

    @property
    def categorical(self) -> bool:
        return bool(self.choices)


@dataclass(frozen=True)
class StepSpec:
    name: str
    kernel: Kernel
    inputs: dict[str, Any]  # literal (validated), ("param", name), ("sample", step, name),
    #                         ("output", step, name)
    after: tuple[str, ...] = ()
    instrument: str | None = None


@dataclass(frozen=True)
class ObjectiveSpec:
    name: str
    step: str
    output: str
    unit: str
    maximize: bool = True


@dataclass(frozen=True)
class ConstraintSpec:
    """An outcome that must stay within bounds (e.g. selectivity ≥ 20), in `unit`."""

    name: str
    step: str
    output: str
    unit: str
    ge: float | None = None
    le: float | None = None


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    path: str
    params: dict[str, ParamSpec]
    workflow: tuple[StepSpec, ...]
    objectives: tuple[ObjectiveSpec, ...]
    max_experiments: int | None
    max_lab_time_s: float | None
    batch_size: int = 2
    seed: int = 0
    planner: str = "botorch"
    planner_options: dict[str, Any] = field(default_factory=dict)
    planner_cost_s: float = 0.0
    approval: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    constraints: tuple[ConstraintSpec, ...] = ()
    priors: Path | None = None
    engine: PlannerEngine | None = field(default=None, compare=False, repr=False)
    fidelities: tuple[FidelitySpec, ...] = ()
    compute: ComputeSpec | None = None


def load_campaign(
    path: str | Path, lab: LabSpec, raw: dict[str, Any] | None = None
) -> CampaignSpec:
    """Read and check a campaign file (or `raw`, its stored contents, on resume) against
    `lab` and the kernels and planners its plugins registered; the planner is built once
    to check its options."""
    raw = read_toml(path) if raw is None else raw
    f = Path(path).name
    c = validated(CampaignFile, raw, f)
    kernels = lab.kernels
    params = _search_space(c.search_space)
    workflow = _workflow(f, c.workflow, params, lab, kernels)
    objectives = _objectives(f, c.objectives, workflow)
    constraints = _constraints(f, c.constraints, workflow)
    fidelities = check_fidelities(f, c.fidelities, kernels, params, {o.name: o for o in objectives})
    seen: set[str] = set()
    for table, name in [("objectives", o.name) for o in objectives] + [
        ("constraints", k.name) for k in constraints
    ]:
        if name in seen:
            raise BadInput(
                f"{f}: {table}.{name}", f"two outcomes are called '{name}': name them apart"
            )
        seen.add(name)
    max_time = None
    if c.budget.lab_time is not None:
        max_time = _quantity(f"{f}: budget.lab_time", c.budget.lab_time, "s").m_as("s")
        if max_time <= 0:
            raise BadInput(f"{f}: budget.lab_time", f"{c.budget.lab_time!r} is not a positive time")
    if c.budget.experiments is None and max_time is None:
        raise BadInput(f"{f}: budget", "missing: give experiments and/or lab_time")
    engine = lab.registry.planners.get(c.planner.engine)
    if engine is None:
        raise BadInput(
            f"{f}: planner.engine", unknown_name("engine", c.planner.engine, lab.registry.planners)
        )
    cost = _quantity(f"{f}: planner.cost", c.planner.cost, "s").m_as("s")
    if cost < 0:
        raise BadInput(f"{f}: planner.cost", f"{c.planner.cost!r} is a negative time")
    spec = CampaignSpec(
        name=c.campaign.name if c.campaign.name is not None else Path(path).stem,
        path=str(path),
        params=params,
        workflow=workflow,
        objectives=objectives,
        max_experiments=c.budget.experiments,
        max_lab_time_s=max_time,
        batch_size=c.campaign.batch_size,
        seed=c.campaign.seed,
        planner=c.planner.engine,
        planner_options=dict(c.planner.model_extra or {}),
        constraints=constraints,
        priors=_priors_path(f, path, c.planner.priors),
        planner_cost_s=cost,
        approval=c.campaign.approval,
        raw=raw,
        engine=engine,
        fidelities=fidelities,
        compute=compute_spec(f"{f}: compute", c.compute) if c.compute is not None else None,
    )
    from ppu.campaign.planning import make_planner

    make_planner(spec)  # options and priors are checked here, before anything is stored
    return spec


def _quantity(place: str, value: Any, unit: str) -> Quantity:
    try:
        q = parse_quantity(value, unit)
    except UnitError as e:
        raise BadInput(place, str(e)) from None
    _finite(place, q, value)
    return q


def _finite(place: str, q: Any, value: Any) -> None:
    if isinstance(q, Quantity) and not math.isfinite(q.magnitude):
        raise BadInput(place, f"{value!r} is not a finite quantity")


def _search_space(raw: dict[str, ParameterTable]) -> dict[str, ParamSpec]:
    params = {}
    for name, t in raw.items():
        if t.choices is not None:
            params[name] = ParamSpec(name, choices=tuple(t.choices))
        else:  # units are read against the kernel input this parameter feeds (see _bind)
            params[name] = ParamSpec(name, raw_low=t.low, raw_high=t.high)
    return params


_REF = re.compile(r"^([A-Za-z_]\w*)\.([A-Za-z_]\w*)$")


def _workflow(
    f: str,
    raw: list[StepTable],
    params: dict[str, ParamSpec],
    lab: LabSpec,
    kernels: dict[str, Kernel],
) -> tuple[StepSpec, ...]:
    steps: dict[str, StepSpec] = {}
    bound: set[str] = set()
    for i, t in enumerate(raw):
        name = t.step if t.step is not None else f"step{i}"
        place = f"{f}: workflow.{name}"
        if name in steps:
            raise BadInput(place, "a step of that name comes earlier")
        if t.kernel not in kernels:
            raise BadInput(f"{place}.kernel", unknown_name("kernel", t.kernel, kernels))
        k = kernels[t.kernel]
        _check_role(place, k, t.instrument, lab)
        inputs: dict[str, Any] = {}
        literals: dict[str, Any] = {}
        for iname, value in t.inputs.items():
            ip = f"{place}.inputs.{iname}"
            spec = k.inputs.get(iname)
            if spec is None:
                raise BadInput(
                    ip, f"{k.name} has no input '{iname}' ({unknown_key(iname, list(k.inputs))})"
                )
            if isinstance(value, str) and value.startswith("$"):
                pname = value[1:]
                if pname not in params:
                    raise BadInput(ip, f"'{value}' names no search_space parameter")
                if isinstance(spec, SampleIn):
                    raise BadInput(ip, f"{k.name}.{iname} is a sample (write step.product)")
                params[pname] = _bind(f"{f}: search_space.{pname}", params[pname], k, iname, spec)
                inputs[iname] = ("param", pname)
                bound.add(pname)
            elif isinstance(spec, SampleIn) or (
                isinstance(value, str) and _REF.match(value) and value.split(".")[0] in steps
            ):
                inputs[iname] = _reference(ip, value, spec, steps)
            elif isinstance(spec, Count) and not isinstance(value, int):
                raise BadInput(ip, f"expected a whole number, got {value!r}")
            elif isinstance(spec, Choice) and not isinstance(value, str):
                raise BadInput(ip, f"expected text (in quotes), got {value!r}")
            else:
                literals[iname] = value
        checked = k.validate(
            {**literals, **{n: _placeholder(k.inputs[n]) for n in inputs}},
            place=f"{place}.inputs",
        )
        for iname in literals:
            _finite(f"{place}.inputs.{iname}", checked[iname], literals[iname])
            inputs[iname] = checked[iname]
        missing = [a for a in t.after if a not in steps]
        if missing:
            raise BadInput(f"{place}.after", f"'{missing[0]}' is not an earlier step")
        steps[name] = StepSpec(name, k, inputs, tuple(t.after), t.instrument)
    unbound = set(params) - bound
    if unbound:
        raise BadInput(f"{f}: search_space.{sorted(unbound)[0]}", "feeds no workflow input")
    return tuple(steps.values())


def _check_role(place: str, k: Kernel, instrument: str | None, lab: LabSpec) -> None:
    if k.role is None:
        if instrument is not None:
            raise BadInput(f"{place}.instrument", f"{k.name} is a compute kernel: no instrument")
        return
    if instrument is not None:
        ispec = lab.instruments.get(instrument)
        if ispec is None:
            raise BadInput(
                f"{place}.instrument",
                f"unknown instrument '{instrument}' (lab has: {', '.join(lab.instruments)})",
            )
        if k.role not in ispec.roles:
            raise BadInput(
                f"{place}.instrument", f"'{instrument}' has no role '{k.role}' needed by {k.name}"
            )
    elif not lab.with_role(k.role):
        raise BadInput(
            f"{place}.kernel",
            f"{k.name} needs an instrument with role '{k.role}'; {Path(lab.path).name} has "
            f"none (roles: {', '.join(sorted(lab.roles))})",
        )


def _reference(ip: str, value: Any, spec: Any, steps: dict[str, StepSpec]) -> tuple[str, ...]:
    m = _REF.match(value) if isinstance(value, str) else None
    if not m or m.group(1) not in steps:
        raise BadInput(ip, f"{value!r} is not an earlier step's product (write step.product)")
    src, what = m.groups()
    src_k = steps[src].kernel
    if isinstance(spec, SampleIn):
        if what not in src_k.produces:
            raise BadInput(
                ip,
                f"step {src} ({src_k.name}) makes no sample '{what}' "
                f"(it makes: {', '.join(src_k.produces) or 'none'})",
            )
        return ("sample", src, what)
    if what not in src_k.outputs:
        raise BadInput(ip, f"step {src} ({src_k.name}) has no output '{what}'")
    unit = src_k.outputs[what]
    wanted = "" if isinstance(spec, Count) else getattr(spec, "unit", None)
    if wanted is None or not Q_(1, unit).is_compatible_with(wanted):
        raise BadInput(
            ip,
            f"step {src} ({src_k.name}) output '{what}' is in {unit or 'no unit'}, which does "
            f"not fit this input ({_allowed_text(spec)})",
        )
    return ("output", src, what)


def _allowed_text(spec: Any) -> str:
    if isinstance(spec, Count):
        return "a whole number"
    if isinstance(spec, Choice):
        return f"one of {', '.join(spec.options)}"
    return f"a quantity in {spec.unit or 'no unit'}"


def _placeholder(spec: Any) -> Any:
    """A stand-in for a value bound later, so literal inputs can be checked now."""
    if isinstance(spec, In | Count):
        if spec.default is not None:
            return spec.default
        return (
            spec.ge if spec.ge is not None else (0 if isinstance(spec, Count) else Q_(0, spec.unit))
        )
    if isinstance(spec, Choice):
        return spec.options[0]
    return "sample"


def _bind(place: str, p: ParamSpec, k: Kernel, iname: str, spec: Any) -> ParamSpec:
    """Check a search-space parameter against the kernel input it feeds; read its bounds
    in that input's unit."""
    if isinstance(spec, Choice):
        if not p.categorical:
            raise BadInput(
                place,
                f"{k.name}.{iname} is a choice among {', '.join(spec.options)}; "
                "give choices, not low/high",
            )
        bad = [c for c in p.choices if c not in spec.options]
        if bad:
            raise BadInput(
                place,
                f"'{bad[0]}' is not one of {', '.join(spec.options)} (kernel {k.name}, input "
                f"{iname})",
            )
        return p
    if p.categorical:
        what = (
            "a whole number"
            if isinstance(spec, Count)
            else f"a quantity in {spec.unit or 'no unit'}"
        )
        raise BadInput(place, f"{k.name}.{iname} is {what}; give low and high, not choices")
    bounds = {}
    for name, raw in (
        ("low", p.raw_low if p.low is None else p.low),
        ("high", p.raw_high if p.high is None else p.high),
    ):
        try:
            value = spec.check(raw)
        except UnitError as e:
            raise BadInput(f"{place}.{name}", str(e)) from None
        except ValueError as e:
            raise BadInput(f"{place}.{name}", f"{e} for kernel {k.name}") from None
        bounds[name] = Q_(value, "") if isinstance(spec, Count) else value
    if not bounds["low"] < bounds["high"]:
        raise BadInput(place, f"low ({p.raw_low}) must be below high ({p.raw_high})")
    unit = p.unit or ("" if isinstance(spec, Count) else spec.unit)
    return ParamSpec(
        p.name,
        low=bounds["low"].to(unit),
        high=bounds["high"].to(unit),
        unit=unit,
        raw_low=p.raw_low,
        raw_high=p.raw_high,
        integer=isinstance(spec, Count),
    )


def _objectives(
    f: str, raw: list[ObjectiveTable], workflow: tuple[StepSpec, ...]
) -> tuple[ObjectiveSpec, ...]:
    steps = {s.name: s for s in workflow}
    out = []
    for i, o in enumerate(raw):
        name = o.name if o.name is not None else f"objective{i}"
        place = f"{f}: objectives.{name}"
        step, output, k = _outcome(f"{place}.from", o.from_, steps)
        unit = o.unit if o.unit is not None else k.outputs[output]
        try:
            Q_(1, k.outputs[output]).to(unit)
        except Exception:
            raise BadInput(
                f"{place}.unit", f"'{unit}' does not fit {k.name}.{output} ({k.outputs[output]})"
            ) from None
        out.append(ObjectiveSpec(name, step, output, unit, o.maximizing))
    return tuple(out)


def _outcome(place: str, ref: str, steps: dict[str, StepSpec]) -> tuple[str, str, Kernel]:
    m = _REF.match(ref)
    if not m or m.group(1) not in steps:
        raise BadInput(place, f"{ref!r} is not step.output of the workflow")
    step, output = m.groups()
    k = steps[step].kernel
    if output not in k.outputs:
        raise BadInput(
            place,
            f"step {step} ({k.name}) has no output '{output}' (outputs: {', '.join(k.outputs)})",
        )
    return step, output, k


def _constraints(
    f: str, raw: list[ConstraintTable], workflow: tuple[StepSpec, ...]
) -> tuple[ConstraintSpec, ...]:
    steps = {s.name: s for s in workflow}
    out = []
    for i, c in enumerate(raw):
        place = f"{f}: constraints" + (f".{c.name}" if c.name is not None else f"[{i}]")
        step, output, k = _outcome(f"{place}.from", c.from_, steps)
        unit = k.outputs[output]
        bounds: dict[str, float] = {}
        for key in ("ge", "le"):
            value = getattr(c, key)
            if value is not None:
                bounds[key] = _quantity(f"{place}.{key}", value, unit).m_as(unit)
        out.append(
            ConstraintSpec(c.name if c.name is not None else output, step, output, unit, **bounds)
        )
    return tuple(out)


def _priors_path(f: str, campaign_path: str | Path, value: str | None) -> Path | None:
    if value is None:
        return None
    p = Path(campaign_path).parent / value
    if not p.is_file():
        raise BadInput(f"{f}: planner.priors", f"no such file: {p}")
    return p
