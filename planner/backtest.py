"""Backtesting on past data: replay a campaign on a pool of measured experiments and score
it as the field does (Liang et al., npj Comput. Mater. 2021; Rohr et al., Chem. Sci. 2020).

The pool is a CSV of past experiments; replicate rows (same conditions) are averaged, so each
unique condition is one candidate with one value. A replay is pool-mode BoTorch: the planner
picks from the untried pool points only and "measures" the pool's value. Scores, from the
seed-averaged curve:

* Top%(i): fraction of the top ⌈0.05·N⌉ conditions found within the first i experiments;
* EF(i) = Top%(i) / (i/N), random picking being expected to find i/N of them;
* AF(t) = (t·N) / i_planner(t): how many times fewer experiments the planner needs than
  random to find a fraction t of the top set (t = 0.5, 0.8).

No per-data-set tuning: the planner runs on its defaults, one random start, q per batch.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.base import Objective, Result
from planner.priors import _is_number, read_table
from planner.space import Categorical, Continuous, SearchSpace

TOP_FRACTION = 0.05


@contextmanager
def optimiser_notes_silenced() -> Iterator[None]:
    """For scripts and commands: hide BoTorch's optimiser notes (a line search ending
    ABNORMAL, ...). BoTorch forces them to "always" inside its own `catch_warnings`, so
    filters alone do not hide them; swapping `showwarning` does, until the block ends."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shown = warnings.showwarning

        def show(message, category, *args, **kwargs):  # type: ignore[no-untyped-def]
            if category.__name__ != "OptimizationWarning":
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


@dataclass
class Pool:
    """Unique conditions (replicates averaged) with their objective values."""

    space: SearchSpace
    params: list[dict[str, Any]]
    values: np.ndarray
    objective: str
    maximize: bool
    n_rows: int  # rows in the file, replicates included

    @property
    def n(self) -> int:
        return len(self.params)

    def n_top(self) -> int:
        return math.ceil(TOP_FRACTION * self.n)

    def top(self) -> set[int]:
        """Indices of the top ⌈5 %⌉ (ties broken by order in the file)."""
        signed = self.values if self.maximize else -self.values
        order = np.argsort(-signed, kind="stable")
        return {int(i) for i in order[: self.n_top()]}


def find_column(names: Sequence[str], wanted: str) -> str:
    """A column by exact name, else by a unique case-insensitive match, else by a unique
    case-insensitive prefix (so `--objective conductivity` finds 'Conductivity (S/cm)')."""
    if wanted in names:
        return wanted
    low = wanted.strip().lower()
    for test in (lambda n: n.lower() == low, lambda n: n.lower().startswith(low)):
        hits = [n for n in names if test(n)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ValueError(f"objective {wanted!r} matches several columns: {hits}")
    raise ValueError(f"no column {wanted!r}; the columns are {list(names)}")


def load_pool(path: str | Path, objective: str, maximize: bool = True) -> Pool:
    """Read a pool: every other column is an input (numeric → continuous over the pool's
    range; text → categorical; a constant column is dropped)."""
    table = read_table(path)
    names = [c.name for c in table.columns]
    obj = find_column(names, objective)
    k = names.index(obj)
    inputs = [i for i in range(len(names)) if i != k]
    if not inputs:
        raise ValueError(f"{table.path}: no input columns besides {obj!r}")
    if not table.rows:
        raise ValueError(f"{table.path}: no rows")
    groups: dict[tuple[str, ...], list[float]] = {}
    for line, row in table.rows:
        if not _is_number(row[k]) or not math.isfinite(float(row[k])):
            raise ValueError(f"{table.path}:{line}: {obj}: {row[k]!r} is not a number")
        key = tuple(row[i] for i in inputs)
        groups.setdefault(key, []).append(float(row[k]))
    keys = list(groups)
    params_def: list[Continuous | Categorical] = []
    cols: list[int] = []  # positions within `key`
    for j, i in enumerate(inputs):
        cells = [key[j] for key in keys]
        if all(_is_number(c) for c in cells):
            vals = [float(c) for c in cells]
            if min(vals) < max(vals):
                params_def.append(Continuous(names[i], min(vals), max(vals), table.columns[i].unit))
                cols.append(j)
        else:
            choices = tuple(dict.fromkeys(cells))
            if len(choices) > 1:
                params_def.append(Categorical(names[i], choices))
                cols.append(j)
    space = SearchSpace(params_def)
    merged: dict[tuple[Any, ...], list[float]] = {}
    for key in keys:
        p = tuple(
            float(key[j]) if isinstance(prm, Continuous) else key[j]
            for prm, j in zip(params_def, cols, strict=True)
        )
        merged.setdefault(p, []).extend(groups[key])  # conditions equal after dropping columns
    params = [dict(zip(space.names, p, strict=True)) for p in merged]
    values = np.array([float(np.mean(v)) for v in merged.values()])
    return Pool(space, params, values, obj, maximize, len(table.rows))


def replay(
    pool: Pool,
    seed: int,
    budget: int | None = None,
    batch: int = 1,
    engine: str = "botorch",
    n_initial: int = 1,
    **options: Any,
) -> np.ndarray:
    """One campaign on the pool: cumulative count of top conditions found after each
    experiment (length `budget`, default N). Stops early once the whole top set is found."""
    from planner import make_planner

    budget = pool.n if budget is None else min(budget, pool.n)
    top = pool.top()
    index = {tuple(p[n] for n in pool.space.names): i for i, p in enumerate(pool.params)}
    objective = [Objective(pool.objective, pool.maximize)]
    if engine == "botorch":
        options = {"pool": pool.params, "n_initial": n_initial, **options}
    planner = make_planner(engine, pool.space, objective, seed, **options)
    found = np.zeros(budget, dtype=int)
    n_done = hits = 0
    while n_done < budget and hits < len(top):
        batch_s = planner.suggest(min(batch, budget - n_done))
        if not batch_s:
            break
        results = []
        for s in batch_s:
            i = index[tuple(s.params[n] for n in pool.space.names)]
            hits += i in top
            found[n_done] = hits
            n_done += 1
            results.append(Result(s.params, "COMPLETED", {pool.objective: float(pool.values[i])}))
        planner.ingest(results)
    found[n_done:] = hits
    return found


def score(curves: np.ndarray, pool: Pool) -> dict[str, Any]:
    """Field scores from per-seed curves (seeds x budget of top conditions found)."""
    n, n_top = pool.n, pool.n_top()
    top_pct = curves.mean(axis=0) / n_top  # seed-averaged Top%(i), i = 1..budget
    i = np.arange(1, len(top_pct) + 1)
    ef = top_pct / (i / n)
    out: dict[str, Any] = {
        "n_pool": n,
        "n_rows": pool.n_rows,
        "n_top": n_top,
        "seeds": int(curves.shape[0]),
        "budget": int(curves.shape[1]),
        "ef_max": float(ef.max()),
        "ef_max_at": int(i[int(ef.argmax())]),
    }
    for t in (0.5, 0.8):
        reached = np.flatnonzero(top_pct >= t - 1e-12)
        key = f"{t:.1f}".replace(".", "_")
        if len(reached):
            i_t = int(reached[0]) + 1
            out[f"i_{key}"] = i_t
            out[f"af_{key}"] = float(t * n / i_t)
        else:
            out[f"i_{key}"] = None
            out[f"af_{key}"] = None
    out["top_pct"] = [round(float(v), 4) for v in top_pct]
    return out


def backtest(
    pool: Pool,
    seeds: int = 20,
    budget: int | None = None,
    batch: int = 1,
    engine: str = "botorch",
    on_seed: Callable[[int, np.ndarray, float], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Replay `seeds` campaigns (seeds 0..seeds-1) and score them."""
    curves = []
    t0 = time.perf_counter()
    for s in range(seeds):
        t = time.perf_counter()
        curves.append(replay(pool, s, budget, batch, engine, **options))
        if on_seed is not None:
            on_seed(s, curves[-1], time.perf_counter() - t)
    out = score(np.stack(curves), pool)
    out.update({"batch": batch, "engine": engine, "seconds": round(time.perf_counter() - t0, 1)})
    return out
