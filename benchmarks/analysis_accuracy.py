"""Analysis accuracy: does `ppu analyze` give the truth an isotherm was made from, whatever
basis its file is in, and does a campaign store what `ppu analyze` says?

Prints

* BET area of an N2 77 K isotherm (BET equation, chosen monolayer and C) written in each basis
  a file comes in (mmol/g, mol/kg, cm3(STP)/g, mg/g, mmol per mol and per cm3 of material, a
  bare cm3/g stated as STP), against the true area; and what a bare cm3/g gives unstated;
* CO2 uptake at 0.15 bar on literature-like isotherms (points at 0.1 and 0.2 bar, not 0.15):
  the report's (the fit) and a line between the points, against the truth;
* IAST CO2/N2 15:85 selectivity against an independent IAST of the true models, beside the
  Henry-regime ratio the campaign used to store;
* with `--demo`: a seeded demo dry-run's stored selectivity and CO2 uptake against `ppu
  analyze` on its exported AIF files.

    .venv/bin/python benchmarks/analysis_accuracy.py [--demo]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.analysis.isotherm_files import (  # noqa: E402  (the truth files the tests use)
    N2_G_PER_MOL,
    STP_CM3_PER_MMOL,
    bet_area,
    co2_aif,
    dsl,
    langmuir,
    n2_bet_aif,
)

N_M, C = 10.26, 120.0
MOLAR_MASS, DENSITY = 650.0, 0.95
BASES = [
    ("mmol/g", 1.0, ()),
    ("mol/kg", 1.0, ()),
    ("cm3(STP)/g", STP_CM3_PER_MMOL, ()),
    ("mg/g", N2_G_PER_MOL, ()),
    ("mmol/mol", MOLAR_MASS, ("--material-molar-mass", f"{MOLAR_MASS} g/mol")),
    ("mmol/cm3", DENSITY, ("--material-density", f"{DENSITY} g/cm^3")),
    ("cm3/g", STP_CM3_PER_MMOL, ("--volume-basis", "stp")),
    ("cm3/g", STP_CM3_PER_MMOL, ()),
]
#: CO2 at 298 K, dual-site Langmuir (n1, K1, n2, K2; K in 1/bar), literature scale
MATERIALS = {
    "HKUST-1-like": (12.0, 0.6),
    "Mg-MOF-74-like": (6.0, 60.0, 4.0, 0.5),
    "UiO-66-like": (6.0, 0.4),
    "ZIF-8-like": (8.0, 0.1),
    "a strong site, filled by 0.15 bar": (1.2, 40.0, 6.0, 0.6),
}
N2_298 = (4.0, 0.08)


def analyze(*args: str) -> tuple[int, dict[str, Any]]:
    from typer.testing import CliRunner

    from ppu.cli.main import app

    r = CliRunner().invoke(app, ["analyze", *args, "--json"])
    return r.exit_code, json.loads(r.stdout.strip().splitlines()[-1])


def bet_table(tmp: Path) -> list[str]:
    truth = bet_area(N_M)
    lines = [f"BET area, N2 77 K, truth {truth:.1f} m2/g (n_m {N_M} mmol/g, C {C:g}):"]
    for k, (unit, factor, options) in enumerate(BASES):
        f = n2_bet_aif(tmp / f"bet{k}.aif", N_M, C, per_mmol_g=factor, loading_unit=unit)
        code, r = analyze(str(f), *options)
        stated = " ".join(options) or "as the file says"
        if code:
            lines.append(f"  {unit:<11} {stated:<34} exit {code}: {r['error'].split(': ', 1)[1]}")
            continue
        area = r["materials"][0]["bet_area"]["value"]
        lines.append(
            f"  {unit:<11} {stated:<34} {area:8.1f} m2/g  ({(area / truth - 1) * 100:+.2f} %)"
        )
    return lines


def uptake_table(tmp: Path, seeds: int, noise: float) -> list[str]:
    """Noise-free, then with `noise` (relative, Gaussian) on every point over `seeds` seeds."""
    import random
    import statistics

    from tests.analysis.isotherm_files import CAPTURE_BAR, aif

    lines = [
        "CO2 uptake at 0.15 bar, 298 K (points at 0.1 and 0.2 bar): error % of the report (the",
        f"fit) and of a line between the points; noisy: {noise * 100:g} % 1σ, mean ± sd over "
        f"{seeds} seeds",
    ]
    for k, (name, params) in enumerate(MATERIALS.items()):
        fn = langmuir if len(params) == 2 else dsl
        truth = fn(0.15, *params)
        clean = [(p, fn(p, *params)) for p in CAPTURE_BAR]
        errors: dict[str, list[float]] = {"report": [], "line": []}
        method = ""
        for seed in range(seeds + 1):
            rng = random.Random(seed)
            pts = clean if seed == 0 else [(p, n * (1 + rng.gauss(0, noise))) for p, n in clean]
            sigma = None if seed == 0 else [noise * n for _, n in clean]
            f = aif(tmp / f"u{k}_{seed}.aif", pts, gas="CO2", kelvin=298.15, sigma=sigma)
            _, r = analyze(str(f))
            (at,) = r["materials"][0]["by_temperature"]
            ours = at["co2_uptake_0p15bar"]
            (_, n1), (_, n2) = pts[3], pts[4]  # 0.1 and 0.2 bar
            line = n1 + (n2 - n1) / 2
            if seed == 0:
                method = ours["method"]
                clean_errors = ((ours["value"] / truth - 1) * 100, (line / truth - 1) * 100)
                continue
            errors["report"].append((ours["value"] / truth - 1) * 100)
            errors["line"].append((line / truth - 1) * 100)

        def ms(v: list[float]) -> str:
            return f"{statistics.mean(v):+.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else ""

        lines.append(
            f"  {name:<34} {truth:6.3f} mmol/g ({method}): clean report {clean_errors[0]:+.2f}"
            f", line {clean_errors[1]:+.2f}; noisy report {ms(errors['report'])}, line "
            f"{ms(errors['line'])}"
        )
    return lines


def iast_table(tmp: Path) -> list[str]:
    lines = ["IAST CO2/N2 15:85 at 1 bar, 298 K (N2: Langmuir 4 mmol/g, K 0.08/bar, to 1 bar):"]
    n2 = co2_aif(tmp / "n2.aif", N2_298, gas="N2")
    for k, (name, params) in enumerate(MATERIALS.items()):
        sites = [params[0:2]] if len(params) == 2 else [params[0:2], params[2:4]]
        truth = _iast(sites, [N2_298], 0.15, 1.0)
        fn = langmuir if len(params) == 2 else dsl
        henry = (fn(0.15, *params) / 0.15) / (langmuir(1.0, *N2_298) * 0.85 / 0.85)
        _, r = analyze(str(co2_aif(tmp / f"i{k}.aif", params)), str(n2))
        (at,) = r["materials"][0]["by_temperature"]
        sel = at["selectivity"]
        p_n2 = sel["pure_component_pressures"]["N2"]["value"]
        lines.append(
            f"  {name:<34} truth {truth:7.2f}  report {sel['value']:7.2f} "
            f"({(sel['value'] / truth - 1) * 100:+.2f} %), N2 fit read at {p_n2:.3g} bar "
            f"(flagged: {'N2' in sel['extrapolated']})  Henry ratio {henry:7.2f}"
        )
    return lines


def _iast(sites_1: list, sites_2: list, y1: float, total: float) -> float:
    def spread(sites: list, p: float) -> float:
        return sum(n * math.log1p(k * p) for n, k in sites)

    lo, hi = 1e-12, 1 - 1e-12
    for _ in range(200):
        x1 = (lo + hi) / 2
        diff = spread(sites_1, y1 * total / x1) - spread(sites_2, (1 - y1) * total / (1 - x1))
        lo, hi = (x1, hi) if diff > 0 else (lo, x1)
    x1 = (lo + hi) / 2
    return (x1 / (1 - x1)) / (y1 / (1 - y1))


def demo_table(tmp: Path) -> list[str]:
    import sqlite3

    from typer.testing import CliRunner

    from ppu.cli.main import app

    run = CliRunner()
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        r = run.invoke(app, ["demo", "--budget", "3", "--seed", "3", "--json"])
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        r = run.invoke(app, ["export", summary["campaign_id"], "--out", "aif", "--json"])
        files = json.loads(r.stdout.strip().splitlines()[-1])["files"]
    finally:
        os.chdir(cwd)
    _, report = analyze(*[str(tmp / f) for f in files])
    con = sqlite3.connect(tmp / "ppu.sqlite")
    rows = con.execute(
        "select sample_id, name, value from measurement where name in ('selectivity', 'co2_uptake')"
    ).fetchall()
    stored = {(s, n): v for s, n, v in rows}
    lines = ["demo (seed 3, 3 experiments): stored by the campaign vs ppu analyze on its AIFs:"]
    for m in report["materials"]:
        for at in m.get("by_temperature", []):
            for key, name in (("selectivity", "selectivity"), ("co2_uptake_0p15bar", "co2_uptake")):
                if (m["material"], name) in stored and key in at:
                    a, b = stored[(m["material"], name)], at[key]["value"]
                    lines.append(
                        f"  {m['material']:<14} {name:<12} stored {a:.6g}  analyze {b:.6g}  "
                        f"({(a / b - 1) * 100:+.2e} %)"
                    )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", action="store_true", help="also a seeded demo dry-run (~1 min)")
    ap.add_argument("--seeds", type=int, default=10, help="noisy isotherms per material")
    ap.add_argument("--noise", type=float, default=0.005, help="relative 1σ of the noisy points")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("\n".join(bet_table(tmp)), flush=True)
        print("\n".join(uptake_table(tmp, args.seeds, args.noise)), flush=True)
        print("\n".join(iast_table(tmp)), flush=True)
        if args.demo:
            (tmp / "demo").mkdir()
            print("\n".join(demo_table(tmp / "demo")), flush=True)


if __name__ == "__main__":
    main()
