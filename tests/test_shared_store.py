"""Several controllers, one PostgreSQL store: two campaigns on two labs run at once from two
processes (two "hosts": no lock directory shared), a third process's `ppu serve` shows both
with their controllers, and a pause sent to one reaches that one only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from ppu.store import Store
from tests.conftest import store_rows
from tests.postgres import free_port, new_database

PPU = str(Path(sys.executable).with_name("ppu"))
TOKEN = "shared-store-token"
BUDGET = 2  # experiments per campaign


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)


def _post(base: str, path: str) -> int:
    req = urllib.request.Request(
        base + path,
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "X-Operator": "night shift"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def _until(what: str, ok: Any, seconds: float = 90.0) -> Any:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = ok()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


def test_two_controllers_share_a_postgresql_store_and_serve_shows_both(
    postgres_server: str, tmp_path: Path
) -> None:
    url = new_database(postgres_server)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        Store(url).close()  # the schema, so the dashboard can start before the controllers
        serve_env = {**os.environ, "PPU_TOKEN": TOKEN, "PPU_LOCK_DIR": str(tmp_path / "host-s")}
        procs["serve"] = subprocess.Popen(
            [PPU, "serve", "--db", url, "--port", str(port)],
            env=serve_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

        def serving() -> bool:
            try:
                return _get(base, "/campaigns") == []
            except OSError:
                return False

        _until("ppu serve answering", serving)
        for seed in (7, 8):  # slowed down so the pause arrives while both run
            env = {**os.environ, "PPU_LOCK_DIR": str(tmp_path / f"host-{seed}")}
            env.pop("PPU_DB", None)
            procs[f"demo-co2-capture-s{seed}-1"] = subprocess.Popen(
                [PPU, "demo", "--budget", str(BUDGET), "--seed", str(seed), "--db", url,
                 "--pace", "20000", "--json"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip

        def both_live() -> dict[str, dict] | None:
            try:
                listed = {c["id"]: c for c in _get(base, "/campaigns")}
            except OSError:
                return None  # serve still starting
            live = {k: c for k, c in listed.items() if c["controller"]}
            return live if len(live) == 2 else None

        live = _until("both campaigns live in ppu serve", both_live)
        for cid in ("demo-co2-capture-s7-1", "demo-co2-capture-s8-1"):
            assert live[cid]["state"] == "running"
            assert f"ppu pid {procs[cid].pid} on " in live[cid]["controller"]

        assert _post(base, "/campaigns/demo-co2-capture-s7-1/pause") == 202
        paused = _until(
            "s7 paused",
            lambda: _get(base, "/campaigns/demo-co2-capture-s7-1")["state"] == "paused",
        )
        assert paused
        s8 = procs["demo-co2-capture-s8-1"]
        out8, err8 = s8.communicate(timeout=180)  # the other campaign goes on to its end
        assert s8.returncode == 0, err8[-2000:]
        assert _get(base, "/campaigns/demo-co2-capture-s7-1")["state"] == "paused"

        assert _post(base, "/campaigns/demo-co2-capture-s7-1/resume") == 202
        s7 = procs["demo-co2-capture-s7-1"]
        out7, err7 = s7.communicate(timeout=180)
        assert s7.returncode == 0, err7[-2000:]

        for cid, out in (("demo-co2-capture-s7-1", out7), ("demo-co2-capture-s8-1", out8)):
            summary = json.loads(out.strip().splitlines()[-1])
            assert summary["campaign_id"] == cid and summary["experiments"] == BUDGET
            shown = _get(base, f"/campaigns/{cid}")
            assert shown["state"] == "done" and shown["controller"] is None
            assert sum(shown["experiments"].values()) == BUDGET
        assert store_rows(
            url, "select campaign_id, count(*) from experiment group by 1 order by 1"
        ) == [
            ("demo-co2-capture-s7-1", BUDGET),
            ("demo-co2-capture-s8-1", BUDGET),
        ]
        # each experiment's launches and their measurements are its own campaign's
        owner = dict(store_rows(url, "select id, campaign_id from launch"))
        for cid, launches in store_rows(url, "select campaign_id, launches from experiment"):
            ids = json.loads(launches) if isinstance(launches, str) else launches
            assert ids and {owner[i] for i in ids} == {cid}
        per_campaign = store_rows(
            url,
            "select l.campaign_id, count(*) from measurement m join launch l "
            "on l.id = m.launch_id group by 1 order by 1",
        )
        assert [c for c, n in per_campaign if n > 0] == sorted(live)
        commands = store_rows(url, "select kind, target, state from command order by id")
        assert commands == [
            ("pause", "demo-co2-capture-s7-1", "done"),
            ("resume", "demo-co2-capture-s7-1", "done"),
        ]
    finally:
        for p in procs.values():
            p.kill()
            p.communicate(timeout=30)
