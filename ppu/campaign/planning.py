"""The campaign's planner: built from the campaign's search space, objectives, constraints
and `[planner]` options through the engine its plugins registered; rebuilt from its saved
state on resume. Options are checked against the engine's own signature, so a typo or a
wrong type is reported when the campaign loads, naming the key.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

from ppu.core.catalog import PlannerEngine, load
from ppu.core.errors import BadInput, PpuError
from ppu.core.files import check_value, unknown_key

#: arguments the campaign gives the engine itself
_FROM_CAMPAIGN = {"self", "space", "objectives", "seed", "constraints"}


class PlannerFailed(PpuError):
    """The planner raised while proposing or learning: a runtime failure (exit 1)."""


def engine_class(engine: PlannerEngine, place: str) -> Any:
    try:
        return load(engine.cls)
    except Exception as e:
        raise BadInput(
            place, f"cannot import planner {engine.name}: {type(e).__name__}: {e}"
        ) from None


def check_options(cls: Any, options: dict[str, Any], place: str, engine: str) -> None:
    """Every option is a parameter of the engine and of its declared type."""
    try:
        params = inspect.signature(cls).parameters
        hints = typing.get_type_hints(cls.__init__)
    except (TypeError, ValueError, NameError):
        return  # an engine we cannot introspect checks its own options when built
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = None
    else:
        accepted = [
            n
            for n, p in params.items()
            if n not in _FROM_CAMPAIGN
            and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
    for key, value in options.items():
        if key == "constraints":
            raise BadInput(f"{place}.{key}", "outcome constraints go in [[constraints]] tables")
        if accepted is not None and key not in accepted:
            raise BadInput(
                f"{place}.{key}",
                f"engine {engine} takes no option '{key}' ({unknown_key(key, accepted)})",
            )
        if key in hints:
            check_value(hints[key], value, f"{place}.{key}")


def make_planner(spec: Any) -> Any:
    """A fresh planner for `spec` (a CampaignSpec), with its priors ingested."""
    from planner import Categorical, Continuous, Objective, SearchSpace

    f = Path(spec.path).name
    cls = engine_class(spec.engine, f"{f}: planner.engine")
    check_options(cls, spec.planner_options, f"{f}: planner", spec.planner)
    fidelities = getattr(spec, "fidelities", ())
    if fidelities and not callable(getattr(cls, "screen", None)):
        raise BadInput(
            f"{f}: planner.engine",
            f"engine {spec.planner} plans from lab results only; [[fidelities]] need a "
            'multi-fidelity engine (engine = "multifidelity")',
        )
    if callable(getattr(cls, "screen", None)) and not fidelities:
        raise BadInput(
            f"{f}: fidelities",
            f"engine {spec.planner} screens with a computed kernel: add a [[fidelities]] table",
        )
    if len(fidelities) > 1:
        raise BadInput(f"{f}: fidelities", "one computed kernel per campaign for now")
    space = SearchSpace(
        [
            Categorical(p.name, p.choices)
            if p.categorical
            else Continuous(p.name, float(p.low.magnitude), float(p.high.magnitude), p.unit)
            for p in spec.params.values()
        ]
    )
    objectives = [Objective(o.name, o.maximize) for o in spec.objectives]
    options = dict(spec.planner_options)
    constraints = [{"name": c.name, "ge": c.ge, "le": c.le} for c in spec.constraints]
    if constraints:
        options["constraints"] = constraints
    try:
        planner = cls(space, objectives, spec.seed, **options)
    except (ValueError, TypeError) as e:
        text = str(e)
        key = next((k for k in spec.planner_options if text.startswith(k)), None)
        if key is None:
            raise BadInput(f"{f}: planner", text) from None
        raise BadInput(f"{f}: planner.{key}", text.removeprefix(f"{key}: ")) from None
    if spec.priors is not None:
        from planner.priors import read_priors

        units = {o.name: o.unit for o in spec.objectives} | {
            c.name: c.unit for c in spec.constraints
        }
        try:
            found = read_priors(
                spec.priors, planner.space, planner.measured_outcomes(), units=units, outside="skip"
            )
        except ValueError as e:
            raise BadInput(f"{f}: planner.priors", str(e)) from None
        planner.ingest(found.results)
    return planner


def saved_planner(store: Any, campaign_id: str, spec: Any) -> Any:
    """The planner as it was last saved (None before its first save: built afresh)."""
    saved = store.latest_planner_state(campaign_id)
    if saved is None or not saved.state:
        return None
    engine = saved.state.get("engine")
    if engine != spec.planner:
        raise BadInput(
            f"campaign {campaign_id}",
            f"its planner was saved by engine '{engine}', the campaign names '{spec.planner}'",
        )
    cls = engine_class(spec.engine, f"campaign {campaign_id}: planner")
    try:
        return cls.from_state(saved.state)
    except (ValueError, KeyError, TypeError) as e:
        raise PlannerFailed(f"planner {engine}: its saved state cannot be restored ({e})") from None
