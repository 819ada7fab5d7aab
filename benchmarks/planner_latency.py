"""Planner latency: seconds per `suggest(4)` of the BoTorch planner at n = 50, 200, 1000
results on a 5-D continuous space, split into model update ("fit") and acquisition.

For each n the planner is fed n random results, then runs asynchronous rounds: ingest the last
batch's 4 results, suggest 4 more. Three regimes:

* cold: the first suggest, hyperparameters fitted from BoTorch's defaults (what a planner
  rebuilt from scratch each time, "BoTorch without warm start", pays every round);
* kept warm (the default): the model is conditioned on the new results with the current
  hyperparameters, which are re-optimised only when the data has grown by 10 %;
* warm refit: hyperparameters re-optimised every round, starting from the previous ones
  (``refit_fraction=0``): the worst case of the default.

    .venv/bin/python benchmarks/planner_latency.py [--rounds 6] [--sizes 50 200 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner import BoTorchPlanner, Continuous, RandomPlanner, Result, SearchSpace
from planner.backtest import optimiser_notes_silenced

D, Q = 5, 4
SPACE = SearchSpace([Continuous(f"x{i}", 0.0, 1.0) for i in range(D)])
CENTRES = np.random.default_rng(0).random((6, D))
WEIGHTS = np.random.default_rng(1).uniform(0.5, 1.0, 6)


def response(params: dict, rng: np.random.Generator) -> float:
    """Six Gaussian bumps of different heights, 5 % noise."""
    u = np.array([params[f"x{i}"] for i in range(D)])
    bumps = WEIGHTS * np.exp(-6.0 * np.sum((u - CENTRES) ** 2, axis=1))
    return float(bumps.sum() + 0.05 * rng.normal())


def rounds(n: int, n_rounds: int, **options: object) -> list[dict[str, float]]:
    """Timings of the first suggest (cold) then `n_rounds` asynchronous rounds."""
    rng = np.random.default_rng(n)
    planner = BoTorchPlanner(SPACE, ["y"], seed=0, **options)  # type: ignore[arg-type]
    start = RandomPlanner(SPACE, ["y"], seed=1).suggest(n)
    planner.ingest([Result(s.params, "COMPLETED", {"y": response(s.params, rng)}) for s in start])
    out = []
    for _ in range(n_rounds + 1):
        t = time.perf_counter()
        batch = planner.suggest(Q)
        total = time.perf_counter() - t
        out.append({**planner.last_timing, "total_s": total})
        planner.ingest(
            [Result(s.params, "COMPLETED", {"y": response(s.params, rng)}) for s in batch]
        )
    return out


def summary(label: str, rows: list[dict[str, float]]) -> str:
    parts = []
    for key in ("fit_s", "acquisition_s", "total_s"):
        v = [r[key] for r in rows]
        parts.append(f"{key[:-2]} {statistics.median(v):6.2f} / {max(v):6.2f}")
    return f"  {label:<22} " + "   ".join(parts) + "   (median / max s)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000])
    a = ap.parse_args()
    with optimiser_notes_silenced():
        report(a.sizes, a.rounds)


def report(sizes: list[int], n_rounds: int) -> None:
    print(f"BoTorch planner, {D}-D continuous, q = {Q}, 1 torch thread; {n_rounds} rounds each")
    for n in sizes:
        kept = rounds(n, n_rounds)
        refit = rounds(n, min(n_rounds, 3), refit_fraction=0.0)[1:]
        cold, warm = kept[0], kept[1:]
        print(f"n = {n}")
        print(summary("cold (first fit)", [cold]))
        print(summary("kept warm (default)", warm))
        print(summary("warm refit each round", refit))
        med = statistics.median(r["total_s"] for r in warm)
        med_refit = statistics.median(r["total_s"] for r in refit)
        print(
            f"  cold / kept warm: {cold['total_s'] / med:.1f}x;  "
            f"cold / warm refit: {cold['total_s'] / med_refit:.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
