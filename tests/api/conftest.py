"""A store filled by a real dry-run (`ppu demo --budget 2`), once per session, and apps over it.

Read tests share the demo store untouched; tests that act get their own copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import store_rows
from tests.postgres import new_database

PPU = Path(sys.executable).with_name("ppu")
TOKEN = "test-token-4f1c"
DEMO_TIMEOUT_S = 120

LOCAL = "http://127.0.0.1"  # reads are open to a page that asks by a loopback name


# Debian's chromium, started as this machine needs it: no sandbox as root, and none of
# the background networking a closed network refuses.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


_demos: dict[str, dict] = {}


def _demo_on(backend: str, factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict:
    """The demo campaign, two experiments, dry-run, once per backend: its summary, the store's
    URL and how to copy it. On PostgreSQL the copy is `CREATE DATABASE … TEMPLATE` of a
    template no one connects to."""
    if backend in _demos:
        return _demos[backend]
    where = factory.mktemp(f"demo-{backend}")
    reuse = os.environ.get("PPU_API_DEMO_DB")  # a SQLite store an earlier demo wrote
    if backend == "sqlite":
        db = where / "demo.sqlite"
        url = f"sqlite:///{db}"
    else:
        admin = request.getfixturevalue("postgres_server")
        url = new_database(admin)
    if reuse and backend == "sqlite":
        shutil.copy(reuse, db)
        summary = json.loads(store_rows(url, "SELECT summary FROM campaign")[0][0])
    else:
        env = {**os.environ, "PPU_LOCK_DIR": str(where / "locks")}
        env.pop("PPU_DB", None)
        done = subprocess.run(
            [str(PPU), "demo", "--budget", "2", "--db", url, "--json"],
            capture_output=True,
            text=True,
            timeout=DEMO_TIMEOUT_S,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        summary = json.loads(done.stdout.strip().splitlines()[-1])
    if backend == "sqlite":
        with sqlite3.connect(db) as conn:  # fold the WAL in, so copies are whole
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counter = iter(range(10**6))

        def copy(into: Path) -> str:
            target = into / f"ppu-{next(counter)}.sqlite"
            shutil.copy(db, target)
            return f"sqlite:///{target}"
    else:
        template = _copy_database(admin, url.rsplit("/", 1)[1]).rsplit("/", 1)[1]

        def copy(into: Path) -> str:
            return _copy_database(admin, template)

    _demos[backend] = {"db": url, "summary": summary, "copy": copy, "backend": backend}
    return _demos[backend]


def _copy_database(admin_url: str, source: str) -> str:
    import psycopg

    name = new_database(admin_url).rsplit("/", 1)[1]  # a fresh name, then made from source
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database "{name}"')
        conn.execute(f'create database "{name}" template "{source}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def demo_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo's store, on SQLite and on a real PostgreSQL server (tests run on both)."""
    return _demo_on(request.param, tmp_path_factory, request)


@pytest.fixture(scope="session")
def demo_sqlite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The SQLite demo store alone, for tests about the API's shape, not its backend."""
    return _demo_on("sqlite", tmp_path_factory, request)


@pytest.fixture(scope="session")
def demo_db(demo_run: dict) -> str:
    """The demo store's URL (read-only for tests: they act on a copy)."""
    return demo_run["db"]


@pytest.fixture(scope="session")
def demo_campaign(demo_run: dict) -> str:
    return demo_run["summary"]["campaign_id"]


@pytest.fixture
def store_copy(demo_run: dict, tmp_path: Path) -> str:
    """A private copy of the demo store, for tests that write commands: its URL."""
    return demo_run["copy"](tmp_path)


@pytest.fixture(scope="session")
def read_client(demo_db: str) -> Iterator:
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(demo_db, TOKEN), base_url=LOCAL) as client:
        yield client


@pytest.fixture
def client(store_copy: str) -> Iterator:
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(store_copy, TOKEN), base_url=LOCAL) as c:
        yield c


def auth(who: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if who is not None:
        headers["X-Operator"] = who
    return headers
