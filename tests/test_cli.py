"""The `ppu` command as a user types it: outputs, exit codes, one-line errors, --json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppu.cli.main import app
from tests.conftest import BENCH_LAB

runner = CliRunner()


def ppu(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_launch_dry_run_prints_outputs_and_stores_everything(tmp_path: Path) -> None:
    db = tmp_path / "ppu.sqlite"
    code, out, _ = ppu(
        "launch",
        "dispense",
        "--lab",
        str(BENCH_LAB),
        "--dry-run",
        "--db",
        str(db),
        "volume=7.5 mL",
        "rate=3 mL/min",
        "--json",
    )
    assert code == 0, out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "done"
    assert result["outputs"]["dispensed"] == {"value": 7.5, "unit": "mL"}
    assert result["virtual_duration_s"] == 150.0
    code, out, _ = ppu("status", "--db", str(db), "--json")
    status = json.loads(out.strip().splitlines()[-1])
    assert status["launches"]["by_state"] == {"done": 1}
    assert status["samples"] == 1 and status["measurements"] == 1
    assert status["documents"] >= 4  # start, descriptor, event, stop
    assert status["latest_measurements"][0]["unit"] == "mL"


def test_bytes_cross_a_socket_during_a_dry_run_launch(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    code, out, _ = ppu(
        "launch",
        "dispense",
        "--lab",
        str(BENCH_LAB),
        "--dry-run",
        "--db",
        str(tmp_path / "t.sqlite"),
        "--trace",
        str(traces),
        "volume=1 mL",
        "rate=2 mL/min",
    )
    assert code == 0, out
    trace = (traces / "metal_feed.pump.trace").read_text()
    header = trace.splitlines()[0]
    assert re.match(r"# sim://127\.0\.0\.1:\d+", header), header
    sent = [line for line in trace.splitlines() if " >> " in line]
    got = [line for line in trace.splitlines() if " << " in line]
    assert any("|00RAT 2.000 MM.|" in line for line in sent), sent[:5]
    assert any("|.00S.|" in line for line in got)  # STX 00 S ETX: stopped, accepted
    assert any("|.00SI1.000W0.000ML.|" in line for line in got)  # DIS after the dispense


BAD_LAB_TOML = "name = 'x'\n[instruments.a\nroles = []\n"
UNKNOWN_DRIVER = """
[instruments.p]
roles = ["pump"]
[instruments.p.devices.pump]
driver = "ne9999"
port = "/dev/ttyUSB0"
"""
BAD_LIMIT = """
[instruments.p]
roles = ["pump"]
[instruments.p.devices.pump]
driver = "ne1000"
port = "/dev/ttyUSB0"
limits = { max_rate = "20 furlong" }
"""


@pytest.mark.parametrize(
    ("args", "lab_text", "expected"),
    [
        (["volume=5 blorp"], None, r"kernel dispense: volume: '5 blorp' has an unknown unit"),
        (["volume=5 degC"], None, r"kernel dispense: volume: '5 degC' is not a volume"),
        (
            ["volume=80 mL"],
            None,
            r"kernel dispense: volume: 80 mL is out of bounds \(allowed "
            r"0\.05 mL … 50 mL\)",
        ),
        (["speed=3"], None, r"kernel dispense: unknown input 'speed'"),
        (["volume"], None, r"launch dispense: argument 'volume' is not name=value"),
        (
            ["--instrument", "oven"],
            None,
            r"launch dispense: --instrument: unknown instrument "
            r"'oven'",
        ),
        ([], BAD_LAB_TOML, r"lab\.toml: malformed TOML"),
        (
            [],
            UNKNOWN_DRIVER,
            r"lab\.toml: instruments\.p\.devices\.pump\.driver: unknown driver "
            r"model 'ne9999'",
        ),
        (
            [],
            BAD_LIMIT,
            r"lab\.toml: instruments\.p\.devices\.pump\.limits\.max_rate: '20 "
            r"furlong' is not a volumetric flow",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(
    tmp_path: Path, args: list[str], lab_text: str | None, expected: str
) -> None:
    lab = BENCH_LAB
    if lab_text is not None:
        lab = tmp_path / "lab.toml"
        lab.write_text(lab_text)
    db = tmp_path / "ppu.sqlite"
    code, _out, err = ppu(
        "launch", "dispense", "--lab", str(lab), "--dry-run", "--db", str(db), *args
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.search(expected, lines[0]), lines[0]
    assert not db.exists()


def test_unknown_kernel_and_missing_lab(tmp_path: Path) -> None:
    code, _, err = ppu("launch", "calcine", "--lab", str(BENCH_LAB), "--db", str(tmp_path / "x"))
    assert code == 2 and "launch calcine: unknown kernel" in err
    code, _, err = ppu(
        "launch", "dispense", "--lab", str(tmp_path / "nope.toml"), "--db", str(tmp_path / "x")
    )
    assert code == 2 and "nope.toml: no such file" in err
    assert not (tmp_path / "x").exists()


def test_kernels_json_lists_inputs_with_units_and_bounds() -> None:
    code, out, _ = ppu("kernels", "--json")
    assert code == 0
    ks = {k["name"]: k for k in json.loads(out.strip().splitlines()[-1])["kernels"]}
    vol = ks["dispense"]["inputs"]["volume"]
    assert (vol["unit"], vol["min"], vol["max"]) == ("mL", 0.05, 50.0)
    assert ks["dispense"]["role"] == "pump" and ks["dispense"]["rerun_safe"] is False


def test_a_failed_launch_exits_1_and_is_journaled(tmp_path: Path) -> None:
    lab = tmp_path / "lab.toml"
    lab.write_text(BENCH_LAB.read_text().replace("syringe_ml = 60 } }", "syringe_ml = 2 } }", 1))
    db = tmp_path / "f.sqlite"
    code, out, _err = ppu(
        "launch",
        "dispense",
        "--lab",
        str(lab),
        "--dry-run",
        "--db",
        str(db),
        "volume=5 mL",
        "--json",
        "--instrument",
        "metal_feed",
    )
    assert code == 1
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "failed" and "stalled" in result["error"]


def test_help_is_quick_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, ppu.cli.main; heavy = [m for m in ('torch', 'botorch', 'pygaps', 'bluesky') "
        "if m in sys.modules]; print(heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
