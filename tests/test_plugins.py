"""A lab's own kernels and instrument models, from outside the package: a module beside the
lab file, or an installed distribution's `ppu.plugins` entry point; ppu's own the same way."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ppu.core.catalog import InstrumentModel
from ppu.core.errors import BadInput
from ppu.core.kernels import In, kernel
from ppu.lab.plugins import PluginSource, Registry, installed
from tests.conftest import ROOT

PPU = str(Path(sys.executable).with_name("ppu"))
PLUGIN_LAB = ROOT / "tests" / "plugin_lab"


def _ppu(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PPU, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def _last_json(p: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    """The plugin lab copied somewhere the package knows nothing of."""
    d = tmp_path / "acme"
    shutil.copytree(PLUGIN_LAB, d)
    return d


def test_ppu_registers_its_own_kernels_models_rigs_and_planners_through_entry_points() -> None:
    reg = installed()
    assert {"synthesize", "measure_isotherm", "dispense"} <= set(reg.kernels)
    assert {"ne1000", "alicat", "mks-9xx"} <= set(reg.instruments)
    assert {"sorption", "gas-cell", "thermal-mass"} <= set(reg.rigs)
    assert {"botorch", "sobol", "random"} <= set(reg.planners)
    src = reg.where("kernel", "synthesize")
    assert src is not None and src.found_by == "entry point" and src.distribution == "ppu"


def test_a_plugin_beside_the_lab_file_lists_and_launches_with_only_plugins_added(
    bench: Path,
) -> None:
    p = _ppu("kernels", "--lab", "lab.toml", "--json", cwd=bench)
    assert p.returncode == 0, p.stderr
    ks = {k["name"]: k for k in _last_json(p)["kernels"]}
    assert ks["bake"]["plugin"] == "hotplate" and ks["bake"]["role"] == "hotplate"
    assert ks["bake"]["outputs"] == {"reached": "degC", "dose": "K*min"}
    assert "synthesize" in ks  # the installed ones are still there

    p = _ppu(
        "launch", "bake", "--lab", "lab.toml", "--dry-run", "--db", "x.sqlite", "--json",
        "temperature=80 degC", "time=10 min",
        cwd=bench,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = _last_json(p)
    assert out["state"] == "done"
    assert abs(out["outputs"]["reached"]["value"] - 80) < 1.0
    assert out["outputs"]["reached"]["unit"] == "degC"

    p = _ppu("plugins", "--lab", "lab.toml", "--json", cwd=bench)
    mine = next(x for x in _last_json(p)["plugins"] if x["module"] == "hotplate")
    assert mine["found_by"] == "lab file" and mine["file"] == str(bench / "hotplate.py")
    assert mine["kernels"] == ["bake"] and mine["instrument_models"] == ["acme-hotplate"]


def test_a_plugin_campaign_resumes_after_sigkill_with_nothing_repeated(bench: Path) -> None:
    db = bench / "c.sqlite"
    p = _ppu(
        "run", "campaign.toml", "--lab", "lab.toml", "--dry-run", "--db", str(db),
        cwd=bench,
        env={"PPU_CRASH_AT_EXCHANGE": "60"},
    )  # fmt: skip
    assert p.returncode == -9, p.stderr[-800:]
    with sqlite3.connect(db) as c:
        cid, config = c.execute("select id, config from campaign").fetchone()
    stored = json.loads(config)["plugins"]
    mine = next(x for x in stored if x["module"] == "hotplate")
    assert mine["file"] == str(bench / "hotplate.py") and len(mine["sha256"]) == 64

    # the plugin gone: resume says which, and touches nothing
    (bench / "hotplate.py").rename(bench / "hotplate.bak")
    p = _ppu("resume", cid, "--db", str(db), "--json", cwd=bench.parent)
    assert p.returncode == 2, p.stderr
    assert "hotplate" in _last_json(p)["error"]
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    (bench / "hotplate.bak").rename(bench / "hotplate.py")

    # from another folder, with neither --lab nor --plugins: everything came from the store
    p = _ppu("resume", cid, "--db", str(db), "--json", cwd=bench.parent)
    assert p.returncode == 0, p.stderr[-800:]
    out = _last_json(p)
    assert out["experiments"] == 4 and out["completed"] == 4
    with sqlite3.connect(db) as c:
        (state,) = c.execute("select state from campaign").fetchone()
        done = c.execute("select count(*) from launch where state = 'done'").fetchone()[0]
    assert state == "done" and done >= 4


def _distribution(site: Path, name: str, module_text: str) -> None:
    """What `pip install` leaves behind, written by hand: a module and its dist-info."""
    (site / f"{name}.py").write_text(module_text)
    info = site / f"{name}-1.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text(f"[ppu.plugins]\n{name} = {name}\n")


def test_an_installed_distribution_is_found_by_its_entry_point(bench: Path, tmp_path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _distribution(site, "acme_bench", (bench / "hotplate.py").read_text())
    lab = (bench / "lab.toml").read_text().replace('plugins = ["hotplate"]\n', "")
    (bench / "hotplate.py").unlink()
    (bench / "lab.toml").write_text(lab)
    env = {"PYTHONPATH": str(site)}

    p = _ppu("plugins", "--json", cwd=bench, env=env)
    assert p.returncode == 0, p.stderr
    acme = next(x for x in _last_json(p)["plugins"] if x["module"] == "acme_bench")
    assert acme["found_by"] == "entry point" and acme["distribution"] == "acme_bench"
    assert acme["version"] == "1.2" and acme["kernels"] == ["bake"]

    p = _ppu(
        "launch", "bake", "--lab", "lab.toml", "--dry-run", "--db", "x.sqlite", "--json",
        "temperature=50 degC", "time=2 min",
        cwd=bench, env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert _last_json(p)["state"] == "done"

    # without the distribution the lab's driver model is unknown: one line, exit 2
    p = _ppu("launch", "bake", "--lab", "lab.toml", "--dry-run", "--json", cwd=bench)
    assert p.returncode == 2
    assert (
        "instruments.bench.devices.plate.driver: unknown driver model 'acme-hotplate'"
        in (_last_json(p)["error"])
    )


def _bad_plugin(bench: Path, text: str) -> subprocess.CompletedProcess[str]:
    (bench / "hotplate.py").write_text(text)
    return _ppu("kernels", "--lab", "lab.toml", "--json", cwd=bench)


def test_a_plugin_that_clashes_with_an_installed_one_names_both(bench: Path) -> None:
    p = _bad_plugin(
        bench,
        "from ppu import In, kernel\n\n"
        "@kernel(role='pump', outputs={'dispensed': 'mL'})\n"
        "def dispense(instrument, ctx, volume=In('mL')):\n"
        "    yield from []\n",
    )
    assert p.returncode == 2
    error = _last_json(p)["error"]
    assert "kernel 'dispense' is defined both by protocols.dosing" in error
    assert str(bench / "hotplate.py") in error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("def broken(:\n", "plugin hotplate: cannot import: SyntaxError"),
        ("import numpy\nimport no_such_thing\n", "No module named 'no_such_thing' (hotplate.py"),
        (
            "x = 1\nraise RuntimeError('bad config')\n",
            "RuntimeError: bad config (hotplate.py line 2)",
        ),
    ],
)
def test_a_plugin_that_fails_to_import_is_one_line_naming_it(bench, text, expected) -> None:
    p = _bad_plugin(bench, text)
    assert p.returncode == 2
    assert expected in _last_json(p)["error"], p.stdout
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_a_plugin_module_that_is_nowhere_is_named_with_the_places_looked(bench: Path) -> None:
    lab = (bench / "lab.toml").read_text().replace('["hotplate"]', '["hotplate", "nothere"]')
    (bench / "lab.toml").write_text(lab)
    p = _ppu("kernels", "--lab", "lab.toml", "--json", cwd=bench)
    assert p.returncode == 2
    assert _last_json(p)["error"].startswith(
        "lab.toml: plugins[1]: no module 'nothere' beside the lab file"
    )


# -- the registry itself ---------------------------------------------------------------


@kernel(role="r", outputs={"x": "mL"})
def _probe(instrument, ctx, v=In("mL", default="1 mL")):
    yield from []
    return {"x": v}


def _module(name: str, **values: object) -> types.ModuleType:
    m = types.ModuleType(name)
    vars(m).update(values)
    return m


def test_the_same_object_seen_twice_is_one_entry_and_two_of_one_name_clash() -> None:
    reg = Registry()
    model = InstrumentModel("m1", "a:A", "b:B", "c:C")
    reg.add_module(_module("first", probe=_probe, model=model), PluginSource("first", "lab file"))
    reg.add_module(_module("again", reexported=_probe), PluginSource("again", "lab file"))
    assert reg.where("kernel", "_probe") == PluginSource("first", "lab file")
    other = InstrumentModel("m1", "x:X", "y:Y", "z:Z")
    with pytest.raises(BadInput, match="instrument model 'm1' is defined both by first"):
        reg.add_module(_module("third", other=other), PluginSource("third", "lab file"))
