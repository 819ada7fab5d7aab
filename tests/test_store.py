"""The store, on SQLite and on a real PostgreSQL server: schema from Alembic equals the
models, journal-first, documents kept; WAL on SQLite; a clear line when it cannot open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel, select

from ppu.core.clock import Clock
from ppu.core.errors import BadInput, PpuError
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import running
from ppu.store import Store
from ppu.store.models import LaunchEvent, RunDocument
from protocols.dosing import dispense
from tests.conftest import BENCH_LAB
from tests.postgres import free_port


def test_migrations_build_exactly_the_models(any_store: Store) -> None:
    with any_store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        version = conn.execute(text("select version_num from alembic_version")).scalar()
    assert diff == []
    assert version == "0009"


def test_sqlite_runs_in_wal_with_a_busy_timeout(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_journal_is_committed_before_the_kernel_acts(db_url: str, virtual_clock: Clock) -> None:
    """When the kernel's first message runs, `running` is already visible to another
    connection (a second process after a crash would see it)."""
    url = db_url
    store = Store(url)
    seen_by_other_reader: list[str] = []
    lab = load_lab(BENCH_LAB)
    original = dispense.body

    def spying_body(instrument, ctx, **kw):
        other = Store(url, create=False)
        rows = other.session.exec(
            select(LaunchEvent.state).where(LaunchEvent.launch_id == ctx.launch_id)
        ).all()
        seen_by_other_reader.extend(rows)
        other.close()
        return (yield from original(instrument, ctx, **kw))

    async def main():
        async with running(lab, virtual_clock, store, dry_run=True) as rt:
            dispense.body = spying_body
            try:
                h = rt.launch(dispense, volume="1 mL", rate="1 mL/min")
                await h
            finally:
                dispense.body = original
            return h

    try:
        h = virtual_clock.loop.run_until_complete(main())
        assert seen_by_other_reader == ["queued", "running"]
        events = store.session.exec(
            select(LaunchEvent).where(LaunchEvent.launch_id == h.id).order_by(LaunchEvent.id)
        ).all()
        assert [(e.state, e.virtual_t) for e in events] == [
            ("queued", 0.0),
            ("running", 0.0),
            ("done", 60.0),
        ]
        docs = store.session.exec(select(RunDocument).where(RunDocument.launch_id == h.id)).all()
        names = [d.name for d in docs]
        assert names[0] == "start" and names[-1] == "stop" and "event" in names
        start = docs[0].doc
        assert start["launch_id"] == h.id and start["kernel"] == "dispense"
        assert start["virtual_t_start"] == 0.0
        assert {d.run_uid for d in docs} == {start["uid"]}
        event = next(d for d in docs if d.name == "event")
        assert event.virtual_t == 60.0
        assert event.doc["data"]["metal_feed_pump-dispensed"] == 1.0
    finally:
        store.close()


def test_a_store_that_does_not_answer_is_one_line_without_its_password() -> None:
    port = free_port()
    url = f"postgresql://ppu:s3cret@127.0.0.1:{port}/lab"
    with pytest.raises(PpuError) as e:
        Store(url)
    assert e.value.exit_code == 1
    line = str(e.value)
    assert line.startswith(f"store postgresql://ppu:***@127.0.0.1:{port}/lab: cannot connect")
    assert "s3cret" not in line and "\n" not in line


def test_a_url_of_no_known_database_is_bad_input() -> None:
    with pytest.raises(BadInput) as e:
        Store("mysql+nosuchdriver://x/y")
    assert e.value.exit_code == 2 and "not a store ppu can open" in str(e.value)


def test_the_dashboard_on_a_store_that_does_not_answer_says_so_and_exits_1() -> None:
    port = free_port()
    p = subprocess.run(
        [
            str(Path(sys.executable).with_name("ppu")),
            "serve",
            "--db",
            f"postgresql://ppu:s3cret@127.0.0.1:{port}/lab",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"ppu:***@127.0.0.1:{port}/lab: cannot connect" in lines[0]
    assert "s3cret" not in p.stderr
