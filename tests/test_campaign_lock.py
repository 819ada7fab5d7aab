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


def _terminate_lock_session(admin_db: str, name: str) -> None:
    """What a server restart or an administrator does to the lock holder's session."""
    import psycopg

    from ppu.store.server_lock import lock_key

    key = lock_key(name)
    with psycopg.connect(admin_db, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory'"
            " and granted and ((classid::bigint << 32) | objid::bigint) = %s",
            (key,),
        )


def test_a_controller_that_loses_its_server_lock_starts_nothing_until_it_has_it_again(
    postgres_server: str, tmp_path: Path
) -> None:
    """The lock's session ends under a live controller and another process takes the
    campaign meanwhile: the controller holds every instrument and says so; once the other
    lets go it takes the lock back and the waiting dispense runs."""
    import asyncio

    from sqlmodel import Session, select

    from ppu.core.clock import Clock
    from ppu.lab.spec import load_lab
    from ppu.runtime.control import LOCK_HOLD, ControlDesk
    from ppu.runtime.lock_watch import LockWatch
    from ppu.runtime.runtime import running
    from ppu.store import Store
    from ppu.store.models import FaultRecord
    from protocols.dosing import dispense
    from tests.conftest import BENCH_LAB, _close_checking_leaks

    db = new_database(postgres_server)
    lock = CampaignLock(db, "bench-1")
    lock.acquire()
    watch = LockWatch(lock)  # asked by hand here, as its thread asks every 2 s
    clock = Clock.new_virtual()
    store = Store(db)
    seen: dict = {}

    async def main() -> None:
        async with running(load_lab(BENCH_LAB), clock, store, dry_run=True) as rt:
            desk = ControlDesk(rt, store, campaign_id=None, poll_s=1.0, lock_watch=watch)
            # the session ends, and another process takes the campaign before it is back
            other = CampaignLock(db, "bench-1")
            with clock.holding():
                _terminate_lock_session(postgres_server, "campaign bench-1")
                other.acquire()
                watch.check()
            seen["lost"] = watch.lost
            desk.poll()
            seen["holds"] = {n: set(i.lane.holds) for n, i in rt.instruments.items()}
            nxt = rt.launch(dispense, instrument="metal_feed", volume="0.5 mL", rate="2 mL/min")
            await asyncio.sleep(600.0)
            seen["while_lost"] = nxt.row.state
            with clock.holding():
                watch.check()  # still the other's
                seen["still_lost"] = watch.lost
                other.release()
                watch.check()
            desk.poll()
            await nxt
            seen["after"] = (nxt.row.state, watch.losses, watch.retaken)

    try:
        clock.loop.run_until_complete(main())
        with Session(store.engine) as s:
            alarms = s.exec(select(FaultRecord).where(FaultRecord.kind == "lock")).all()
        shown = [a["kind"] for a in store.status()["alarms"]]
    finally:
        lock.release()
        store.close()
        _close_checking_leaks(clock)

    assert "it is being run by ppu pid" in (seen["lost"] or "")
    assert all(LOCK_HOLD in h for h in seen["holds"].values()), seen["holds"]
    assert seen["while_lost"] in ("queued", "waiting")
    assert "it is being run by ppu pid" in (seen["still_lost"] or "")
    assert seen["after"] == ("done", 1, 1)
    lost, back = (a.message for a in alarms)
    assert "this controller lost its lock on the store" in lost
    assert "nothing new starts until it has the lock again" in lost
    assert "the lock is this controller's again" in back
    assert shown[:2] == ["lock", "lock"]


def test_the_lock_watch_notices_a_dropped_session_and_takes_the_lock_back(
    postgres_server: str,
) -> None:
    from ppu.runtime.lock_watch import LockWatch

    db = new_database(postgres_server)
    lock = CampaignLock(db, "bench-2")
    lock.acquire()
    watch = LockWatch(lock, check_s=0.1)
    watch.start()
    try:
        _terminate_lock_session(postgres_server, "campaign bench-2")
        deadline = time.monotonic() + 20
        while watch.retaken == 0:
            assert time.monotonic() < deadline, (watch.losses, watch.lost)
            time.sleep(0.05)
        assert (watch.losses, watch.lost) == (1, None)
        assert f"pid {os.getpid()}" in (campaign_owner(db, "bench-2") or "")
    finally:
        watch.stop()
        lock.release()


def test_a_controller_whose_campaign_was_run_by_another_meanwhile_lets_go_and_stays_held(
    postgres_server: str,
) -> None:
    """While its lock was lost a second controller took the campaign and ran it (its
    heartbeat is in the store): the first, getting the lock back, knows its picture is out of
    date, so it keeps every instrument held, gives the lock up for a resume, and says so."""
    from ppu.core.clock import Clock
    from ppu.lab.spec import load_lab
    from ppu.runtime.control import LOCK_HOLD, ControlDesk
    from ppu.runtime.lock_watch import LockWatch
    from ppu.runtime.runtime import running
    from ppu.store import Store
    from ppu.store.models import Campaign
    from tests.conftest import BENCH_LAB, _close_checking_leaks

    db = new_database(postgres_server)
    lock = CampaignLock(db, "bench-3")
    lock.acquire()
    watch = LockWatch(lock)
    clock = Clock.new_virtual()
    store = Store(db)
    store.add_campaign(Campaign(id="bench-3", name="bench", created_wall=time.time()))
    seen: dict = {}

    async def main() -> None:
        async with running(load_lab(BENCH_LAB), clock, store, dry_run=True) as rt:
            desk = ControlDesk(rt, store, campaign_id="bench-3", poll_s=1.0, lock_watch=watch)
            other = CampaignLock(db, "bench-3")
            with clock.holding():
                _terminate_lock_session(postgres_server, "campaign bench-3")
                other.acquire()
                store.update_campaign("bench-3", heartbeat_wall=time.time() + 1.0)  # it runs
                watch.check()
                desk.poll()
                other.release()
                watch.check()  # the lock comes back
                desk.poll()
                desk.poll()
            seen["holds"] = {n: set(i.lane.holds) for n, i in rt.instruments.items()}
            seen["owner"] = campaign_owner(db, "bench-3")

    try:
        clock.loop.run_until_complete(main())
        alarms = [a["message"] for a in store.status()["alarms"] if a["kind"] == "lock"]
    finally:
        watch.stop()
        store.close()
        _close_checking_leaks(clock)

    assert all(LOCK_HOLD in h for h in seen["holds"].values()), seen["holds"]
    assert seen["owner"] is None  # given up: `ppu resume` may take the campaign
    assert "another controller ran it while this one had lost its lock" in alarms[0]
    assert len(alarms) == 2  # lost, then superseded; never "goes on"
