"""The store's tables. Schema changes go through Alembic (ppu/store/migrations)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel


def _json(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True), **kw)


class Campaign(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    state: str = "running"  # running | paused | done | aborted | failed
    seed: int = 0
    dry_run: bool = True
    config: dict[str, Any] | None = _json()
    created_wall: float
    virtual_t: float = 0.0  # virtual lab time reached so far
    summary: dict[str, Any] | None = _json()
    #: wall time of the controller's last word (every few seconds while its loop turns): a
    #: controller that holds its lock but has gone quiet is hung, not gone
    heartbeat_wall: float | None = None
    #: the wall time at which the lab clock stood at `virtual_t`, and how many lab seconds
    #: pass per wall second (1 on a real run, the pace of a paced dry-run, None when a
    #: dry-run jumps): a reader moves "now" on between the controller's writes
    clock_wall: float | None = None
    clock_rate: float | None = None


#: states a launch is left in when its controller stops under it
IN_FLIGHT = ("queued", "waiting", "running", "interrupted")


class Launch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str | None = Field(default=None, index=True, foreign_key="campaign.id")
    kernel: str = Field(index=True)
    instrument: str | None = None
    inputs: dict[str, Any] | None = _json()
    state: str = Field(default="queued", index=True)
    rerun_safe: bool = True
    outputs: dict[str, Any] | None = _json()
    error: str | None = None
    #: why it failed: chemistry | instrument | software | interrupted (the controller stopped)
    failure: str | None = None
    queued_v: float = 0.0
    started_v: float | None = None
    ended_v: float | None = None
    created_wall: float = 0.0
    #: how long it should take on its instrument (the kernel's estimate, else the median of
    #: its finished launches there): a running launch's progress and the stall limit
    expected_s: float | None = None


class LaunchEvent(SQLModel, table=True):
    """The write-ahead journal: each state change, committed before the runtime acts on it."""

    id: int | None = Field(default=None, primary_key=True)
    launch_id: int = Field(index=True, foreign_key="launch.id")
    state: str
    virtual_t: float
    wall_t: float
    detail: str | None = None


class Sample(SQLModel, table=True):
    id: str = Field(primary_key=True)
    campaign_id: str | None = Field(default=None, index=True)
    kind: str
    parents: list[str] | None = _json()
    location: str | None = None
    state: str = "present"  # present | consumed | discarded | lost
    mass_value: float | None = None
    mass_unit: str | None = None
    made_by: int | None = Field(default=None, foreign_key="launch.id")
    created_v: float = 0.0
    properties: dict[str, Any] | None = _json()


class Measurement(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    launch_id: int = Field(index=True, foreign_key="launch.id")
    sample_id: str | None = Field(default=None, index=True)
    name: str
    value: float
    unit: str
    virtual_t: float
    wall_t: float
    provenance: dict[str, Any] | None = _json()
    #: measured (an instrument, or analysis of what one measured) | computed (a model)
    fidelity: str = Field(default="measured", index=True)


class RunDocument(SQLModel, table=True):
    """Every event-model document of every run, with the virtual time it was emitted at."""

    id: int | None = Field(default=None, primary_key=True)
    launch_id: int | None = Field(default=None, index=True)
    run_uid: str | None = Field(default=None, index=True)
    name: str
    virtual_t: float
    doc: dict[str, Any] | None = _json()


class Experiment(SQLModel, table=True):
    """One candidate's result for the planner: COMPLETED | FAILED | ABANDONED (or running)."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(index=True, foreign_key="campaign.id")
    number: int
    params: dict[str, Any] | None = _json()
    status: str = "running"
    objectives: dict[str, Any] | None = _json()
    suggestion: dict[str, Any] | None = _json()  # engine, acquisition, prediction, model version
    launches: list[int] | None = _json()
    error: str | None = None
    suggested_v: float = 0.0
    ended_v: float | None = None


class Command(SQLModel, table=True):
    """A control action from the dashboard, the CLI or another process, and its audit trail.

    The runtime polls pending commands and marks each done or refused: pause | resume |
    abort (target: campaign id), hold | release (instrument name), approve | reject
    (experiment id), confirm | could_not (operator step id; `argument`: why not), resolve
    (launch id; `argument`: done | failed | rerun), propose (campaign id; `argument`: the
    candidate's parameters as JSON)."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str | None = Field(default=None, index=True)
    kind: str
    target: str
    argument: str | None = None
    who: str = "unknown"
    state: str = Field(default="pending", index=True)  # pending | done | refused
    result: str | None = None
    created_wall: float = 0.0
    done_wall: float | None = None


class Consumable(SQLModel, table=True):
    """A stock's level as the runtime last wrote it (committed before the launch that draws
    on it starts). `scope` is `lab NAME` for a real lab's stocks, which outlive campaigns, or
    `dry-run CAMPAIGN` for a simulated lab's."""

    scope: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    level: float
    capacity: float
    unit: str = ""
    refills: int = 0
    updated_v: float = 0.0
    updated_wall: float = 0.0


class OperatorStepRecord(SQLModel, table=True):
    """A manual step a kernel is waiting on (load a sample, fill the dewar)."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str | None = Field(default=None, index=True)
    launch_id: int | None = Field(default=None, index=True)
    instrument: str | None = None
    text: str
    state: str = "waiting"  # waiting | confirmed | could_not (`confirmed_by` could not)
    created_v: float = 0.0
    created_wall: float = 0.0
    confirmed_wall: float | None = None
    confirmed_by: str | None = None


class InstrumentStatus(SQLModel, table=True):
    """Each instrument's state as the runtime last wrote it, for readers in other processes."""

    name: str = Field(primary_key=True)
    campaign_id: str | None = None
    state: str = "ready"  # ready | busy | held | quarantined | paused | offline
    #: why nothing new starts on it: operator | watchdog | quarantine | pause | abort
    holds: list[str] | None = _json()
    launch_id: int | None = None
    kernel: str | None = None
    busy_s: float = 0.0
    faults: int = 0
    updated_v: float = 0.0
    updated_wall: float = 0.0


class PlannerState(SQLModel, table=True):
    """The planner's saved state after each ingest, so a resumed campaign suggests the same."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(index=True)
    version: int
    state: dict[str, Any] | None = _json()
    virtual_t: float = 0.0
    created_wall: float = 0.0


class FaultRecord(SQLModel, table=True):
    """Every fault seen on the wire (retried or not), and every quarantine."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str | None = Field(default=None, index=True)
    instrument: str = Field(index=True)
    device: str | None = None
    launch_id: int | None = Field(default=None, index=True)
    kind: str  # NoReply | GarbledReply | InstrumentRefused | PortClosed | quarantine | …
    message: str
    virtual_t: float
    wall_t: float


class SimulatedLab(SQLModel, table=True):
    """A dry-run's simulated lab (world, rigs, simulators), pickled with each journal commit
    so a resumed dry-run finds the lab as it was. The truth lives here: nothing the planner
    or a kernel reads comes from this table."""

    campaign_id: str = Field(primary_key=True)
    virtual_t: float
    state: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_wall: float = 0.0
