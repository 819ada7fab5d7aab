"""The live stream's cursor: what is new in the store since the last look."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from ppu.api.queries.control import audit, steps
from ppu.api.queries.measurements import measurements
from ppu.api.queries.suggestions import suggestions
from ppu.api.queries.values import finite
from ppu.store.models import (
    Campaign,
    InstrumentStatus,
    Launch,
    LaunchEvent,
    Measurement,
)

# -- the live stream ------------------------------------------------------------------------


class Follower:
    """Reads what is new in the store since the last look: the stream's cursor.

    Rows that only grow (journal entries, measurements) are followed by id; rows that change
    in place (experiments, commands, steps, instruments, campaigns) by a fingerprint."""

    def __init__(self, s: Session, campaign_id: str | None = None) -> None:
        self.campaign_id = campaign_id
        self.event_id = s.exec(select(func.max(LaunchEvent.id))).one() or 0
        self.measurement_id = s.exec(select(func.max(Measurement.id))).one() or 0
        self.seen: dict[tuple[str, Any], Any] = {}
        self.poll(s)  # fingerprints of what is already there: not news

    def _changed(self, kind: str, key: Any, fingerprint: Any) -> bool:
        if self.seen.get((kind, key)) == fingerprint:
            return False
        self.seen[(kind, key)] = fingerprint
        return True

    def poll(self, s: Session, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """(event name, data) for each change since the last poll, oldest first."""
        out: list[tuple[str, dict[str, Any]]] = []
        cid = self.campaign_id
        q = (
            select(LaunchEvent, Launch)
            .join(Launch, col(Launch.id) == col(LaunchEvent.launch_id))
            .where(col(LaunchEvent.id) > self.event_id)
        )
        if cid is not None:
            q = q.where(Launch.campaign_id == cid)
        for ev, x in s.exec(q.order_by(col(LaunchEvent.id)).limit(limit)).all():
            self.event_id = max(self.event_id, ev.id or 0)
            out.append(
                (
                    "launch",
                    {
                        "event_id": ev.id,
                        "launch_id": ev.launch_id,
                        "campaign_id": x.campaign_id,
                        "kernel": x.kernel,
                        "instrument": x.instrument,
                        "state": ev.state,
                        "virtual_t_s": finite(ev.virtual_t) or 0.0,
                        "detail": ev.detail,
                    },
                )
            )
        for m in measurements(s, cid, after_id=self.measurement_id, limit=limit):
            self.measurement_id = max(self.measurement_id, m["id"])
            out.append(("measurement", m))
        for e in suggestions(s, cid):
            fp = (e["status"], e["ended_v_s"], repr(e["objectives"]))
            if self._changed("experiment", e["id"], fp):
                out.append(("experiment", e))
        for c in audit(s, cid, limit=100):
            if self._changed("command", c["id"], (c["state"], c["result"])):
                out.append(("command", c))
        for st in steps(s, cid):
            if self._changed("step", st["id"], (st["state"], st["confirmed_by"])):
                out.append(("step", st))
        for r in s.exec(select(InstrumentStatus)).all():
            fp = (r.state, r.launch_id, r.kernel, r.faults, r.updated_wall)
            if self._changed("instrument", r.name, fp):
                out.append(
                    (
                        "instrument",
                        {
                            "name": r.name,
                            "state": r.state,
                            "kernel": r.kernel,
                            "launch_id": r.launch_id,
                            "campaign_id": r.campaign_id,
                        },
                    )
                )
        for c in s.exec(select(Campaign)).all():  # all of them: a new campaign is news too
            if self._changed("campaign", c.id, (c.state, c.virtual_t)):
                out.append(
                    (
                        "campaign",
                        {"id": c.id, "state": c.state, "virtual_t_s": finite(c.virtual_t) or 0.0},
                    )
                )
        return out
