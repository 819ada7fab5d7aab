"""Telling people when a campaign's controller has stopped or hung, from `ppu serve`.

A controller cannot report its own death, nor, hung, its own silence. The dashboard server,
in a process of its own, reads each live campaign's lock holder and heartbeat every
`check_s`: no holder though the campaign is not over is "gone"; a holder silent past
`silent_s` is "hung"; it answering again is "back". Each change is recorded as a
`controller` fault of the campaign (what `ppu status` lists as alarms) and sent through the
campaign's lab file `[notify]` URLs and $PPU_NOTIFY. Campaigns whose last word is older than
a day when the watch starts are left alone: they died long ago, and are no news.
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from ppu.lab.spec import NotifySpec
from ppu.runtime.holds import campaign_owners
from ppu.runtime.notices import ControllerQuiet
from ppu.runtime.notifier import Notifier
from ppu.store.models import Campaign, FaultRecord
from ppu.store.store import make_engine

log = logging.getLogger("ppu.notify")

CHECK_S = 10.0
#: the heartbeat comes every 2 s: this long without one is hung, as the page says
SILENT_S = 30.0
STALE_S = 24 * 3600.0


def lab_notify_urls(lab_path: str | None) -> tuple[str, ...]:
    """The `[notify] urls` of a campaign's lab file, if this machine can read it."""
    if not lab_path:
        return ()
    try:
        raw = tomllib.loads(Path(lab_path).read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return ()
    urls = (raw.get("notify") or {}).get("urls") if isinstance(raw.get("notify"), dict) else None
    return tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else ()


@dataclass
class ControllerWatch:
    db_url: str
    check_s: float = CHECK_S
    silent_s: float = SILENT_S
    environ: Mapping[str, str] | None = None
    #: what was last told of each campaign: gone | hung | None (fine)
    told: dict[str, str | None] = field(default_factory=dict)
    _notifiers: dict[tuple[str, ...], Notifier] = field(default_factory=dict)
    _engine: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ppu-controller-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.check()
            except Exception as e:  # a busy or unreachable store: look again next time
                log.warning("controller watch: %s", str(e).splitlines()[0] if str(e) else e)

    def check(self) -> None:
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        now = time.time()
        with Session(self._engine) as s:
            live = s.exec(
                select(Campaign).where(col(Campaign.state).in_(("running", "paused")))
            ).all()
        owners = campaign_owners(self.db_url, [c.id for c in live])
        for c in live:
            last = c.heartbeat_wall or c.created_wall
            silent = max(0.0, now - last)
            if c.id not in self.told and silent > STALE_S:
                continue  # long dead before this watch began
            owner = owners.get(c.id)
            state = "gone" if owner is None else "hung" if silent > self.silent_s else None
            before = self.told.get(c.id)
            self.told[c.id] = state
            if state == before:
                continue
            told = state or "back"
            notice = ControllerQuiet(
                state=told,
                controller=owner,
                silent_s=silent,
                campaign_id=c.id,
                lab=Path(str((c.config or {}).get("lab") or "")).stem,
                lab_time_s=c.virtual_t,
                wall=now,
            )
            self._record(c.id, notice)
            self._notifier(c).send(notice)

    def _record(self, campaign_id: str, notice: ControllerQuiet) -> None:
        with Session(self._engine) as s:
            s.add(
                FaultRecord(
                    campaign_id=campaign_id,
                    instrument="controller",
                    kind="controller",
                    message=f"{notice.title}: {notice.what}"[:500],
                    virtual_t=notice.lab_time_s,
                    wall_t=notice.wall,
                )
            )
            s.commit()

    def _notifier(self, c: Campaign) -> Notifier:
        urls = lab_notify_urls((c.config or {}).get("lab"))
        key = tuple(sorted(urls))
        if key not in self._notifiers:
            self._notifiers[key] = Notifier.for_lab(NotifySpec(urls=urls), self.environ)
        return self._notifiers[key]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.check_s + 5.0)
        for n in self._notifiers.values():
            n.close()
        if self._engine is not None:
            self._engine.dispose()
