"""Operator steps, the commands table as an audit, and the one write: adding a command."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import finite
from ppu.store.models import (
    Command,
    OperatorStepRecord,
)

# -- operator steps and commands ------------------------------------------------------------


def step_out(x: OperatorStepRecord) -> dict[str, Any]:
    return {
        "id": x.id,
        "campaign_id": x.campaign_id,
        "launch_id": x.launch_id,
        "instrument": x.instrument,
        "text": x.text,
        "state": x.state,
        "created_v_s": finite(x.created_v) or 0.0,
        "created_wall_s": finite(x.created_wall) or 0.0,
        "confirmed_wall_s": finite(x.confirmed_wall),
        "confirmed_by": x.confirmed_by,
    }


def steps(
    s: Session, campaign_id: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    q = select(OperatorStepRecord)
    if campaign_id is not None:
        q = q.where(OperatorStepRecord.campaign_id == campaign_id)
    if state is not None:
        q = q.where(OperatorStepRecord.state == state)
    return [step_out(x) for x in s.exec(q.order_by(col(OperatorStepRecord.id))).all()]


def command_out(x: Command) -> dict[str, Any]:
    return {
        "id": x.id,
        "campaign_id": x.campaign_id,
        "kind": x.kind,
        "target": x.target,
        "argument": x.argument,
        "who": x.who,
        "state": x.state,
        "result": x.result,
        "created_wall_s": finite(x.created_wall) or 0.0,
        "done_wall_s": finite(x.done_wall),
    }


def audit(s: Session, campaign_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Every control action, newest first: the Command rows are the audit trail."""
    q = select(Command)
    if campaign_id is not None:
        q = q.where(Command.campaign_id == campaign_id)
    rows = s.exec(q.order_by(col(Command.id).desc()).limit(limit)).all()
    return [command_out(x) for x in rows]


def add_command(
    s: Session,
    kind: str,
    target: str,
    who: str,
    campaign_id: str | None,
    argument: str | None = None,
) -> dict[str, Any]:
    """Ask the runtime to act: one pending Command row, committed at once."""
    row = Command(
        campaign_id=campaign_id,
        kind=kind,
        target=target,
        argument=argument,
        who=who,
        state="pending",
        created_wall=time.time(),
    )
    s.add(row)
    s.commit()
    s.refresh(row)
    return command_out(row)
