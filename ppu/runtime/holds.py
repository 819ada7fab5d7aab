"""Launches that wait for a person's word after the controller stopped mid-run.

A kernel that is not safe to repeat (a synthesis consumes reagents and a day) and was
running when the controller died is never re-run on its own: it is *held* until someone
looks at the instrument and says what happened (`done`, `failed` or `rerun`). While the
controller is down such a launch is still journaled `running` (or `interrupted` after a
clean stop); it counts as held as soon as no controller owns its campaign, so the operator
can settle it before `ppu resume` as well as while it runs.

The controller's ownership of a campaign is an advisory lock that goes with the process,
however the process ends (SIGKILL included): a lock file per store and campaign for SQLite (a
file store is one machine's), a lock on the server for PostgreSQL (whose controllers may run on
several hosts).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from ppu.core.errors import BadInput
from ppu.core.locks import OwnerLock, lock_dir
from ppu.store.models import IN_FLIGHT, Launch
from ppu.store.resolutions import given_resolution
from ppu.store.server_lock import ServerLock, holder, holders, is_server_url

OUTCOMES = ("done", "failed", "rerun")


def lock_path(db_url: str, campaign_id: str) -> Path:
    """One lock file per store and campaign (two stores may hold campaigns of one name)."""
    if db_url.startswith("sqlite:///"):  # one file, however its path was spelled
        db_url = "sqlite:///" + str(Path(db_url.removeprefix("sqlite:///")).resolve())
    store = hashlib.sha1(db_url.encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", campaign_id)
    return lock_dir() / f"campaign-{store}-{name}.lock"


class CampaignLock:
    """Held by the one process running a campaign; `ppu resume` of a running one refuses."""

    def __init__(self, db_url: str, campaign_id: str) -> None:
        self.campaign_id = campaign_id

        def busy(owner: str) -> BadInput:
            return BadInput(f"campaign {campaign_id}", f"it is being run by {owner}")

        self._lock: OwnerLock | ServerLock = (
            ServerLock(db_url, f"campaign {campaign_id}", busy)
            if is_server_url(db_url)
            else OwnerLock(lock_path(db_url, campaign_id), busy)
        )

    def acquire(self) -> None:
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    @property
    def watchable(self) -> bool:
        """A server's lock can be lost while this process lives; a lock file cannot."""
        return isinstance(self._lock, ServerLock)

    def still_held(self) -> bool:
        return self._lock.still_held() if isinstance(self._lock, ServerLock) else True

    def try_again(self) -> str | None:
        return self._lock.try_again() if isinstance(self._lock, ServerLock) else None


def campaign_owner(db_url: str, campaign_id: str) -> str | None:
    """Who runs the campaign now ("ppu pid 41 on lab-pc-2 (from 10.0.0.2)"), or None."""
    if is_server_url(db_url):
        return holder(db_url, f"campaign {campaign_id}")
    if not controller_alive(db_url, campaign_id):
        return None
    return lock_path(db_url, campaign_id).read_text(errors="replace").strip() or "a process"


def campaign_owners(db_url: str, campaign_ids: list[str]) -> dict[str, str | None]:
    """`campaign_owner` of many campaigns, with one question to a PostgreSQL server."""
    if is_server_url(db_url):
        named = holders(db_url, [f"campaign {c}" for c in campaign_ids])
        return {c: named[f"campaign {c}"] for c in campaign_ids}
    return {c: campaign_owner(db_url, c) for c in campaign_ids}


def alive_asker(db_url: str) -> Callable[[str], bool]:
    """`controller_alive` for one read: each campaign asked once, however many launches."""
    return functools.cache(lambda campaign_id: controller_alive(db_url, campaign_id))


def controller_alive(db_url: str, campaign_id: str) -> bool:
    """Whether a process runs this campaign now. For a lock file: asks for a shared lock and
    gives it back at once, never writing the file, so a controller starting meanwhile is not
    confused."""
    if is_server_url(db_url):
        return holder(db_url, f"campaign {campaign_id}") is not None
    path = lock_path(db_url, campaign_id)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def needs_decision(launch: Launch, db_url: str, alive: Callable[[str], bool] | None = None) -> bool:
    """Held, or would be held on resume: a campaign's launch that started, is not safe to
    repeat, and whose controller is gone. (A launch outside a campaign has no resume.)"""
    if launch.state == "held":
        return True
    return (
        launch.campaign_id is not None
        and launch.state in IN_FLIGHT
        and not launch.rerun_safe
        and launch.started_v is not None
        and not (alive or functools.partial(controller_alive, db_url))(launch.campaign_id)
    )


def db_url(s: Session) -> str:
    return s.get_bind().url.render_as_string(hide_password=False)


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
    out = []
    url = db_url(s)
    alive = alive_asker(url)
    for x in s.exec(q.order_by(col(Launch.id))).all():
        if not needs_decision(x, url, alive):
            continue
        given = given_resolution(s, x.id)  # type: ignore[arg-type]
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


def check_resolvable(s: Session, launch_id: int, outcome: str) -> Launch:
    """The checks `ppu holds resolve` and the API make before writing the command."""
    launch = s.get(Launch, launch_id)
    if launch is None:
        raise BadInput(f"launch {launch_id}", "no such launch")
    if outcome not in OUTCOMES:
        raise BadInput("--as", f"'{outcome}' is not one of {', '.join(OUTCOMES)}")
    if not needs_decision(launch, db_url(s)):
        raise BadInput(f"launch {launch_id}", f"it is {launch.state}, not held")
    given = given_resolution(s, launch_id)
    if given is not None:
        raise BadInput(
            f"launch {launch_id}",
            f"already resolved as {given.argument} by {given.who} (command {given.id}, "
            "to be carried out when the campaign resumes)",
        )
    return launch
