"""One writer over the store. Journal entries are committed before the runtime acts.

SQLite runs in WAL mode with a busy timeout so readers (`ppu status`, the dashboard) never
block the writer. The schema is created and upgraded by Alembic, from the first revision.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from ppu.store.models import (
    Campaign,
    Launch,
    LaunchEvent,
    Measurement,
    RunDocument,
    Sample,
)

MIGRATIONS = Path(__file__).parent / "migrations"


def default_db_url() -> str:
    return as_url(os.environ.get("PPU_DB", "ppu.sqlite"))


def as_url(db: str) -> str:
    """A path becomes a SQLite URL; anything with '://' is taken as a SQLAlchemy URL."""
    return db if "://" in db else f"sqlite:///{Path(db).expanduser()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def plain(obj: Any) -> Any:
    """JSON-safe copy of a document (numpy scalars and arrays, NaN → None)."""
    return json.loads(json.dumps(obj, default=_default), parse_constant=lambda _: None)


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    def __init__(self, url: str | None = None, *, create: bool = True) -> None:
        self.url = url or default_db_url()
        self.engine = make_engine(self.url)
        if create:
            migrate(self.engine)
        self.session = Session(self.engine, expire_on_commit=False)
        self._documents: list[RunDocument] = []
        self._runs_by_descriptor: dict[Any, Any] = {}

    def close(self) -> None:
        self.flush_documents()
        self.session.close()
        self.engine.dispose()

    # -- campaigns ------------------------------------------------------------------
    def add_campaign(self, campaign: Campaign) -> Campaign:
        self.session.add(campaign)
        self.session.commit()
        return campaign

    def update_campaign(self, campaign_id: str, **fields: Any) -> None:
        c = self.session.get(Campaign, campaign_id)
        if c is None:
            raise KeyError(campaign_id)
        for k, v in fields.items():
            setattr(c, k, v)
        self.session.commit()

    # -- launches and their journal -----------------------------------------------------
    def add_launch(self, launch: Launch, virtual_t: float) -> Launch:
        """Record a new launch and its `queued` entry in one commit."""
        launch.queued_v = virtual_t
        launch.created_wall = time.time()
        self.session.add(launch)
        self.session.flush()
        self._event(launch.id, launch.state, virtual_t, None)  # type: ignore[arg-type]
        self._commit()
        return launch

    def journal(
        self, launch: Launch, state: str, virtual_t: float, detail: str | None = None, **fields: Any
    ) -> None:
        """Commit a state change (and any launch fields) before the runtime acts on it."""
        launch.state = state
        for k, v in fields.items():
            setattr(launch, k, v)
        self.session.add(launch)
        self._event(launch.id, state, virtual_t, detail)  # type: ignore[arg-type]
        self._commit()

    def finish(
        self,
        launch: Launch,
        state: str,
        virtual_t: float,
        *,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
        samples: Iterable[Sample] = (),
        consumed: Iterable[str] = (),
        measurements: Iterable[Measurement] = (),
    ) -> None:
        """A launch's end, its products and measurements: one transaction, all or nothing."""
        for s in samples:
            self.session.add(s)
        for sid in consumed:
            s = self.session.get(Sample, sid)
            if s is not None:
                s.state = "consumed"
        for m in measurements:
            self.session.add(m)
        self.journal(launch, state, virtual_t, error, outputs=outputs, error=error, ended_v=virtual_t)

    def _event(self, launch_id: int, state: str, virtual_t: float, detail: str | None) -> None:
        self.session.add(
            LaunchEvent(
                launch_id=launch_id, state=state, virtual_t=virtual_t, wall_t=time.time(),
                detail=detail,
            )
        )

    def _commit(self) -> None:
        if self._documents:
            self.session.add_all(self._documents)
            self._documents = []
        self.session.commit()

    # -- samples --------------------------------------------------------------------------
    def add_sample(self, sample: Sample) -> Sample:
        self.session.add(sample)
        self._commit()
        return sample

    def sample(self, sample_id: str) -> Sample | None:
        return self.session.get(Sample, sample_id)

    def update_sample(self, sample_id: str, **fields: Any) -> None:
        s = self.session.get(Sample, sample_id)
        if s is None:
            raise KeyError(sample_id)
        for k, v in fields.items():
            setattr(s, k, v)
        self.session.add(s)

    # -- documents ------------------------------------------------------------------------
    def add_document(
        self, launch_id: int | None, name: str, doc: dict[str, Any], virtual_t: float
    ) -> None:
        """Buffered; written with the launch's next journal commit, so never lost on `done`."""
        if name == "start":
            run_uid = doc.get("uid")
        elif name == "descriptor":
            run_uid = doc.get("run_start")
            self._runs_by_descriptor[doc.get("uid")] = run_uid
        elif name == "stop":
            run_uid = doc.get("run_start")
        else:
            run_uid = self._runs_by_descriptor.get(doc.get("descriptor"))
        self._documents.append(
            RunDocument(
                launch_id=launch_id, run_uid=run_uid, name=name, virtual_t=virtual_t,
                doc=plain(doc),
            )
        )

    def flush_documents(self) -> None:
        if self._documents:
            self._commit()

    # -- reading --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        s = self.session
        by_state = dict(s.exec(select(Launch.state, func.count()).group_by(Launch.state)).all())
        latest = s.exec(select(Launch).order_by(Launch.id.desc()).limit(5)).all()  # type: ignore[union-attr]
        campaigns = s.exec(select(Campaign).order_by(Campaign.created_wall.desc())).all()  # type: ignore[attr-defined]
        last_m = s.exec(select(Measurement).order_by(Measurement.id.desc()).limit(5)).all()  # type: ignore[union-attr]
        return {
            "db": self.url,
            "campaigns": [
                {"id": c.id, "name": c.name, "state": c.state, "virtual_t_s": c.virtual_t}
                for c in campaigns
            ],
            "launches": {"total": sum(by_state.values()), "by_state": by_state},
            "samples": s.exec(select(func.count()).select_from(Sample)).one(),
            "measurements": s.exec(select(func.count()).select_from(Measurement)).one(),
            "documents": s.exec(select(func.count()).select_from(RunDocument)).one(),
            "latest_launches": [
                {
                    "id": launch.id, "kernel": launch.kernel, "instrument": launch.instrument,
                    "state": launch.state, "queued_v": launch.queued_v, "ended_v": launch.ended_v,
                }
                for launch in latest
            ],
            "latest_measurements": [
                {
                    "launch_id": m.launch_id, "sample_id": m.sample_id, "name": m.name,
                    "value": m.value, "unit": m.unit,
                }
                for m in last_m
            ],
        }


__all__ = ["SQLModel", "Store", "as_url", "default_db_url", "migrate"]
