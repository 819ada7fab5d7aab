"""One error path for every command: a port that is absent, refused or busy, a device that
cannot be built, a planner that fails: one line naming the place, exit 1, a JSON last line
under --json, no traceback, and nothing stored that was not real."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from devices.port import PortLock
from tests.conftest import BENCH_LAB, ROOT

PPU = str(Path(sys.executable).with_name("ppu"))


def _ppu(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PPU, *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=300
    )


def _one_line(p: subprocess.CompletedProcess[str], code: int) -> str:
    assert p.returncode == code, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    last = json.loads(p.stdout.strip().splitlines()[-1])
    assert last["exit_code"] == code and last["error"] == lines[0].removeprefix("error: ")
    return last["error"]


def _bench_on(tmp_path: Path, port: str) -> Path:
    lab = tmp_path / "lab.toml"
    lab.write_text(BENCH_LAB.read_text().replace("/dev/ttyUSB0", port))
    return lab


@pytest.mark.parametrize(
    ("port", "why"),
    [
        ("/dev/ttyUSB97", "cannot open port /dev/ttyUSB97: no such device"),
        ("socket://127.0.0.1:1", "cannot open port socket://127.0.0.1:1: connection refused"),
    ],
)
def test_an_absent_or_refused_port_is_one_line_naming_the_device(tmp_path, port, why) -> None:
    _bench_on(tmp_path, port)
    p = _ppu("launch", "dispense", "--lab", "lab.toml", "--db", "s.sqlite", "--json", cwd=tmp_path)
    error = _one_line(p, 1)
    assert error.startswith("lab.toml: instruments.metal_feed.devices.pump (ne1000): ")
    assert why in error


def test_a_busy_port_names_who_has_it(tmp_path: Path) -> None:
    _bench_on(tmp_path, "socket://127.0.0.1:9")
    lock = PortLock("socket://127.0.0.1:9")
    lock.acquire()
    try:
        p = _ppu("launch", "dispense", "--lab", "lab.toml", "--json", cwd=tmp_path)
    finally:
        lock.release()
    assert f"port socket://127.0.0.1:9 in use by ppu pid {os.getpid()} on " in _one_line(p, 1)


def test_a_real_campaign_on_absent_ports_stores_no_campaign(tmp_path: Path) -> None:
    """The demo lab without --dry-run on a machine with none of its instruments."""
    demo = ROOT / "protocols" / "demo"
    p = _ppu(
        "run", str(demo / "campaign.toml"), "--lab", str(demo / "lab.toml"), "--db", "s.sqlite",
        "--json",
        cwd=tmp_path,
    )  # fmt: skip
    error = _one_line(p, 1)
    assert error.startswith("lab.toml: instruments.synthesis.devices.solvent_pump (ne1000): ")
    db = tmp_path / "s.sqlite"
    if db.exists():
        with sqlite3.connect(db) as c:
            assert c.execute("select count(*) from campaign").fetchone() == (0,)


def test_a_device_that_cannot_be_built_is_named(tmp_path: Path) -> None:
    lab = tmp_path / "lab.toml"
    lab.write_text(
        (ROOT / "protocols" / "examples" / "gas_bench.toml")
        .read_text()
        .replace('unit_id = "B"', 'unit_id = "BB"')
    )
    shutil.copy(ROOT / "protocols" / "examples" / "gas_bench_kernels.py", tmp_path)
    p = _ppu("devices", "check", "--lab", "lab.toml", "--dry-run", "--json", cwd=tmp_path)
    report = json.loads(p.stdout.strip().splitlines()[-1])
    n2 = next(d for d in report["devices"] if d["device"] == "n2")
    assert p.returncode == 1 and not n2["answers"]
    assert "cannot be set up" in n2["why"] and "one letter A-Z, not 'BB'" in n2["why"]

    p = _ppu("launch", "fill_cell", "--lab", "lab.toml", "--dry-run", "--json", cwd=tmp_path)
    error = _one_line(p, 1)
    assert error.startswith("lab.toml: instruments.cell.devices.n2 (alicat): cannot be set up")


BROKEN_PLANNER = """
from ppu import PlannerEngine
from planner.sobol import SobolPlanner


class Sulky(SobolPlanner):
    engine = "sulky"

    def suggest(self, n, pending=()):
        raise RuntimeError("the model went flat")


SULKY = PlannerEngine("sulky", Sulky)
"""


def test_a_planner_that_fails_is_one_line_and_a_plugin_planner_is_found(tmp_path) -> None:
    bench = tmp_path / "acme"
    shutil.copytree(ROOT / "tests" / "plugin_lab", bench)
    (bench / "sulky.py").write_text(BROKEN_PLANNER)
    lab = (bench / "lab.toml").read_text().replace('["hotplate"]', '["hotplate", "sulky"]')
    (bench / "lab.toml").write_text(lab)
    campaign = (bench / "campaign.toml").read_text().replace('"sobol"', '"sulky"')
    (bench / "campaign.toml").write_text(campaign)
    p = _ppu(
        "run", "campaign.toml", "--lab", "lab.toml", "--dry-run", "--db", "s.sqlite", "--json",
        cwd=bench,
    )  # fmt: skip
    assert _one_line(p, 1) == "planner sulky: suggest failed: RuntimeError: the model went flat"
    with sqlite3.connect(bench / "s.sqlite") as c:
        assert c.execute("select state from campaign").fetchall() == [("failed",)]
