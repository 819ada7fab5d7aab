"""`ppu backtest`: replay the planner on past experiments and score it as the field does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("backtest")
    def backtest_cmd(
        data: Annotated[Path, typer.Argument(help="CSV of past experiments (one row each).")],
        objective: Annotated[
            str, typer.Option("--objective", help="Column to optimise (name or unique prefix).")
        ],
        minimize: Annotated[
            bool, typer.Option("--minimize", help="Smaller is better (default: larger is better).")
        ] = False,
        seeds: Annotated[
            int, typer.Option("--seeds", help="Campaigns replayed (seeds 0..N-1).")
        ] = 20,
        budget: Annotated[
            int | None,
            typer.Option("--budget", help="Experiments per campaign (default: the whole pool)."),
        ] = None,
        batch: Annotated[int, typer.Option("--batch", help="Suggestions per round (q).")] = 1,
        as_json: Annotated[
            bool, typer.Option("--json", help="Last line of stdout: one JSON object.")
        ] = False,
    ) -> None:
        """Pool-based replay on past experiments (replicates averaged): Top%, EF and AF.

        Each campaign starts from 1 random pool point, then BoTorch (qLogEI) picks q at a
        time from the untried pool. Top%(i): share of the top 5 % found in i experiments;
        EF(i) = Top%(i) / (i/N); AF(t): experiments random needs (t·N) over the planner's to
        reach Top% = t, from the seed-averaged curve (Liang 2021, Rohr 2020).
        """
        from ppu.cli.app import emit_json, err, guard, out

        def body() -> int:
            from ppu.core.errors import BadInput

            for name, v, lo in (
                ("--seeds", seeds, 1),
                ("--batch", batch, 1),
                ("--budget", budget, 1),
            ):
                if v is not None and v < lo:
                    raise BadInput(name, f"must be at least {lo}, got {v}")
            if not data.is_file():
                raise BadInput(str(data), "no such file")
            from planner.backtest import backtest, load_pool, optimiser_notes_silenced

            try:
                pool = load_pool(data, objective, maximize=not minimize)
            except ValueError as e:
                raise BadInput(str(data), str(e).removeprefix(f"{data}: ")) from None
            if pool.n < 3:
                raise BadInput(str(data), f"only {pool.n} distinct conditions: nothing to replay")
            sense = "minimise" if minimize else "maximise"
            err.print(
                f"{pool.n} distinct conditions ({pool.n_rows} rows), {len(pool.space)} inputs; "
                f"{sense} {pool.objective!r}; top set: {pool.n_top()}; "
                f"{seeds} seeds, q = {batch}",
                highlight=False,
            )

            def on_seed(s: int, curve, dt: float) -> None:  # type: ignore[no-untyped-def]
                n_top = pool.n_top()
                done = int((curve < n_top).sum()) + 1 if curve[-1] >= n_top else None
                all_found = f"all top found after {done}" if done else "top not all found"
                err.print(f"  seed {s}: {all_found} ({dt:.1f} s)", highlight=False)

            with optimiser_notes_silenced():
                r = backtest(pool, seeds=seeds, budget=budget, batch=batch, on_seed=on_seed)
            summary = {"data": str(data), "objective": pool.objective, "minimize": minimize, **r}
            if as_json:
                emit_json(summary)
            else:
                out.print(f"pool: {r['n_pool']} conditions, top set {r['n_top']}, {seeds} seeds")
                out.print(f"EF max: {r['ef_max']:.2f} (at i = {r['ef_max_at']})")
                for t in ("0_5", "0_8"):
                    af, i = r[f"af_{t}"], r[f"i_{t}"]
                    label = t.replace("_", ".")
                    out.print(
                        f"AF@{label}: {af:.2f} (i = {i})"
                        if af is not None
                        else f"AF@{label}: not reached within the budget"
                    )
                out.print(f"{r['seconds']:.0f} s")
            return 0

        guard(as_json, body)
