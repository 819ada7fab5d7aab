"""One controller per campaign: on SQLite a lock file, on PostgreSQL a lock on the server that
holds across hosts (two processes that share no lock directory are two hosts to it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ppu.core.errors import BadInput
from ppu.runtime.holds import CampaignLock, campaign_owner, controller_alive
from tests.postgres import new_database


def _another_store(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.sqlite'}"
    return new_database(request.getfixturevalue("postgres_server"))


def test_the_campaign_lock_is_per_store_and_refuses_a_second_controller(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    other = _another_store(db_url, tmp_path, request)
    lock = CampaignLock(db_url, "demo-s7-1")
    lock.acquire()
    try:
        assert controller_alive(db_url, "demo-s7-1")
        assert f"pid {os.getpid()}" in (campaign_owner(db_url, "demo-s7-1") or "")
        assert not controller_alive(other, "demo-s7-1")  # same name, another store
        assert not controller_alive(db_url, "demo-s7-2")  # another campaign
        beside = CampaignLock(other, "demo-s7-1")
        beside.acquire()  # a demo on another store runs
        beside.release()
        with pytest.raises(BadInput, match=rf"it is being run by .*pid {os.getpid()}"):
            CampaignLock(db_url, "demo-s7-1").acquire()
    finally:
        lock.release()
    assert not controller_alive(db_url, "demo-s7-1")
    assert campaign_owner(db_url, "demo-s7-1") is None


_HOLD = """
import sys, time
from ppu.runtime.holds import CampaignLock
lock = CampaignLock(sys.argv[1], "demo-s7-1")
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_postgresql_campaign_lock_holds_across_hosts_and_drops_with_a_killed_holder(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_database(postgres_server)
    (tmp_path / "host-a").mkdir()
    (tmp_path / "host-b").mkdir()
    host_a = {**os.environ, "PPU_LOCK_DIR": str(tmp_path / "host-a")}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, url], stdout=subprocess.PIPE, text=True, env=host_a
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("PPU_LOCK_DIR", str(tmp_path / "host-b"))  # nothing shared on disk
        refused = rf"demo-s7-1: it is being run by ppu pid {holder.pid} on .* \(from 127.0.0.1\)"
        with pytest.raises(BadInput, match=refused):
            CampaignLock(url, "demo-s7-1").acquire()
        assert controller_alive(url, "demo-s7-1")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        for _ in range(100):  # the server notices the closed socket at once; bounded wait
            if not controller_alive(url, "demo-s7-1"):
                break
            time.sleep(0.05)
        lock = CampaignLock(url, "demo-s7-1")
        lock.acquire()  # the campaign can be resumed from the other host now
        lock.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)
