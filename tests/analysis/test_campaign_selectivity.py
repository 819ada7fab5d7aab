"""A campaign stores what `ppu analyze` says: the demo's dry-run, its isotherms exported as AIF
files, analysed again from the files, give the selectivity and uptake the campaign stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.analysis.cli import last_json, ppu
from tests.conftest import store_rows


def test_the_campaigns_stored_selectivity_is_what_ppu_analyze_says_of_its_aif_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = ppu("demo", "--budget", "2", "--seed", "3", "--json")
    assert code == 0, err
    summary = last_json(out)
    assert summary["completed"] >= 1
    db = f"sqlite:///{tmp_path / 'ppu.sqlite'}"
    rows = store_rows(
        db,
        "select sample_id, name, value, provenance from measurement "
        "where name in ('selectivity', 'co2_uptake')",
    )
    stored = {
        (sample, name): {"value": value, "provenance": json.loads(provenance)}
        for sample, name, value, provenance in rows
    }
    samples = sorted({sample for sample, _ in stored})
    assert samples, "no experiment got as far as its analysis"
    code, out, err = ppu(
        "export", summary["campaign_id"], "--out", str(tmp_path / "aif"), "--db", db, "--json"
    )
    assert code == 0, err
    files = last_json(out)["files"]
    code, out, err = ppu("analyze", *files, "--json")
    assert code == 0, err
    report = last_json(out)
    by_material = {m["material"]: m for m in report["materials"]}
    methods = set()
    for sample in samples:
        (at,) = by_material[sample]["by_temperature"]
        ours = at["selectivity"]
        theirs = stored[(sample, "selectivity")]
        assert theirs["value"] == pytest.approx(ours["value"], rel=0.005), sample
        assert theirs["provenance"]["method"] == ours["method"]
        methods.add(ours["method"].split(":")[0])
        assert stored[(sample, "co2_uptake")]["value"] == pytest.approx(
            at["co2_uptake_0p15bar"]["value"], rel=0.005
        )
    assert any(m.startswith("IAST") for m in methods), methods
