"""`ppu run` and `ppu demo`: a campaign to its end, with progress, and its summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

import protocols
from ppu.cli.app import (
    DbOption,
    JsonOption,
    app,
    emit_json,
    err,
    guard,
    out,
    store_url,
)
from ppu.core.errors import BadInput

#: the demo's lab and campaign files, shipped inside the protocols package
DEMO_DIR = Path(protocols.__file__).resolve().parent / "demo"
ServeOption = Annotated[
    bool, typer.Option("--serve", help="Serve the dashboard on 127.0.0.1 while it runs.")
]
PortOption = Annotated[int, typer.Option("--port", help="Dashboard port (with --serve).")]
KeepServingOption = Annotated[
    bool,
    typer.Option(
        "--keep-serving/--exit-when-done",
        help="With --serve: the dashboard stays up after the campaign ends, showing how it "
        "ended, until Ctrl-C (or SIGTERM); or stop it with the campaign.",
    ),
]
PaceOption = Annotated[
    float | None,
    typer.Option("--pace", help="Dry-run: lab seconds per real second, so a person can watch."),
]
OperatorDelayOption = Annotated[
    str, typer.Option("--operator-delay", help="Dry-run: how long the simulated operator takes.")
]


@app.command("run")
def run_cmd(
    campaign: Annotated[Path, typer.Argument(help="Campaign file (TOML).")],
    lab: Annotated[Path, typer.Option("--lab", help="Lab file (TOML).")] = Path("lab.toml"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Simulated lab on a virtual clock.")
    ] = False,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Override the campaign's seed.")
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Override the number of experiments.")
    ] = None,
    db: DbOption = None,
    serve: ServeOption = False,
    port: PortOption = 8765,
    keep_serving: KeepServingOption = True,
    pace: PaceOption = None,
    operator_delay: OperatorDelayOption = "60 s",
    as_json: JsonOption = False,
) -> None:
    """Run a closed-loop campaign: the planner proposes, the lab measures, results flow back."""
    guard(
        as_json,
        lambda: _run_campaign(
            campaign,
            lab,
            dry_run,
            seed,
            budget,
            db,
            as_json,
            serve=serve,
            port=port,
            pace=pace,
            operator_delay=operator_delay,
            keep_serving=keep_serving,
        ),
    )


@app.command("demo")
def demo_cmd(
    seed: Annotated[
        int | None, typer.Option("--seed", help="Override the campaign's seed.")
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Number of experiments [default: the file's].")
    ] = None,
    db: DbOption = None,
    serve: ServeOption = False,
    port: PortOption = 8765,
    keep_serving: KeepServingOption = True,
    pace: PaceOption = None,
    operator_delay: OperatorDelayOption = "60 s",
    twin: Annotated[
        bool,
        typer.Option(
            "--twin",
            help="The campaign with its digital twin beside the lab (campaign_twin.toml): "
            "a computed estimate screens candidates, the lab measures the planner's choice.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Exactly `ppu run protocols/demo/campaign.toml --lab protocols/demo/lab.toml --dry-run`
    (`--twin`: `campaign_twin.toml`)."""
    guard(
        as_json,
        lambda: _run_campaign(
            DEMO_DIR / ("campaign_twin.toml" if twin else "campaign.toml"),
            DEMO_DIR / "lab.toml",
            True,
            seed,
            budget,
            db,
            as_json,
            serve=serve,
            port=port,
            pace=pace,
            operator_delay=operator_delay,
            keep_serving=keep_serving,
        ),
    )


def _run_campaign(
    campaign,
    lab,
    dry_run,
    seed,
    budget,
    db,
    as_json,
    *,
    serve=False,
    port=8765,
    pace=None,
    operator_delay="60 s",
    keep_serving=True,
) -> int:
    import dataclasses

    from ppu.core.units import UnitError, parse_quantity

    if pace is not None and (not dry_run or pace <= 0):
        raise BadInput("--pace", "needs --dry-run and a positive number of lab seconds per second")
    try:
        delay_s = parse_quantity(operator_delay, "s").m_as("s")
    except UnitError as e:
        raise BadInput("--operator-delay", str(e)) from None

    from ppu.campaign.loop import load_campaign
    from ppu.lab.spec import load_lab

    spec_lab = load_lab(lab)
    spec = load_campaign(campaign, spec_lab)
    if seed is not None:
        spec = dataclasses.replace(spec, seed=seed)
    if budget is not None:
        if budget < 1:
            raise BadInput("--budget", f"{budget} is not a positive number of experiments")
        spec = dataclasses.replace(spec, max_experiments=budget)
    from ppu.store import Store

    return _drive_campaign(
        spec,
        spec_lab,
        Store(store_url(db)),
        db,
        dry_run,
        as_json,
        serve,
        port,
        pace,
        delay_s,
        keep_serving=keep_serving,
    )


def _drive_campaign(
    spec,
    spec_lab,
    store,
    db,
    dry_run,
    as_json,
    serve,
    port,
    pace,
    delay_s,
    *,
    resume_id: str | None = None,
    start_v: float = 0.0,
    lab_state: bytes | None = None,
    kept: dict[str, Any] | None = None,
    keep_serving: bool = False,
) -> int:
    """Run (or resume) a campaign with a progress bar, the summary at the end."""
    from ppu.campaign.loop import campaign_id_for, run_campaign
    from ppu.core.clock import Clock
    from ppu.runtime.holds import CampaignLock
    from ppu.runtime.runtime import running

    db_label = db or os.environ.get("PPU_DB", "ppu.sqlite")
    cid = resume_id or campaign_id_for(store, spec, spec.seed)
    lock = CampaignLock(store.url, cid)
    try:
        lock.acquire()  # before any port opens: a live controller's lab is not touched
    except BaseException:
        store.close()
        raise
    clock = Clock.new_virtual(pace=pace, start=start_v) if dry_run else Clock.new_wall(start_v)
    result: dict[str, Any] = {}
    total = spec.max_experiments
    dashboard = None
    if serve:
        from ppu.api.server import serve_in_thread

        token = os.environ.get("PPU_TOKEN") or __import__("secrets").token_urlsafe(16)
        dashboard = serve_in_thread(store_url(db), token, "127.0.0.1", port)
        err.print(f"dashboard: {dashboard.url}  (control token: {token})", highlight=False)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        console=err,
        transient=False,
        disable=as_json and not err.is_terminal,
    )

    async def main() -> None:
        async with running(
            spec_lab,
            clock,
            store,
            dry_run=dry_run,
            operator_delay_s=delay_s,
            lab_state=lab_state,
            compute=spec.compute,
        ) as rt:
            verb = "resuming" if resume_id else "campaign"
            task = progress.add_task(f"{verb} {cid}", total=total, status="")

            def on_progress(run) -> None:
                best = run.best()
                o = spec.objectives[0]
                shown = f"best {o.name} {best.objectives[o.name]:.3g} {o.unit}" if best else ""
                progress.update(
                    task,
                    completed=len(run.finished),
                    status=f"{clock.now() / 3600:7.1f} h lab time  {shown}",
                )

            rt.campaign_id = cid
            with progress:
                result["summary"] = await run_campaign(
                    spec,
                    rt,
                    store,
                    clock,
                    cid,
                    db_label=db_label,
                    dry_run=dry_run,
                    on_progress=on_progress,
                    resume=resume_id is not None,
                    lock=lock,
                    **(kept or {}),
                )

    try:
        clock.loop.run_until_complete(main())
    except BaseException as e:
        if dashboard is not None:
            if keep_serving and isinstance(e, Exception):
                # the page is most needed when something broke: it shows how it ended
                from ppu.core.errors import describe_error

                err.print(
                    f"campaign failed: {describe_error(e)}; the dashboard stays at "
                    f"{dashboard.url} until Ctrl-C",
                    highlight=False,
                )
                until_interrupted()
            dashboard.stop()
        raise
    finally:
        store.close()
        clock.close()
        lock.release()
    summary = result["summary"]
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)
    code = 0
    if summary.get("aborted_by"):
        err.print(f"aborted by {summary['aborted_by']}; instruments: {summary['safe_states']}")
        code = 3
    if dashboard is not None:
        if keep_serving:
            ended = "aborted" if code == 3 else "over"
            err.print(
                f"campaign {ended}; the dashboard stays at {dashboard.url} until Ctrl-C",
                highlight=False,
            )
            until_interrupted()
        dashboard.stop()
    return code


def until_interrupted() -> None:
    """Wait for Ctrl-C or SIGTERM (a service manager's stop), whichever comes first."""
    import signal
    import sys
    import threading

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_summary(s: dict[str, Any]) -> None:
    out.print(
        f"[bold]campaign {s['campaign_id']}[/] ({s['name']}, planner {s['planner']}, "
        f"seed {s['seed']})"
    )
    out.print(
        f"experiments: {s['experiments']} — {s['completed']} completed, {s['failed']} failed"
        f" (chemistry), {s['abandoned']} abandoned (instrument)"
    )
    best = s["best"]
    if best:
        params = ", ".join(
            f"{k} = {v['value']:.4g} {v['unit']}".rstrip() if isinstance(v, dict) else f"{k} = {v}"
            for k, v in best["params"].items()
        )
        objs = ", ".join(
            f"{k} = {v['value']:.4g} {v['unit']}" for k, v in best["objectives"].items()
        )
        out.print(f"best: experiment {best['experiment']}: {objs}\n      at {params}")
    for p in s.get("pareto", []):
        objs = ", ".join(f"{k} = {v['value']:.4g} {v['unit']}" for k, v in p["objectives"].items())
        out.print(f"  pareto: experiment {p['experiment']}: {objs}")
    out.print(
        f"lab time: {s['virtual_duration_h']:.1f} h ({s['virtual_duration_s']:.0f} s)"
        f"   wall time: {s['wall_s']:.1f} s"
    )
    t = Table("instrument", "busy", title="utilisation")
    for name, frac in s["utilisation"].items():
        t.add_row(name, f"{frac * 100:.1f} %")
    out.print(t)
    out.print(f"store: {s['db']}")
