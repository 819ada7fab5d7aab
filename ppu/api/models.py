"""What the API answers, as pydantic models: they make the OpenAPI spec and check each reply.

Physical values travel as quantities, {"value": 1.5, "unit": "mmol/g"}. Clock readings are
plain seconds and say so in their names: `*_v_s` is virtual lab time since the campaign's
start (a dry-run's clock), `*_wall_s` is Unix wall time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Quantity(BaseModel):
    value: float | None = Field(description="None when the value was not finite")
    unit: str


class CampaignOut(BaseModel):
    id: str
    name: str
    state: str = Field(description="running | paused | done | aborted | failed")
    seed: int
    dry_run: bool
    created_wall_s: float
    virtual_t_s: float = Field(description="virtual lab time reached so far")
    clock: ClockOut
    budget: BudgetOut
    eta_v_s: float | None = Field(
        None,
        description="lab time the campaign should end at: the experiments left at the pace "
        "of those finished, capped by the lab-time budget (null when it is over, its lab time "
        "is spent, or none has finished)",
    )
    objectives: list[ObjectiveOut]
    experiments: dict[str, int] = Field(description="experiments by status")
    launches: dict[str, int] = Field(description="launches by state")
    summary: dict[str, Any] | None = None
    controller: str | None = Field(
        None,
        description="the process running the campaign now ('ppu pid 41 on lab-pc-2'); "
        "null when none does",
    )
    heartbeat_age_s: float | None = Field(
        None,
        description="seconds since the running controller last said it is alive (every 2 s "
        "while its loop turns): large means hung; null without a controller",
    )


class ClockOut(BaseModel):
    """Where the lab clock stood at a wall time, and how fast it runs: a reader moves 'now'
    on as virtual_t_s + (time - wall_s) × rate between the controller's writes."""

    virtual_t_s: float
    wall_s: float | None = Field(description="Unix time of that reading")
    rate: float | None = Field(
        description="lab seconds per wall second: 1 on a real run, the pace of a paced "
        "dry-run, null when a dry-run jumps from event to event"
    )
    origin_wall_s: float = Field(
        description="Unix time that lab time 0 stands for on the calendar: a dry-run's start; "
        "on a real run lab time minus now (right for what is ahead; a past event's own wall "
        "time is in its row)"
    )


class BudgetOut(BaseModel):
    experiments: int | None
    lab_time_s: float | None


class ObjectiveOut(BaseModel):
    name: str
    unit: str
    maximize: bool


class LaunchOut(BaseModel):
    id: int
    campaign_id: str | None
    kernel: str
    instrument: str | None
    state: str = Field(
        description="queued | waiting | running | interrupted | held | done | failed | cancelled "
        "| replaced"
    )
    rerun_safe: bool
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    error: str | None
    queued_v_s: float
    started_v_s: float | None
    ended_v_s: float | None
    expected_s: float | None = Field(
        None, description="how long it should take on its instrument (lab seconds)"
    )
    awaits_decision: bool = Field(
        description="held, or will be held on resume (not safe to repeat, controller gone): "
        "resolve it as done, failed or rerun"
    )


class InstrumentOut(BaseModel):
    name: str
    roles: list[str]
    state: str = Field(description="ready | busy | held | quarantined | paused | offline | unknown")
    holds: list[str] = Field(
        default_factory=list,
        description="why nothing new starts on it: operator | watchdog | quarantine | pause "
        "| abort (a person may release operator and watchdog holds)",
    )
    source: Literal["runtime", "launches"] = Field(
        description="runtime: the state the runtime last wrote; launches: inferred from launches"
    )
    campaign_id: str | None
    launch_id: int | None
    kernel: str | None
    busy_s: float = Field(description="virtual seconds spent running kernels")
    faults: int
    updated_v_s: float | None
    updated_wall_s: float | None


class ConsumableOut(BaseModel):
    scope: str = Field(description="'lab NAME' (a real lab's stocks) or 'dry-run CAMPAIGN'")
    name: str
    level: Quantity = Field(description="what is left (a bare number counts items: vials)")
    capacity: Quantity = Field(description="what a refill fills it to")
    refills: int
    updated_v_s: float | None
    updated_wall_s: float | None


class SampleOut(BaseModel):
    id: str
    campaign_id: str | None
    kind: str
    parents: list[str]
    children: list[str]
    location: str | None
    state: str = Field(description="present | consumed | discarded | lost")
    mass: Quantity | None
    made_by: int | None = Field(description="the launch that produced it")
    made_by_kernel: str | None
    created_v_s: float
    properties: dict[str, Any] | None


class SampleLineage(BaseModel):
    sample: SampleOut
    ancestors: list[SampleOut] = Field(description="parents, their parents, … (nearest first)")
    descendants: list[SampleOut]


class MeasurementOut(BaseModel):
    id: int
    launch_id: int
    sample_id: str | None
    name: str
    quantity: Quantity
    fidelity: Literal["measured", "computed"] = Field(
        description="measured (an instrument, or analysis of what one measured) | computed "
        "(a model's estimate: provenance names the model and version)"
    )
    virtual_t_s: float
    wall_s: float
    provenance: dict[str, Any] | None


class PointOut(BaseModel):
    """One objective of one experiment at each fidelity."""

    objective: str
    unit: str | None
    measured: float | None = Field(description="fidelity measured: what the lab found")
    predicted_mean: float | None = Field(description="the planner's model before measuring")
    predicted_sd: float | None
    computed: float | None = Field(description="fidelity computed: the twin's estimate")


class SuggestionOut(BaseModel):
    """One experiment: the planner's proposal, where it came from, and how it turned out."""

    id: int
    campaign_id: str
    number: int
    status: str = Field(
        description="running | awaiting_approval | COMPLETED | FAILED | ABANDONED | rejected"
    )
    pending_approval: bool
    params: dict[str, Any] | None
    objectives: dict[str, Any] | None
    suggestion: dict[str, Any] | None = Field(
        description="provenance: engine, acquisition, prediction, model version"
    )
    launches: list[int]
    error: str | None
    suggested_v_s: float
    ended_v_s: float | None
    predicted_vs_measured: list[PointOut] = Field(
        default_factory=list,
        description="per objective: measured, predicted by the model, computed by a twin",
    )


class StepOut(BaseModel):
    id: int
    campaign_id: str | None
    launch_id: int | None
    instrument: str | None
    text: str
    state: str = Field(description="waiting | confirmed | could_not")
    created_v_s: float
    created_wall_s: float
    confirmed_wall_s: float | None
    confirmed_by: str | None


class CommandOut(BaseModel):
    """A control action and its audit entry: who asked for what, when, and what came of it."""

    id: int
    campaign_id: str | None
    kind: str
    target: str
    argument: str | None
    who: str
    state: str = Field(description="pending | done | refused")
    result: str | None
    created_wall_s: float
    done_wall_s: float | None


class TimelineBar(BaseModel):
    launch_id: int
    kernel: str
    instrument: str
    state: str
    start_v_s: float
    end_v_s: float
    running: bool = Field(description="still running: the bar ends at the campaign's now")


class Timeline(BaseModel):
    campaign_id: str
    now_v_s: float
    instruments: list[str]
    bars: list[TimelineBar]


class IsothermPoint(BaseModel):
    measurement_id: int
    pressure: Quantity
    uptake: Quantity
    point: int | None
    branch: str | None


class Isotherm(BaseModel):
    launch_id: int
    sample_id: str | None
    instrument: str | None
    gas: str | None
    temperature: Quantity | None
    state: str
    points: list[IsothermPoint]


class ProgressPoint(BaseModel):
    experiment: int
    id: int
    status: str
    objectives: dict[str, float | None]
    best_so_far: dict[str, float | None]


class Progress(BaseModel):
    campaign_id: str
    objectives: list[ObjectiveOut]
    points: list[ProgressPoint]
    pareto: list[int] = Field(description="experiment numbers on the Pareto front")


class ExperimentLaunch(BaseModel):
    id: int
    kernel: str
    instrument: str | None
    state: str
    gas: str | None


class FailureOut(BaseModel):
    launch_id: int
    kernel: str
    kind: str | None = Field(
        description="chemistry | instrument | software | interrupted | operator (a person "
        "could not do a step)"
    )
    error: str | None


class ExperimentRow(BaseModel):
    """One row of the experiments table: the planner's reasons, the lab's launches, samples
    and isotherms, and the outcome."""

    id: int
    number: int
    status: str
    params: dict[str, Any] | None
    objectives: dict[str, Any] | None
    phase: str = Field(description="'start design 3 of 10', 'model-guided', 'proposed by …'")
    engine: str | None
    reason: str = Field(description="why the planner chose this point, in words")
    acquisition: float | None
    predicted_vs_measured: list[PointOut]
    best: bool = Field(description="the best COMPLETED experiment on the first objective")
    failure: FailureOut | None
    error: str | None
    samples: list[str] = Field(description="samples its launches made")
    launches: list[ExperimentLaunch]
    suggested_v_s: float
    ended_v_s: float | None


class InstrumentUse(BaseModel):
    name: str
    busy_s: float
    whole: float = Field(description="fraction of the campaign's lab time it ran kernels")
    last_24h: float = Field(description="fraction of the last 24 h of lab time")
    launches: int
    waited_s: float = Field(description="lab time launches spent queued for it")


class Bottleneck(BaseModel):
    name: str
    why: str


class Utilisation(BaseModel):
    campaign_id: str
    now_v_s: float
    instruments: list[InstrumentUse]
    bottleneck: Bottleneck | None
    idle: list[str] = Field(description="instruments that ran nothing in this campaign")


class QueuedLaunch(BaseModel):
    id: int
    kernel: str
    instrument: str | None
    state: str
    queued_v_s: float
    started_v_s: float | None
    expected_s: float | None
    waiting_for: str = Field(description="what it waits for, in words")


class QueueGroup(BaseModel):
    experiment: int | None = Field(description="experiment number; null: launched by hand")
    experiment_id: int | None
    status: str | None
    waiting_for: str | None
    launches: list[QueuedLaunch]


class ResolveIn(BaseModel):
    outcome: Literal["done", "failed", "rerun"] = Field(
        description="what the operator found: the held launch did finish, failed, or may re-run"
    )


class CouldNotIn(BaseModel):
    why: str = Field("", max_length=500, description="what stood in the way (for the audit)")


class LoginIn(BaseModel):
    token: str = Field(min_length=1, max_length=500, description="the server's control token")
    operator: str = Field(
        min_length=1,
        max_length=80,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="your name, for the audit trail",
    )


class SignedIn(BaseModel):
    signed_in: bool
    operator: str | None


class Problem(BaseModel):
    detail: str


CampaignOut.model_rebuild()
