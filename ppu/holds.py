"""Launches that wait for a person's word after the controller stopped mid-run.

A kernel that is not safe to repeat (a synthesis consumes reagents and a day) and was
running when the controller died is never re-run on its own: it is *held* until someone
looks at the instrument and says what happened (`done`, `failed` or `rerun`). While the
controller is down such a launch is still journaled `running` (or `interrupted` after a
clean stop); it counts as held as soon as no controller owns its campaign, so the operator
can settle it before `ppu resume` as well as while it runs.

The controller's ownership of a campaign is an advisory lock file per campaign: it goes
with the process, however the process ends (SIGKILL included).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from devices.port import _lock_dir
from ppu.errors import BadInput
from ppu.store.models import Command, Launch

OUTCOMES = ("done", "failed", "rerun")
#: states a launch is left in when its controller stops under it
IN_FLIGHT = ("queued", "waiting", "running", "interrupted")


class CampaignLock:
    """Held by the one process running a campaign; `ppu resume` of a running one refuses."""

    def __init__(self, campaign_id: str) -> None:
        self.campaign_id = campaign_id
        name = re.sub(r"[^A-Za-z0-9._-]", "_", campaign_id)
        self.path = _lock_dir() / f"campaign-{name}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = Path(self.path).read_text(errors="replace").strip() or "another process"
            os.close(fd)
            raise BadInput(f"campaign {self.campaign_id}", f"it is being run by {owner}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:3])})".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def controller_alive(campaign_id: str | None) -> bool:
    if campaign_id is None:
        return False
    lock = CampaignLock(campaign_id)
    try:
        lock.acquire()
    except BadInput:
        return True
    lock.release()
    return False


def needs_decision(launch: Launch) -> bool:
    """Held, or would be held on resume: started, not safe to repeat, controller gone."""
    if launch.state == "held":
        return True
    return (
        launch.state in IN_FLIGHT
        and not launch.rerun_safe
        and launch.started_v is not None
        and not controller_alive(launch.campaign_id)
    )


def hold_message(x: Launch) -> str:
    return (
        f"{x.kernel} on {x.instrument} was running when the controller stopped (it started "
        f"at {(x.started_v or 0) / 3600:.1f} h of lab time). It is not safe to repeat: check "
        f"the instrument, then `ppu holds resolve {x.id} --as done|failed|rerun`."
    )


def holds(s: Session, campaign_id: str | None = None) -> list[dict[str, Any]]:
    """Every launch waiting for a person's word, with any resolution already given."""
    q = select(Launch).where(col(Launch.state).in_(("held", *IN_FLIGHT)))
    if campaign_id is not None:
        q = q.where(Launch.campaign_id == campaign_id)
    pending = {
        int(c.target): c
        for c in s.exec(
            select(Command).where(Command.kind == "resolve", Command.state == "pending")
        ).all()
        if c.target.isdigit()
    }
    out = []
    for x in s.exec(q.order_by(col(Launch.id))).all():
        if not needs_decision(x):
            continue
        given = pending.get(x.id)  # type: ignore[arg-type]
        out.append(
            {
                "launch_id": x.id,
                "campaign_id": x.campaign_id,
                "kernel": x.kernel,
                "instrument": x.instrument,
                "state": x.state,
                "started_v_s": x.started_v,
                "message": hold_message(x),
                "resolution": (
                    None if given is None else {"outcome": given.argument, "who": given.who}
                ),
            }
        )
    return out


def check_resolvable(launch: Launch | None, launch_id: int, outcome: str) -> Launch:
    """The checks `ppu holds resolve` and the API make before writing the command."""
    if launch is None:
        raise BadInput(f"launch {launch_id}", "no such launch")
    if outcome not in OUTCOMES:
        raise BadInput("--as", f"'{outcome}' is not one of {', '.join(OUTCOMES)}")
    if not needs_decision(launch):
        raise BadInput(f"launch {launch_id}", f"it is {launch.state}, not held")
    return launch
