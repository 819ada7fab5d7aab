"""ppu's planner beside BayBE's default recommender on the pools of past experiments in
../shared/data/benchmarks: same unique conditions, same seeds, same budget, scored by
`ppu backtest`'s code (EF_max, AF at Top% = 0.5 and 0.8 from the seed-averaged curve).

BayBE runs in its own venv (`benchmarks/peers/setup_baybe.sh` makes it; `--baybe-python`
points elsewhere) through `benchmarks/peers/baybe_replay.py`; ppu runs here, on its defaults
(pool-mode BoTorch, q = 1). Neither side is tuned per pool.

BayBE takes 1-2 minutes per seed on these pools, and its curves depend only on the pool, the
seed and BayBE's version, so they are kept in `benchmarks/peers/.cache/` (one file per pool
and version, one curve per seed) and replayed only for seeds not seen; `--no-cache` ignores it.

    .venv/bin/python benchmarks/planner_vs_peers.py [--seeds 5] [--pools AgNP,P3HT] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.backtest import backtest, load_pool, optimiser_notes_silenced, score  # noqa: E402

DATA = Path("/work/shared/data/benchmarks")
POOLS = {
    "AgNP": ("AgNP_dataset.csv", "loss", False),
    "P3HT": ("P3HT_dataset.csv", "Conductivity (measured) (S/cm)", True),
    "Perovskite": ("Perovskite_dataset.csv", "Instability index", False),
}
BAYBE_PYTHON = ROOT / "benchmarks" / "peers" / ".venv-baybe" / "bin" / "python"
CACHE = ROOT / "benchmarks" / "peers" / ".cache"
REPLAY = ROOT / "benchmarks" / "peers" / "baybe_replay.py"


def baybe_curves(
    pool: Any, seeds: list[int], python: Path, cache: bool = True
) -> tuple[np.ndarray, list[float]]:
    """BayBE's curves for `seeds`, from the cache where it has them (keyed by the job's
    content, the replay script and BayBE's version), replayed otherwise."""
    if not cache:
        return run_baybe(pool, seeds, python)
    version = subprocess.run(
        [str(python), "-c", "import baybe; print(baybe.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    text = json.dumps(_job(pool, []), sort_keys=True) + REPLAY.read_text()
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = CACHE / f"baybe-{version}-{key}.json"
    have: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    missing = [s for s in seeds if str(s) not in have]
    if missing:
        curves, secs = run_baybe(pool, missing, python)
        for s, c, t in zip(missing, curves.tolist(), secs, strict=True):
            have[str(s)] = {"curve": c, "seconds": t}
        CACHE.mkdir(exist_ok=True)
        path.write_text(json.dumps(have))
    return (
        np.array([have[str(s)]["curve"] for s in seeds]),
        [have[str(s)]["seconds"] for s in seeds],
    )


def _job(pool: Any, seeds: list[int]) -> dict[str, Any]:
    return {
        "names": list(pool.space.names),
        "rows": [[p[n] for n in pool.space.names] for p in pool.params],
        "values": [float(v) for v in pool.values],
        "maximize": pool.maximize,
        "top": sorted(pool.top()),
        "seeds": seeds,
        "budget": pool.n,
    }


def run_baybe(pool: Any, seeds: list[int], python: Path) -> tuple[np.ndarray, list[float]]:
    job = _job(pool, seeds)
    p = subprocess.run(
        [str(python), str(REPLAY)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if p.returncode != 0:
        raise SystemExit(f"BayBE replay failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    return np.array(out["curves"]), out["seconds"]


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--pools", default=",".join(POOLS))
    ap.add_argument("--baybe-python", type=Path, default=BAYBE_PYTHON)
    ap.add_argument("--no-cache", action="store_true", help="replay BayBE for every seed")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not a.baybe_python.exists():
        raise SystemExit(
            f"no BayBE venv at {a.baybe_python}: run benchmarks/peers/setup_baybe.sh first"
        )
    seeds = list(range(a.seeds))
    print(f"{a.seeds} seeds, q = 1, full pool budget, stop when the top 5 % is found")
    print(
        f"{'pool':<11} {'N':>4} {'top':>4}  {'planner':<6} {'EF_max':>7} {'AF@0.5':>7} "
        f"{'AF@0.8':>7} {'s/seed':>7}"
    )
    results: dict[str, Any] = {}
    for name in a.pools.split(","):
        file, objective, maximize = POOLS[name]
        pool = load_pool(DATA / file, objective, maximize)
        t0 = time.perf_counter()
        with optimiser_notes_silenced():
            ppu = backtest(pool, seeds=a.seeds)
        ppu_s = (time.perf_counter() - t0) / a.seeds
        curves, secs = baybe_curves(pool, seeds, a.baybe_python, cache=not a.no_cache)
        bay = score(curves, pool)
        row = {}
        for who, r, s in (("ppu", ppu, ppu_s), ("baybe", bay, float(np.mean(secs)))):
            row[who] = {
                "ef_max": r["ef_max"],
                "af_0_5": r["af_0_5"],
                "af_0_8": r["af_0_8"],
                "seconds_per_seed": round(s, 1),
            }
            print(
                f"{name:<11} {pool.n:>4} {pool.n_top():>4}  {who:<6} {r['ef_max']:>7.2f} "
                f"{_f(r['af_0_5']):>7} {_f(r['af_0_8']):>7} {s:>7.1f}",
                flush=True,
            )
        row["ppu_at_least_as_good"] = all(
            (row["ppu"][k] or 0) >= (row["baybe"][k] or 0) - 1e-9 for k in ("ef_max", "af_0_8")
        )
        results[name] = row
    if a.json:
        print(json.dumps({"seeds": a.seeds, "pools": results}))


if __name__ == "__main__":
    main()
