"""BayBE's default recommender replayed on a pool of past experiments, run in BayBE's own
venv (`benchmarks/peers/setup_baybe.sh`); ppu's `planner_vs_peers.py` calls it and scores
its curves exactly as `ppu backtest` scores ppu's.

Input (stdin, JSON): {"names": [...], "rows": [[...], ...], "values": [...],
"maximize": bool, "top": [row indices], "seeds": [...], "budget": int}. The pool is the unique
conditions ppu's `load_pool` made (replicates averaged), so both planners see the same
candidates. Output (stdout, last line JSON): {"curves": [[found after i experiments], ...],
"seconds": [...], "baybe": version}.

The recommender is BayBE's default (TwoPhaseMetaRecommender: one random pick, then a
BotorchRecommender with its GP surrogate and default acquisition) over a discrete search
space built from the pool (`SearchSpace.from_dataframe`), one recommendation at a time.
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def main() -> None:
    import baybe
    import pandas as pd
    from baybe import Campaign
    from baybe.parameters import CategoricalParameter, NumericalDiscreteParameter
    from baybe.searchspace import SearchSpace
    from baybe.targets import NumericalTarget
    from baybe.utils.random import set_random_seed

    job = json.loads(sys.stdin.read())
    names = job["names"]
    df = pd.DataFrame(job["rows"], columns=names)
    for n in names:
        if df[n].dtype == object:
            df[n] = df[n].astype(str)
    values = job["values"]
    top = set(job["top"])
    key = {tuple(r): i for i, r in enumerate(df.itertuples(index=False, name=None))}
    parameters = [
        CategoricalParameter(n, sorted(set(df[n])))
        if df[n].dtype == object
        else NumericalDiscreteParameter(n, sorted(set(df[n].astype(float))))
        for n in names
    ]
    curves, seconds = [], []
    for seed in job["seeds"]:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            set_random_seed(seed)
        target = NumericalTarget("y", minimize=not job["maximize"])
        campaign = Campaign(SearchSpace.from_dataframe(df, parameters), target.to_objective())
        found, hits = [], 0
        while len(found) < job["budget"] and hits < len(top):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rec = campaign.recommend(batch_size=1)
            row = tuple(rec[names].iloc[0].tolist())
            i = key.get(row)
            if i is None:  # numeric columns come back as floats: match on the pool's values
                i = _nearest(df, names, row)
            hits += i in top
            found.append(hits)
            rec = rec.copy()
            rec["y"] = values[i]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                campaign.add_measurements(rec)
        found += [hits] * (job["budget"] - len(found))
        curves.append(found)
        seconds.append(round(time.perf_counter() - t0, 2))
        print(
            f"seed {seed}: {len([f for f in found if f < len(top)]) + 1} picks, {seconds[-1]} s",
            file=sys.stderr,
            flush=True,
        )
    print(json.dumps({"curves": curves, "seconds": seconds, "baybe": baybe.__version__}))


def _nearest(df, names, row) -> int:
    import numpy as np

    num = [n for n in names if df[n].dtype != object]
    mask = np.ones(len(df), dtype=bool)
    for n, v in zip(names, row, strict=True):
        if n not in num:
            mask &= (df[n] == v).to_numpy()
    d = np.zeros(len(df))
    for n, v in zip(names, row, strict=True):
        if n in num:
            d += (df[n].astype(float).to_numpy() - float(v)) ** 2
    d[~mask] = np.inf
    return int(np.argmin(d))


if __name__ == "__main__":
    main()
