"""One writer over the store. Journal entries are committed before the runtime acts.

SQLite runs in WAL mode with a busy timeout so readers (`ppu status`, the dashboard) never
block the writer. The schema is created and upgraded by Alembic, from the first revision.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event, func, insert, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    ArgumentError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlmodel import Session, SQLModel, col, create_engine, select

from ppu.core.errors import BadInput, PpuError
from ppu.store.bell import bell_for
from ppu.store.models import (
    Campaign,
    Command,
    Consumable,
    Experiment,
    FaultRecord,
    InstrumentStatus,
    Launch,
    LaunchEvent,
    Measurement,
    OperatorStepRecord,
    PlannerState,
    RunDocument,
    Sample,
    SimulatedLab,
)
from ppu.store.urls import as_url, default_db_url, driver_url, shown_url

MIGRATIONS = Path(__file__).parent / "migrations"
#: the kinds of fault that are alarms for a person: a stalled launch, a silent instrument,
#: a controller without its campaign's lock, a controller gone or hung (seen by `ppu serve`)
ALARM_KINDS = ("stalled", "silent", "lock", "controller")


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


_INSERT_LAUNCH = insert(Launch)
_INSERT_EVENT = insert(LaunchEvent)
_INSERT_DOCUMENT = insert(RunDocument)
_INSERT_EXPERIMENT = insert(Experiment)
_UPDATE_LAUNCH = update(Launch).where(Launch.id == bindparam("_id"))


def _row(obj: SQLModel, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: getattr(obj, k) for k in type(obj).model_fields if k not in skip}


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(driver_url(url))
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as e:
        raise BadInput(
            f"store {shown_url(url)}",
            "not a store ppu can open (a SQLite path, sqlite:///… or postgresql://…)"
            + (f": {e}" if isinstance(e, ModuleNotFoundError) else ""),
        ) from None
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextlib.contextmanager
def answering(url: str) -> Iterator[None]:
    """A store that does not answer becomes one line: the server's own reason, the URL
    without its password, no traceback."""
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig is not None else str(e)
        raise PpuError(f"store {shown_url(url)}: cannot connect: {reason}") from None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # controllers starting at once on one server upgrade one after the other; the
            # second finds the schema at head (PostgreSQL's DDL is transactional)
            from ppu.store.server_lock import lock_key

            conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": lock_key("schema")})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    """The runtime's single writer. Hot-path writes (journal, documents) go through one
    Core connection; reads use a separate ORM session and see what is committed."""

    def __init__(self, url: str | None = None, *, create: bool = True) -> None:
        self.url = url or default_db_url()
        self.engine = make_engine(self.url)
        try:
            with answering(self.url):
                if create:
                    migrate(self.engine)
                self._conn = self.engine.connect()
        except PpuError:
            self.engine.dispose()
            raise
        self.session = Session(self.engine, expire_on_commit=False)
        self._documents: list[dict[str, Any]] = []
        self._runs_by_descriptor: dict[Any, Any] = {}
        self._instrument_notes: dict[str, dict[str, Any]] = {}
        #: a dry-run's simulated lab, pickled into every journal commit: (campaign, snapshot)
        self.lab_snapshot: tuple[str, Callable[[], bytes]] | None = None
        self._snapshot_failed = False
        self._bell = bell_for(self.url)

    def close(self) -> None:
        self.flush_documents()
        self._conn.close()
        self.session.close()
        self.engine.dispose()

    def _write(self, *statements: Any) -> list[Any]:
        """Execute and commit, with any buffered documents, in one transaction."""
        # statements come bare or as (statement, parameters): the latter compile once
        results = [
            self._conn.execute(*st)
            if isinstance(st, tuple)
            else st(self._conn)
            if callable(st) and not hasattr(st, "compile")
            else self._conn.execute(st)
            for st in statements
        ]
        if self._documents:
            self._conn.execute(_INSERT_DOCUMENT, self._documents)
            self._documents = []
        if self._instrument_notes:
            notes, self._instrument_notes = self._instrument_notes, {}
            for name, fields in notes.items():
                done = self._conn.execute(
                    update(InstrumentStatus).where(InstrumentStatus.name == name).values(**fields)
                )
                if done.rowcount == 0:
                    self._conn.execute(insert(InstrumentStatus).values(name=name, **fields))
        self._conn.commit()
        if self.session.in_transaction():
            # end the read snapshot so the next read sees this write
            self.session.rollback()
        self._bell.ring()
        return results

    # -- campaigns ------------------------------------------------------------------
    def add_campaign(self, campaign: Campaign) -> Campaign:
        self._write(insert(Campaign).values(**_row(campaign)))
        return campaign

    def update_campaign(self, campaign_id: str, **fields: Any) -> None:
        self._write(update(Campaign).where(Campaign.id == campaign_id).values(**fields))

    def count_campaigns(self, prefix: str) -> int:
        with Session(self.engine) as s:
            return s.exec(
                select(func.count()).select_from(Campaign).where(Campaign.id.startswith(prefix))  # type: ignore[union-attr]
            ).one()

    def add_experiment(self, experiment: Experiment) -> Experiment:
        result = self._conn.execute(_INSERT_EXPERIMENT, _row(experiment, skip=("id",)))
        experiment.id = result.inserted_primary_key[0]
        self._write()
        return experiment

    def update_experiment(
        self, experiment: Experiment, *, planner: tuple[int, dict, float] | None = None, **fields
    ) -> None:
        """Change an experiment; with `planner` = (version, state, virtual time), the
        planner's state after ingesting it goes in the same commit (a resumed campaign
        never ingests a result twice, nor misses one)."""
        for k, v in fields.items():
            setattr(experiment, k, v)
        cid = experiment.campaign_id
        extra = [] if planner is None else [self._planner_statement(cid, *planner)]
        self._write(
            update(Experiment).where(Experiment.id == experiment.id).values(**fields), *extra
        )

    def add_experiments(
        self, experiments: list[Experiment], planner: tuple[int, dict, float]
    ) -> None:
        """New candidates and the planner state that suggested them, in one commit: a
        resumed planner does not suggest them again."""
        for e in experiments:
            result = self._conn.execute(_INSERT_EXPERIMENT, _row(e, skip=("id",)))
            e.id = result.inserted_primary_key[0]
        if experiments:
            self._write(self._planner_statement(experiments[0].campaign_id, *planner))

    def experiments(self, campaign_id: str) -> list[Experiment]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(
                s.exec(
                    select(Experiment)
                    .where(Experiment.campaign_id == campaign_id)
                    .order_by(Experiment.number)  # type: ignore[arg-type]
                ).all()
            )

    def launches(self, ids: Iterable[int]) -> dict[int, Launch]:
        ids = list(ids)
        if not ids:
            return {}
        with Session(self.engine, expire_on_commit=False) as s:
            rows = s.exec(select(Launch).where(Launch.id.in_(ids))).all()  # type: ignore[union-attr]
            return {r.id: r for r in rows}  # type: ignore[misc]

    def campaign_launches(self, campaign_id: str, states: Iterable[str]) -> list[Launch]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(
                s.exec(
                    select(Launch)
                    .where(Launch.campaign_id == campaign_id)
                    .where(Launch.state.in_(list(states)))  # type: ignore[attr-defined]
                    .order_by(Launch.id)  # type: ignore[arg-type]
                ).all()
            )

    def durations(self, kernel: str, instrument: str, last: int = 20) -> list[float]:
        """Lab-time durations of the most recent finished launches of a kernel on an
        instrument (the stall watchdog's history)."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(Launch.started_v, Launch.ended_v)
                .where(Launch.kernel == kernel, Launch.instrument == instrument)
                .where(Launch.state == "done")
                .where(col(Launch.started_v).is_not(None), col(Launch.ended_v).is_not(None))
                .order_by(col(Launch.id).desc())
                .limit(last)
            ).all()
        return [float(end - start) for start, end in rows]  # type: ignore[operator]

    def samples_made_by(self, launch_id: int) -> list[Sample]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.exec(select(Sample).where(Sample.made_by == launch_id)).all())

    def last_virtual_t(self, campaign_id: str) -> float:
        """The latest lab time the journal reached for a campaign's launches."""
        with Session(self.engine) as s:
            t = s.exec(
                select(func.max(LaunchEvent.virtual_t))
                .join(Launch, Launch.id == LaunchEvent.launch_id)  # type: ignore[arg-type]
                .where(Launch.campaign_id == campaign_id)
            ).one()
            c = s.get(Campaign, campaign_id)
            return max(float(t or 0.0), c.virtual_t if c is not None else 0.0)

    # -- launches and their journal -----------------------------------------------------
    def add_launch(self, launch: Launch, virtual_t: float, note: str | None = None) -> Launch:
        """Record a new launch and its `queued` entry (with `note`) in one commit."""
        launch.queued_v = virtual_t
        launch.created_wall = time.time()
        result = self._conn.execute(_INSERT_LAUNCH, _row(launch, skip=("id",)))
        launch.id = result.inserted_primary_key[0]
        self._write(self._event(launch.id, launch.state, virtual_t, note))  # type: ignore[arg-type]
        return launch

    def journal(
        self, launch: Launch, state: str, virtual_t: float, detail: str | None = None, **fields: Any
    ) -> None:
        """Commit a state change (and any launch fields) before the runtime acts on it."""
        self._write(
            *self._journal_statements(launch, state, virtual_t, detail, fields),
            *self._lab_statements(virtual_t),
        )

    def _lab_statements(self, virtual_t: float) -> list[Any]:
        """The simulated lab as it is now, in the same commit as the journal entry, so the
        lab a resumed dry-run finds matches the journal it resumes from."""
        if self.lab_snapshot is None:
            return []
        campaign_id, snapshot = self.lab_snapshot
        try:
            state = snapshot()
        except Exception as e:  # the journal matters more: keep the last good snapshot
            if not self._snapshot_failed:
                warnings.warn(
                    f"simulated lab not saved ({e}); the last snapshot stays", stacklevel=2
                )
            self._snapshot_failed = True
            return []
        row = {"state": state, "virtual_t": virtual_t, "updated_wall": time.time()}
        where = SimulatedLab.campaign_id == campaign_id

        def upsert(conn: Any) -> None:
            if conn.execute(update(SimulatedLab).where(where).values(**row)).rowcount == 0:
                conn.execute(insert(SimulatedLab).values(campaign_id=campaign_id, **row))

        return [upsert]

    def simulated_lab(self, campaign_id: str) -> SimulatedLab | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.get(SimulatedLab, campaign_id)

    def _journal_statements(
        self, launch: Launch, state: str, virtual_t: float, detail: str | None, fields: dict
    ) -> list[Any]:
        launch.state = state
        for k, v in fields.items():
            setattr(launch, k, v)
        return [
            (_UPDATE_LAUNCH, {"_id": launch.id, "state": state, **fields}),
            self._event(launch.id, state, virtual_t, detail),  # type: ignore[arg-type]
        ]

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
        sample_updates: dict[str, dict[str, Any]] | None = None,
        detail: str | None = None,
    ) -> None:
        """A launch's end, its products and measurements: one transaction, all or nothing."""
        statements: list[Any] = [insert(Sample).values(**_row(s)) for s in samples]
        statements += [
            update(Sample).where(Sample.id == sid).values(**fields)
            for sid, fields in (sample_updates or {}).items()
            if fields
        ]
        statements += [
            update(Sample).where(Sample.id == sid).values(state="consumed") for sid in consumed
        ]
        statements += [insert(Measurement).values(**_row(m, skip=("id",))) for m in measurements]
        statements += self._journal_statements(
            launch,
            state,
            virtual_t,
            detail or error,
            {
                "outputs": outputs,
                "error": error,
                "ended_v": virtual_t,
                "instrument": launch.instrument,
                "started_v": launch.started_v,
                "failure": launch.failure,
            },
        )
        self._write(*statements, *self._lab_statements(virtual_t))

    @staticmethod
    def _event(launch_id: int, state: str, virtual_t: float, detail: str | None) -> Any:
        return (
            _INSERT_EVENT,
            {
                "launch_id": launch_id,
                "state": state,
                "virtual_t": virtual_t,
                "wall_t": time.time(),
                "detail": detail,
            },
        )

    # -- samples --------------------------------------------------------------------------
    def add_sample(self, sample: Sample) -> Sample:
        self._write(insert(Sample).values(**_row(sample)))
        return sample

    def sample(self, sample_id: str) -> Sample | None:
        return self.session.get(Sample, sample_id)

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
            {
                "launch_id": launch_id,
                "run_uid": run_uid,
                "name": name,
                "virtual_t": virtual_t,
                "doc": plain(doc),
            }
        )

    def flush_documents(self) -> None:
        if self._documents or self._instrument_notes:
            self._write()

    # -- instruments, control, operator steps, planner state --------------------------------
    def note_instrument(self, name: str, **fields: Any) -> None:
        """An instrument's state, written with the next commit (it changes with every launch)."""
        fields["updated_wall"] = time.time()
        self._instrument_notes.setdefault(name, {}).update(fields)

    def stocks(self, scope: str | None = None) -> list[Consumable]:
        """Stock levels, of one scope (`lab NAME`, `dry-run CAMPAIGN`) or all."""
        with Session(self.engine, expire_on_commit=False) as s:
            q = select(Consumable).order_by(col(Consumable.scope), col(Consumable.name))
            if scope is not None:
                q = q.where(Consumable.scope == scope)
            return list(s.exec(q).all())

    def set_stocks(self, scope: str, rows: Iterable[dict[str, Any]], virtual_t: float) -> None:
        """Write levels (name, level, capacity, unit, refills) in one commit."""
        stamp = {"updated_v": virtual_t, "updated_wall": time.time()}
        statements = []
        for r in rows:
            where = (Consumable.scope == scope) & (Consumable.name == r["name"])
            fields = {k: v for k, v in r.items() if k != "name"} | stamp

            def upsert(conn: Any, where: Any = where, fields: dict = fields, name: str = r["name"]):
                if conn.execute(update(Consumable).where(where).values(**fields)).rowcount == 0:
                    conn.execute(insert(Consumable).values(scope=scope, name=name, **fields))

            statements.append(upsert)
        self._write(*statements)

    def add_fault(self, fault: FaultRecord) -> None:
        self._conn.execute(insert(FaultRecord).values(**_row(fault, skip=("id",))))
        self._write()

    def add_command(
        self,
        kind: str,
        target: str,
        *,
        who: str,
        campaign_id: str | None = None,
        argument: str | None = None,
    ) -> int:
        result = self._conn.execute(
            insert(Command).values(
                kind=kind,
                target=target,
                who=who,
                campaign_id=campaign_id,
                argument=argument,
                created_wall=time.time(),
            )
        )
        self._write()
        return int(result.inserted_primary_key[0])

    def pending_commands(self) -> list[Command]:
        with Session(self.engine, expire_on_commit=False) as s:
            rows = s.exec(
                select(Command).where(Command.state == "pending").order_by(Command.id)  # type: ignore[arg-type]
            ).all()
            return list(rows)

    def resolution_taken(self, launch_id: int) -> Command | None:
        """A `resolve` command a controller took for this launch. Asked at resume of a
        launch still held: that controller stopped before it settled it."""
        from ppu.store.resolutions import given_resolution

        with Session(self.engine, expire_on_commit=False) as s:
            return given_resolution(s, launch_id, states=("done",))

    def finish_command(self, command_id: int, state: str, result: str) -> None:
        self._write(
            update(Command)
            .where(Command.id == command_id)
            .values(state=state, result=result, done_wall=time.time())
        )

    def abandon_campaign(self, campaign_id: str, *, who: str, why: str) -> dict[str, Any]:
        """Close a campaign whose controller is gone, in one commit: the campaign
        `abandoned` (who, why and when in its summary, under "abandon"), its launches
        still in flight cancelled, its experiments still open ABANDONED, its pending
        commands refused, its instruments offline, and a `abandon` command row as the
        audit. The caller has made sure no controller owns the campaign."""
        from ppu.store.models import IN_FLIGHT

        c = self.session.get(Campaign, campaign_id)
        if c is None:
            raise KeyError(campaign_id)
        was, now = c.state, time.time()
        t = self.last_virtual_t(campaign_id)
        reason = f"campaign abandoned by {who}: {why}"
        launches = self.campaign_launches(campaign_id, states=(*IN_FLIGHT, "held"))
        experiments = [
            e for e in self.experiments(campaign_id) if e.status in ("running", "awaiting_approval")
        ]
        with Session(self.engine) as s:
            pending = list(
                s.exec(
                    select(Command).where(
                        Command.campaign_id == campaign_id, Command.state == "pending"
                    )
                ).all()
            )
        record = {"who": who, "why": why, "wall_s": now, "virtual_t_s": t}
        statements: list[Any] = [
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(
                state="abandoned",
                virtual_t=t,
                summary={**(c.summary or {}), "abandon": record},
            )
        ]
        for x in launches:
            statements += self._journal_statements(
                x,
                "cancelled",
                t,
                reason,
                {"error": reason, "failure": "interrupted", "ended_v": t},
            )
        statements += [
            update(Experiment)
            .where(Experiment.id == e.id)
            .values(status="ABANDONED", error=reason, ended_v=t)
            for e in experiments
        ]
        statements += [
            update(Command)
            .where(Command.id == p.id)
            .values(state="refused", result=reason, done_wall=now)
            for p in pending
        ]
        statements.append(
            update(InstrumentStatus)
            .where(
                InstrumentStatus.campaign_id == campaign_id,
                InstrumentStatus.state != "offline",
            )
            .values(state="offline", launch_id=None, kernel=None, updated_wall=now)
        )
        result = self._conn.execute(
            insert(Command).values(
                campaign_id=campaign_id,
                kind="abandon",
                target=campaign_id,
                argument=why,
                who=who,
                state="done",
                result=(
                    f"abandoned: {len(launches)} launch(es) cancelled, "
                    f"{len(experiments)} experiment(s) ABANDONED"
                ),
                created_wall=now,
                done_wall=now,
            )
        )
        self._write(*statements)
        return {
            "campaign_id": campaign_id,
            "state": "abandoned",
            **record,
            "was": was,
            "launches_cancelled": [x.id for x in launches],
            "experiments_abandoned": [e.id for e in experiments],
            "commands_refused": [p.id for p in pending],
            "command_id": int(result.inserted_primary_key[0]),
        }

    def add_step(self, step: OperatorStepRecord) -> int:
        result = self._conn.execute(insert(OperatorStepRecord).values(**_row(step, skip=("id",))))
        self._write()
        return int(result.inserted_primary_key[0])

    def confirm_step(self, step_id: int, who: str, state: str = "confirmed") -> None:
        """A step answered: `confirmed` (done), or `could_not` (who could not do it)."""
        self._write(
            update(OperatorStepRecord)
            .where(OperatorStepRecord.id == step_id)
            .values(state=state, confirmed_by=who, confirmed_wall=time.time())
        )

    def save_planner_state(
        self, campaign_id: str, version: int, state: dict[str, Any], virtual_t: float
    ) -> None:
        """The planner's state on its own (after it ingested computed estimates)."""
        self._write(self._planner_statement(campaign_id, version, state, virtual_t))

    @staticmethod
    def _planner_statement(
        campaign_id: str, version: int, state: dict[str, Any], virtual_t: float
    ) -> Any:
        return insert(PlannerState).values(
            campaign_id=campaign_id,
            version=version,
            state=plain(state),
            virtual_t=virtual_t,
            created_wall=time.time(),
        )

    def latest_planner_state(self, campaign_id: str) -> PlannerState | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.exec(
                select(PlannerState)
                .where(PlannerState.campaign_id == campaign_id)
                .order_by(PlannerState.id.desc())
                .limit(1)  # type: ignore[union-attr]
            ).first()

    # -- reading --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        s = self.session
        by_state = dict(s.exec(select(Launch.state, func.count()).group_by(Launch.state)).all())
        latest = s.exec(select(Launch).order_by(Launch.id.desc()).limit(5)).all()  # type: ignore[union-attr]
        campaigns = s.exec(select(Campaign).order_by(Campaign.created_wall.desc())).all()  # type: ignore[attr-defined]
        last_m = s.exec(select(Measurement).order_by(Measurement.id.desc()).limit(5)).all()  # type: ignore[union-attr]
        alarms = s.exec(
            select(FaultRecord)
            .where(col(FaultRecord.kind).in_(ALARM_KINDS))
            .order_by(col(FaultRecord.id).desc())
            .limit(10)
        ).all()
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
                    "id": launch.id,
                    "kernel": launch.kernel,
                    "instrument": launch.instrument,
                    "state": launch.state,
                    "queued_v": launch.queued_v,
                    "ended_v": launch.ended_v,
                }
                for launch in latest
            ],
            "latest_measurements": [
                {
                    "launch_id": m.launch_id,
                    "sample_id": m.sample_id,
                    "name": m.name,
                    "value": m.value,
                    "unit": m.unit,
                }
                for m in last_m
            ],
            "consumables": [
                {
                    "scope": c.scope,
                    "name": c.name,
                    "level": c.level,
                    "capacity": c.capacity,
                    "unit": c.unit,
                    "refills": c.refills,
                }
                for c in s.exec(select(Consumable).order_by(col(Consumable.scope))).all()
            ],
            #: the watchdog's alarms (stalled launches, silent instruments), newest first
            "alarms": [
                {
                    "kind": f.kind,
                    "launch_id": f.launch_id,
                    "instrument": f.instrument,
                    "campaign_id": f.campaign_id,
                    "message": f.message,
                    "virtual_t_s": f.virtual_t,
                    "wall_t": f.wall_t,
                }
                for f in alarms
            ],
        }


__all__ = [
    "SQLModel",
    "Store",
    "as_url",
    "default_db_url",
    "driver_url",
    "make_engine",
    "migrate",
    "shown_url",
]
