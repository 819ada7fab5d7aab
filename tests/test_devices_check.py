"""`ppu devices check`: every instrument's identity and status, or why it does not answer."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ppu.cli.main import app
from tests.conftest import ROOT

DEMO_LAB = ROOT / "protocols" / "demo" / "lab.toml"
runner = CliRunner()


def test_dry_run_lists_every_instrument_with_identity_and_status() -> None:
    r = runner.invoke(app, ["devices", "check", "--lab", str(DEMO_LAB), "--dry-run", "--json"])
    assert r.exit_code == 0, r.stdout
    report = json.loads(r.stdout.strip().splitlines()[-1])
    devices = {(d["instrument"], d["device"]): d for d in report["devices"]}
    assert report["silent"] == 0 and len(devices) >= 10
    assert devices[("synthesis", "heater")]["identity"].startswith("Eurotherm 3200")
    assert devices[("balance", "balance")]["identity"].startswith("Mettler Toledo MT-SICS")
    assert devices[("oven", "gauge")]["status"]["range_status"] == "OK"
    assert all(d["identity"] and "status" in d for d in devices.values())


def test_missing_ports_and_silent_instruments_are_named_with_the_reason(tmp_path: Path) -> None:
    lab = tmp_path / "lab.toml"
    lab.write_text(
        '[instruments.pump]\nroles = ["pump"]\n'
        '[instruments.pump.devices.pump]\ndriver = "ne1000"\nport = "/dev/ttyNOPE9"\n'
        '[instruments.mute]\nroles = ["pump"]\n'
        '[instruments.mute.devices.pump]\ndriver = "ne1000"\nport = "/dev/ttyUSB0"\n'
        "simulator = { fault_rate = 1.0 }\n"
    )
    r = runner.invoke(app, ["devices", "check", "--lab", str(lab), "--json"])
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.exit_code == 1 and report["silent"] == 2
    assert "/dev/ttyNOPE9: no such device" in report["devices"][0]["why"]
    # the same lab in a dry-run: the second pump's simulator always faults
    r = runner.invoke(app, ["devices", "check", "--lab", str(lab), "--dry-run", "--json"])
    report = json.loads(r.stdout.strip().splitlines()[-1])
    by_name = {d["instrument"]: d for d in report["devices"]}
    assert by_name["pump"]["answers"] is True
    assert by_name["mute"]["answers"] is False and by_name["mute"]["why"]
