"""A real PostgreSQL server for the tests that claim PostgreSQL.

Debian's server binaries (`postgresql` package; `./setup.sh --dev` installs it) start a
throwaway cluster in a temp dir, bound to 127.0.0.1 on a free port, for the whole session;
each test gets a database of its own. `PPU_TEST_POSTGRES` names an existing server instead
(an admin URL). Without either the PostgreSQL cases are skipped, unless
`PPU_REQUIRE_POSTGRES=1` (as in `.ci/run`), when they fail: CI never passes by skipping.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _as_server_user(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run it as Debian's `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def _throwaway_cluster(bindir: Path) -> Iterator[str]:
    base = Path(tempfile.mkdtemp(prefix="ppu-pg-"))
    data, log = base / "data", base / "server.log"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    port = free_port()

    def run(*cmd: str) -> None:
        p = subprocess.run(_as_server_user(list(cmd)), capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name}: {(p.stderr or p.stdout).strip()[-500:]}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        opts = f"-h 127.0.0.1 -p {port} -k {base} -F -c max_connections=200"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(RuntimeError, FileNotFoundError):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """An admin URL of a running PostgreSQL server."""
    given = os.environ.get("PPU_TEST_POSTGRES")
    if given:
        yield given
        return
    bindir = _server_bin()
    if bindir is None:
        why = "no PostgreSQL server binaries (Debian's postgresql package; ./setup.sh --dev)"
        if os.environ.get("PPU_REQUIRE_POSTGRES") == "1":
            pytest.fail(why)
        pytest.skip(why)
    with _throwaway_cluster(bindir) as url:
        yield url


def new_database(admin_url: str) -> str:
    """A fresh, empty database on the server: its URL, as a user would type it."""
    import psycopg

    name = f"ppu_test_{os.getpid()}_{next(_counter)}_{int(time.time() * 1000) % 100000}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name
