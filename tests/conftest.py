"""Shared fixtures. Every test that runs the lab's loop checks it leaked no tasks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ppu.core.clock import Clock
from ppu.store import Store
from ppu.testing import close_checking_leaks
from tests.postgres import new_database, postgres_server

__all__ = ["postgres_server"]  # a session fixture, here so every test module sees it

ROOT = Path(__file__).resolve().parents[1]
BENCH_LAB = ROOT / "protocols" / "examples" / "bench.toml"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the CPUs this process may use. The slow tests spend
    part of their time waiting (paced dry-runs, servers coming up, a person's step): on 2
    cores, 2 workers kept the CPUs 1.6x busy out of 2 and took 838 s; 3 workers, 606 s."""
    return len(os.sched_getaffinity(0)) + 1


def store_rows(url: str, sql: str) -> list[tuple]:
    """What the store holds, read (or changed) as another process would: SQLite or
    PostgreSQL, by its URL."""
    from sqlalchemy import create_engine, text

    from ppu.store.store import driver_url

    engine = create_engine(driver_url(url))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return [tuple(r) for r in result.fetchall()] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _port_locks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PPU_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))


#: the harness plugin authors use too
_close_checking_leaks = close_checking_leaks


@pytest.fixture
def virtual_clock() -> Iterator[Clock]:
    clock = Clock.new_virtual()
    yield clock
    _close_checking_leaks(clock)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store's URL, once on SQLite and once on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ppu.sqlite'}"
    return new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def any_store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()
