"""A campaign on a lab whose instruments fault 5 % of the time: it completes, every fault
it met is recorded, and nothing read during a faulted launch is stored as good."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from ppu.cli.main import app
from tests.conftest import ROOT

DEMO = ROOT / "protocols" / "demo"


def test_a_campaign_with_5_percent_faults_completes_and_records_them(tmp_path: Path) -> None:
    lab = tmp_path / "lab.toml"
    text = (DEMO / "lab.toml").read_text()
    lab.write_text(text.replace("simulator = { seed =", "simulator = { fault_rate = 0.05, seed ="))
    db = tmp_path / "ppu.sqlite"
    r = CliRunner().invoke(
        app,
        [
            "run",
            str(DEMO / "campaign.toml"),
            "--lab",
            str(lab),
            "--dry-run",
            "--budget",
            "1",
            "--db",
            str(db),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["experiments"] == 1
    assert summary["completed"] + summary["failed"] + summary["abandoned"] == 1
    con = sqlite3.connect(db)
    faults = dict(con.execute("select kind, count(*) from faultrecord group by kind").fetchall())
    assert sum(faults.values()) > 20, faults
    assert {"NoReply", "GarbledReply", "PortClosed"} <= set(faults), faults
    # every measurement made by a launch that met a fault is marked suspect, never good
    rows = con.execute(
        "select m.launch_id, json_extract(m.provenance, '$.quality') from measurement m"
    ).fetchall()
    faulted = {
        lid
        for (lid,) in con.execute(
            "select distinct launch_id from faultrecord where launch_id is not null"
        )
    }
    assert rows
    for launch_id, quality in rows:
        assert quality == ("suspect" if launch_id in faulted else "good"), (launch_id, quality)
    con.close()
