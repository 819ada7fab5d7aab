"""`[[fidelities]]`: computed kernels (digital twins) that estimate an objective beside the
physical workflow. The multi-fidelity planner screens candidates with them and the lab
measures the few it chooses (ADR 0011).

    [[fidelities]]
    kernel = "estimate_co2_uptake"          # a computed kernel (fidelity = "computed")
    estimates = "co2_uptake"                # the objective it estimates
    inputs = { temperature = "$temperature", time = "$time", solvent = "$solvent" }
    first_screen = 512                      # computed launches before the first measurement
    per_measurement = 64                    # and with each measurement after it
    cost = "1 s"                            # CPU per launch (default: the kernel's cpu_s)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from ppu.core.errors import BadInput
from ppu.core.files import FileModel, QuantityText, unknown_key, unknown_name
from ppu.core.kernels import Kernel, SampleIn
from ppu.core.units import Q_, Quantity, UnitError, parse_quantity

Name = Annotated[str, Field(min_length=1)]
Positive = Annotated[int, Field(ge=1)]


class FidelityTable(FileModel):
    name: Name | None = Field(None, description="defaults to the kernel's name")
    kernel: Name = Field(description="a computed kernel (a digital twin)")
    estimates: Name = Field(description="the objective it estimates")
    output: Name | None = Field(None, description="the kernel output; defaults to the objective")
    inputs: dict[str, Any] = Field(default_factory=dict, description="'$parameter' or a value")
    first_screen: Positive = Field(
        512, description="computed launches before the first measurement"
    )
    per_measurement: Positive = Field(64, description="computed launches with each measurement")
    cost: QuantityText | None = Field(None, description="CPU time per launch, e.g. '2 s'")


@dataclass(frozen=True)
class FidelitySpec:
    name: str
    kernel: Kernel
    objective: str
    output: str
    unit: str  # the objective's unit: estimates are converted to it
    inputs: dict[str, Any]  # literal (validated) or ("param", name)
    first_screen: int
    per_measurement: int
    cpu_s: float


def check_fidelities(
    f: str,
    raw: list[FidelityTable],
    kernels: Mapping[str, Kernel],
    params: Mapping[str, Any],
    objectives: Mapping[str, Any],
) -> tuple[FidelitySpec, ...]:
    """Each table against the kernels, the search space (already bound to the workflow's
    units) and the objectives; BadInput names the file and key."""
    out: list[FidelitySpec] = []
    for i, t in enumerate(raw):
        place = f"{f}: fidelities" + (f".{t.name}" if t.name else f"[{i}]")
        if t.kernel not in kernels:
            raise BadInput(f"{place}.kernel", unknown_name("kernel", t.kernel, kernels))
        k = kernels[t.kernel]
        if not k.is_computed:
            raise BadInput(
                f"{place}.kernel",
                f"{k.name} is a {k.fidelity} kernel: a fidelity is a computed kernel "
                '(declared with fidelity="computed")',
            )
        if t.estimates not in objectives:
            raise BadInput(
                f"{place}.estimates",
                f"'{t.estimates}' is not an objective "
                f"({unknown_key(t.estimates, list(objectives))})",
            )
        o = objectives[t.estimates]
        output = t.output or t.estimates
        if output not in k.outputs:
            raise BadInput(
                f"{place}.output",
                f"{k.name} has no output '{output}' (outputs: {', '.join(k.outputs)})",
            )
        try:
            Q_(1, k.outputs[output]).to(o.unit)
        except Exception:
            raise BadInput(
                f"{place}.output",
                f"{k.name}.{output} is in {k.outputs[output] or 'no unit'}, "
                f"objective {o.name} in {o.unit or 'no unit'}",
            ) from None
        inputs = _inputs(place, k, t.inputs, params)
        cpu_s = k.cpu_s
        if t.cost is not None:
            try:
                cpu_s = parse_quantity(t.cost, "s").m_as("s")
            except UnitError as e:
                raise BadInput(f"{place}.cost", str(e)) from None
            if not cpu_s >= 0:
                raise BadInput(f"{place}.cost", f"{t.cost!r} is a negative time")
        out.append(
            FidelitySpec(
                t.name or k.name,
                k,
                o.name,
                output,
                o.unit,
                inputs,
                t.first_screen,
                t.per_measurement,
                float(cpu_s),
            )
        )
    names = [s.name for s in out]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise BadInput(f"{f}: fidelities.{twice}", "two fidelities share that name")
    return tuple(out)


def _inputs(place: str, k: Kernel, raw: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    inputs: dict[str, Any] = {}
    literals: dict[str, Any] = {}
    for iname, value in raw.items():
        ip = f"{place}.inputs.{iname}"
        spec = k.inputs.get(iname)
        if spec is None:
            raise BadInput(
                ip, f"{k.name} has no input '{iname}' ({unknown_key(iname, list(k.inputs))})"
            )
        if isinstance(spec, SampleIn):
            raise BadInput(
                ip, f"{k.name}.{iname} is a sample: a computed kernel estimates from conditions"
            )
        if isinstance(value, str) and value.startswith("$"):
            pname = value[1:]
            if pname not in params:
                raise BadInput(ip, f"'{value}' names no search_space parameter")
            inputs[iname] = ("param", pname)
        else:
            literals[iname] = value
    # the search space's two ends must be inputs the twin accepts, in units it converts
    for end in ("low", "high"):
        probe = dict(literals)
        for iname, (_, pname) in ((n, v) for n, v in inputs.items()):
            p = params[pname]
            probe[iname] = p.choices[0] if p.categorical else _at(p, end)
        for iname, (_, pname) in inputs.items():
            p = params[pname]
            if p.categorical:
                for choice in p.choices:
                    k.validate({**probe, iname: choice}, place=f"{place}.inputs")
        k.validate(probe, place=f"{place}.inputs")
    checked = k.validate(
        {**literals, **{n: _centre(params[v[1]]) for n, v in inputs.items()}},
        place=f"{place}.inputs",
    )
    for iname in literals:
        inputs[iname] = checked[iname]
    return inputs


def _at(p: Any, end: str) -> Any:
    q: Quantity = getattr(p, end)
    return round(float(q.magnitude)) if p.integer else q


def _centre(p: Any) -> Any:
    if p.categorical:
        return p.choices[0]
    mid = (float(p.low.magnitude) + float(p.high.m_as(p.low.units))) / 2
    return round(mid) if p.integer else Q_(mid, p.low.units)
