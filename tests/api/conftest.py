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

PPU = Path(sys.executable).with_name("ppu")
TOKEN = "test-token-4f1c"
DEMO_TIMEOUT_S = 120


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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo campaign, two experiments, dry-run: its summary and the store it wrote."""
    where = tmp_path_factory.mktemp("demo")
    db = where / "demo.sqlite"
    reuse = os.environ.get("PPU_API_DEMO_DB")  # a store an earlier `ppu demo --budget 2` wrote
    if reuse:
        shutil.copy(reuse, db)
        with sqlite3.connect(db) as conn:
            (summary,) = conn.execute("SELECT summary FROM campaign").fetchone()
        return {"db": db, "summary": json.loads(summary)}
    env = {**os.environ, "PPU_LOCK_DIR": str(where / "locks")}
    env.pop("PPU_DB", None)
    done = subprocess.run(
        [str(PPU), "demo", "--budget", "2", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    with sqlite3.connect(db) as conn:  # fold the WAL in, so copies are whole
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"db": db, "summary": summary}


@pytest.fixture(scope="session")
def demo_db(demo_run: dict) -> Path:
    return demo_run["db"]


@pytest.fixture(scope="session")
def demo_campaign(demo_run: dict) -> str:
    return demo_run["summary"]["campaign_id"]


@pytest.fixture
def store_copy(demo_db: Path, tmp_path: Path) -> Path:
    """A private copy of the demo store, for tests that write commands."""
    copy = tmp_path / "ppu.sqlite"
    shutil.copy(demo_db, copy)
    return copy


@pytest.fixture(scope="session")
def read_client(demo_db: Path) -> Iterator:
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(f"sqlite:///{demo_db}", TOKEN)) as client:
        yield client


@pytest.fixture
def client(store_copy: Path) -> Iterator:
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(f"sqlite:///{store_copy}", TOKEN)) as c:
        yield c


def auth(who: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if who is not None:
        headers["X-Operator"] = who
    return headers
