"""Consumables: a campaign whose metal stock covers three syntheses holds the fourth for a
refill before it starts, goes on once the refill is confirmed, and the levels and the refill
are recorded; a bad [consumables] table is one line naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppu.cli.main import app
from ppu.core.errors import BadInput
from ppu.lab.spec import load_lab
from tests.conftest import ROOT, store_rows

DEMO = ROOT / "protocols" / "demo"
#: at ratio 1 and 10 equivalents of modulator, a 20 mL synthesis takes 10/3 mL of metal stock
STOCKS = """
[consumables.metal_stock]
level = "11 mL"        # three syntheses' worth, and 1 mL over
capacity = "30 mL"

[consumables.vials]
level = 24
"""

LOCAL = "http://127.0.0.1"  # reads are open to a page that asks by a loopback name


def _files(tmp_path: Path, stocks: str = STOCKS) -> tuple[Path, Path]:
    lab = tmp_path / "lab.toml"
    demo = (DEMO / "lab.toml").read_text()
    lab.write_text(demo[: demo.index("# -- stocks the synthesis draws on")] + stocks)
    campaign = (DEMO / "campaign.toml").read_text()
    for old, new in (
        ("ratio = { low = 0.5, high = 3.0 }        # metal : linker, molar\n", ""),
        ("modulator = { low = 0, high = 50 }       # equivalents per metal\n", ""),
        ('ratio = "$ratio", modulator = "$modulator"', "ratio = 1.0, modulator = 10"),
    ):
        assert old in campaign, old
        campaign = campaign.replace(old, new)
    (tmp_path / "campaign.toml").write_text(campaign)
    return lab, tmp_path / "campaign.toml"


def test_the_fourth_synthesis_waits_for_a_refill_of_the_metal_stock(
    tmp_path: Path, db_url: str
) -> None:
    lab, campaign = _files(tmp_path)
    r = CliRunner().invoke(
        app,
        ["run", str(campaign), "--lab", str(lab), "--dry-run", "--budget", "4",
         "--db", db_url, "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["experiments"] == 4 and summary["completed"] == 4, summary
    cid = summary["campaign_id"]

    syntheses = store_rows(
        db_url, "select id, started_v from launch where kernel = 'synthesize' order by id"
    )
    assert len(syntheses) == 4
    fourth, started = syntheses[3]
    steps = store_rows(
        db_url,
        "select launch_id, text, state, confirmed_by, created_v from operatorsteprecord "
        "where text like 'Refill%'",
    )
    assert len(steps) == 1, steps
    launch_id, step_text, state, who, asked_v = steps[0]
    assert launch_id == fourth
    assert step_text == (
        f"Refill metal_stock: 1 mL left, launch {fourth} (synthesize) needs 3.333 mL; "
        "fill it to 30 mL"
    )
    assert (state, who) == ("confirmed", "simulated operator")
    assert started >= asked_v + 60.0  # held until the simulated chemist's refill (60 s)
    waited = store_rows(
        db_url,
        f"select state, detail from launchevent where launch_id = {fourth} order by id",
    )
    assert ("waiting", "waiting for a refill of metal_stock") in waited
    assert [s for s, _ in waited].index("running") > waited.index(
        ("waiting", "waiting for a refill of metal_stock")
    )
    stocks = {
        name: (round(level, 3), capacity, unit, refills)
        for name, level, capacity, unit, refills in store_rows(
            db_url,
            f"select name, level, capacity, unit, refills from consumable "
            f"where scope = 'dry-run {cid}'",
        )
    }
    assert stocks == {
        "metal_stock": (round(30 - 10 / 3, 3), 30.0, "mL", 1),
        "vials": (20.0, 24.0, "", 0),
    }


def test_status_and_the_api_show_the_levels(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    lab, campaign = _files(tmp_path)
    db = f"sqlite:///{tmp_path / 'ppu.sqlite'}"
    r = CliRunner().invoke(
        app,
        ["run", str(campaign), "--lab", str(lab), "--dry-run", "--budget", "1", "--db", db],
    )
    assert r.exit_code == 0, r.stderr
    shown = CliRunner().invoke(app, ["status", "--db", db])
    assert "stock metal_stock 7.667 / 30 mL (dry-run " in " ".join(shown.stdout.split())
    with TestClient(create_app(db, "t"), base_url=LOCAL) as client:
        stocks = client.get("/api/consumables").json()
    metal = next(s for s in stocks if s["name"] == "metal_stock")
    assert metal["level"] == {"value": pytest.approx(11 - 10 / 3), "unit": "mL"}
    assert metal["capacity"] == {"value": 30.0, "unit": "mL"} and metal["refills"] == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[consumables.DMF]\nlevel = "5 furlongs of"\n', r"consumables\.DMF\.level: "),
        ('[consumables.DMF]\nlevel = "5 L"\ncapacity = "2 kg"\n', r"consumables\.DMF\.capacity"),
        ('[consumables.DMF]\nlevel = "5 L"\ncapacity = "2 L"\n', r"less than the level"),
        ("[consumables.DMF]\nvolume = 3\n", r"consumables\.DMF"),
    ],
)
def test_a_bad_consumables_table_is_one_line_naming_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    lab, _ = _files(tmp_path, "\n" + table)
    with pytest.raises(BadInput, match=rf"lab\.toml: .*{message}"):
        load_lab(lab)


def test_launches_short_of_one_stock_share_one_refill_and_it_never_goes_below_empty(
    tmp_path: Path,
) -> None:
    import asyncio

    import bluesky.plan_stubs as bps

    from ppu.core.clock import Clock
    from ppu.core.kernels import In, kernel
    from ppu.runtime.runtime import running
    from ppu.store import Store
    from tests.conftest import BENCH_LAB, _close_checking_leaks

    @kernel(role="pump", outputs={}, draws=lambda a: {"reagent": a["volume"]})
    def add_reagent(instrument, ctx, volume=In("mL", default="0.8 mL")):
        yield from bps.mv(instrument.pump.rate, 10.0)
        yield from bps.mv(instrument.pump, volume.m_as("mL"))
        return {}

    lab_path = tmp_path / "bench.toml"
    lab_path.write_text(
        BENCH_LAB.read_text() + '\n[consumables.reagent]\nlevel = "1 mL"\ncapacity = "2 mL"\n'
    )
    lab = load_lab(lab_path)
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True) as rt:
            handles = [
                rt.launch(add_reagent, instrument=name, volume="0.8 mL")
                for name in ("metal_feed", "linker_feed", "metal_feed")
            ]
            await asyncio.gather(*handles)
            seen["levels"] = dict(rt.stockroom.levels)
            seen["refills"] = dict(rt.stockroom.refills)
            seen["steps"] = [s.text for s in rt.operator.done]

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        _close_checking_leaks(clock)
    assert seen["refills"] == {"reagent": 1}  # the two short launches waited on one refill
    assert seen["levels"]["reagent"] == pytest.approx(2.0 - 0.8 - 0.8)
    assert len(seen["steps"]) == 1 and seen["steps"][0].startswith("Refill reagent: 0.2 mL left")
