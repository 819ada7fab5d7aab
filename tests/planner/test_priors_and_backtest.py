"""Prior experiments from a CSV, and backtesting on a pool of past experiments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from planner import BoTorchPlanner, Categorical, Continuous, SearchSpace
from planner.backtest import Pool, load_pool, replay, score
from planner.priors import read_priors

pytestmark = [
    pytest.mark.filterwarnings("ignore:Optimization failed"),
    pytest.mark.filterwarnings("ignore:A not p.d."),
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
]

SPACE = SearchSpace(
    [
        Continuous("temperature", 80, 180, "degC"),
        Continuous("time", 2, 48, "h"),
        Categorical("solvent", ["DMF", "DEF", "EtOH"]),
    ]
)


def write(tmp_path: Path, text: str, name: str = "priors.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --- priors ----------------------------------------------------------------------------------
def test_priors_with_units_in_the_header_are_converted_and_ingested(tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "temperature [K],time [min],solvent,co2_uptake [mol/kg],status,notebook\n"
        "393.15,600,DMF,1.5,COMPLETED,NB-12 p3\n"
        "423.15,1200,EtOH,,FAILED,NB-12 p4\n"
        "373.15,120,DEF,2.0,completed,\n",
    )
    priors = read_priors(csv, SPACE, ["co2_uptake"], units={"co2_uptake": "mmol/g"})
    r = priors.results
    assert [x.status for x in r] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert r[0].params == pytest.approx({"temperature": 120.0, "time": 10.0, "solvent": "DMF"})
    assert r[0].objectives["co2_uptake"] == pytest.approx(1.5)  # mol/kg is mmol/g
    assert r[1].objectives == {}
    assert priors.ignored_columns == ["notebook"]
    p = BoTorchPlanner(SPACE, ["co2_uptake"], 0, n_initial=3)
    p.ingest(r)
    assert p.model_ready() and p.best() == r[2]


def test_priors_with_a_units_row_and_rows_outside_the_space(tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "\ufefftemperature,time,solvent,co2_uptake\n"
        "degF,h,,mmol/g\n"
        "248,10,DMF,1.0\n"
        "500,10,DMF,9.0\n",
    )
    with pytest.raises(ValueError, match=r"priors.csv:4: temperature: 260 degC is outside"):
        read_priors(csv, SPACE, ["co2_uptake"])
    priors = read_priors(csv, SPACE, ["co2_uptake"], outside="skip")
    assert [x.params["temperature"] for x in priors.results] == pytest.approx([120.0])
    assert len(priors.skipped) == 1 and priors.skipped[0].startswith("line 4:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("temperature,time,co2_uptake\n120,10,1\n", r":1: missing column\(s\) solvent"),
        ("temperature,time,solvent,co2_uptake\n120,10,DMF,\n", r":2: co2_uptake is empty"),
        ("temperature,time,solvent,co2_uptake\n120,ten,DMF,1\n", r":2: time: 'ten' is not a n"),
        ("temperature [s],time,solvent,co2_uptake\n1,1,DMF,1\n", r":2: temperature: cannot c"),
        ("temperature,time,solvent,co2_uptake\n120,10,DMF\n", r":2: 3 cells, the header has 4"),
    ],
)
def test_bad_priors_name_the_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_priors(write(tmp_path, text), SPACE, ["co2_uptake"])


# --- backtest --------------------------------------------------------------------------------
def make_pool_csv(tmp_path: Path, n: int = 40, seed: int = 0) -> Path:
    """A smooth 2-input response on n random conditions, the first five measured twice."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2)).round(4)
    y = 1.0 - (x[:, 0] - 0.7) ** 2 - (x[:, 1] - 0.3) ** 2
    lines = ["x1 (%),x2 (%),yield (%)"]
    lines += [f"{a},{b},{v:.5f}" for (a, b), v in zip(x, y, strict=True)]
    lines += [f"{a},{b},{v + 0.01:.5f}" for (a, b), v in zip(x[:5], y[:5], strict=True)]
    return write(tmp_path, "\n".join(lines) + "\n", "pool.csv")


def test_pool_averages_replicates_and_finds_the_top_set(tmp_path: Path) -> None:
    pool = load_pool(make_pool_csv(tmp_path), "yield", maximize=True)
    assert (pool.n, pool.n_rows, pool.n_top()) == (40, 45, 2)  # ⌈0.05·40⌉
    assert pool.space.names == ("x1 (%)", "x2 (%)")
    first = pool.params[0]  # the first row's conditions, measured twice
    raw0 = 1.0 - (first["x1 (%)"] - 0.7) ** 2 - (first["x2 (%)"] - 0.3) ** 2
    assert pool.values[0] == pytest.approx(raw0 + 0.005, abs=1e-4)  # mean of the replicates
    best = sorted(range(pool.n), key=lambda k: -pool.values[k])[:2]
    assert pool.top() == set(best)
    with pytest.raises(ValueError, match="no column 'loss'"):
        load_pool(make_pool_csv(tmp_path), "loss")


def test_scores_follow_the_field_definitions() -> None:
    """Top%, EF against i/N and AF from the seed-averaged curve, on hand-made curves."""
    space = SearchSpace([Continuous("x", 0, 1)])
    pool = Pool(space, [{"x": i / 99} for i in range(100)], np.arange(100.0), "y", True, 100)
    # top set of 5; seed A finds one per experiment from i = 1, seed B from i = 3
    a = np.array([1, 2, 3, 4, 5] + [5] * 15)
    b = np.array([0, 0, 1, 2, 3, 4, 5] + [5] * 13)
    s = score(np.stack([a, b]), pool)
    top = (a + b) / 2 / 5
    assert s["top_pct"][:4] == pytest.approx(top[:4])
    assert s["ef_max"] == pytest.approx(max(top / (np.arange(1, 21) / 100)))
    assert s["i_0_5"] == 4 and s["af_0_5"] == pytest.approx(0.5 * 100 / 4)  # top = 0.5 at i = 4
    assert s["i_0_8"] == 5 and s["af_0_8"] == pytest.approx(0.8 * 100 / 5)


def test_replay_beats_random_on_a_smooth_pool(tmp_path: Path) -> None:
    pool = load_pool(make_pool_csv(tmp_path, n=60), "yield")
    curves = np.stack([replay(pool, seed, budget=30, raw_samples=32) for seed in range(2)])
    assert curves.shape == (2, 30) and (np.diff(curves, axis=1) >= 0).all()
    s = score(curves, pool)
    assert s["ef_max"] > 3 and s["af_0_8"] is not None and s["af_0_8"] > 2, s


def test_ppu_backtest_json(tmp_path: Path) -> None:
    from ppu.cli.main import app

    csv = make_pool_csv(tmp_path, n=30)
    r = CliRunner().invoke(
        app, ["backtest", str(csv), "--objective", "yield", "--seeds", "2", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["n_pool"] == 30 and out["seeds"] == 2 and out["batch"] == 1
    assert out["ef_max"] > 1 and {"af_0_5", "af_0_8"} <= set(out)
    bad = CliRunner().invoke(app, ["backtest", str(csv), "--objective", "nope", "--json"])
    assert bad.exit_code == 2
    assert "no column 'nope'" in json.loads(bad.stdout.strip().splitlines()[-1])["error"]
