"""The `ppu` command. Heavy imports (bluesky, torch, pyGAPS) happen inside commands.

Conventions (DESIGN.md): the default store is ./ppu.sqlite or $PPU_DB; `--json` makes the
last line of stdout one JSON object; exit codes 0 ok, 1 runtime failure, 2 bad input,
3 aborted or held for an operator; errors are one line naming the place.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ppu.errors import BadInput, PpuError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="ppu: run physics kernels on lab instruments, or dry-run them on simulators.",
)
err = Console(stderr=True)
out = Console()

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Store: a SQLite path or SQLAlchemy URL [default: ./ppu.sqlite or $PPU_DB]"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Last line of stdout: one JSON object.")]


def _emit_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


#: `ppu --debug …` (or PPU_DEBUG=1): an unexpected error shows its traceback
DEBUG = {"on": bool(os.environ.get("PPU_DEBUG"))}


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
) -> None:
    """ppu: run physics kernels on lab instruments, or dry-run them on simulators."""
    if debug:
        DEBUG["on"] = True


def _fail(as_json: bool, message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, emoji=False)
    if as_json:
        _emit_json({"error": message, "exit_code": code})
    return typer.Exit(code)


def _guard(as_json: bool, body: Callable[[], int | None]) -> None:
    """Run a command body; every error becomes one line and the agreed exit code (and a
    JSON last line under --json). A traceback reaches a person only with --debug."""
    try:
        code = body() or 0
    except PpuError as e:
        if DEBUG["on"]:
            traceback.print_exc()
        raise _fail(as_json, str(e), e.exit_code) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        if as_json:
            _emit_json({"error": "interrupted", "exit_code": 3})
        raise typer.Exit(3) from None
    except (typer.Exit, typer.Abort, *_click_errors()):
        raise
    except Exception as e:
        if DEBUG["on"]:
            traceback.print_exc()
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise _fail(
            as_json,
            f"unexpected {type(e).__name__}: {text} (run `ppu --debug …` for the traceback)",
            1,
        ) from None
    raise typer.Exit(code)


def _db_url(db: str | None) -> str:
    from ppu.store.store import as_url, default_db_url

    return as_url(db) if db else default_db_url()


def _parse_assignments(args: list[str], kernel_name: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for a in args:
        name, eq, value = a.partition("=")
        if not eq or not name:
            raise BadInput(f"launch {kernel_name}", f"argument '{a}' is not name=value")
        values[name.strip()] = value.strip()
    return values


LabOption = Annotated[Path, typer.Option("--lab", help="Lab file (TOML).")]


def _registry(lab: Path | None):
    """The lab's plugins (the installed ones and its own), or only the installed ones."""
    if lab is not None:
        from ppu.lab import load_lab

        return load_lab(lab).registry
    from ppu.plugins import installed

    return installed()


@app.command("kernels")
def kernels_cmd(
    lab: Annotated[
        Path | None, typer.Option("--lab", help="Also the kernels of this lab's plugins.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the kernels: typed inputs with units and bounds, the instrument role, outputs."""

    def body() -> None:
        reg = _registry(lab)
        ks = dict(sorted(reg.kernels.items()))
        if as_json:
            _emit_json(
                {
                    "kernels": [
                        {**k.describe(), "plugin": _where(reg, "kernel", k.name)}
                        for k in ks.values()
                    ]
                }
            )
            return
        table = Table(
            "kernel", "role", "inputs", "outputs", "re-run safe", "plugin", show_lines=True
        )
        for k in ks.values():
            outputs = ", ".join(f"{n} [{u or 'no unit'}]" for n, u in k.outputs.items())
            table.add_row(
                escape(k.name),
                escape(k.role or "(compute)"),
                escape("\n".join(_describe_input(n, s) for n, s in k.describe()["inputs"].items())),
                escape(outputs),
                "yes" if k.rerun_safe else "no",
                escape(_where(reg, "kernel", k.name)),
            )
        out.print(table)

    _guard(as_json, body)


def _where(reg: Any, kind: str, name: str) -> str:
    src = reg.where(kind, name)
    return src.module if src is not None else ""


def _describe_input(name: str, spec: dict[str, Any]) -> str:
    if spec["type"] == "quantity":
        unit = f" {spec['unit']}" if spec["unit"] else ""
        lo = "-∞" if spec["min"] is None else f"{spec['min']:g}"
        hi = "∞" if spec["max"] is None else f"{spec['max']:g}"
        default = "" if spec["default"] is None else f" (default {spec['default']:g}{unit})"
        return f"{name}: {lo} … {hi}{unit}{default}"
    if spec["type"] == "integer":
        lo = "-∞" if spec["min"] is None else spec["min"]
        hi = "∞" if spec["max"] is None else spec["max"]
        default = "" if spec["default"] is None else f" (default {spec['default']})"
        return f"{name}: whole number {lo} … {hi}{default}"
    if spec["type"] == "choice":
        return f"{name}: one of {', '.join(spec['options'])}"
    return f"{name}: sample{' (consumed)' if spec['consumes'] else ''}"


@app.command("plugins")
def plugins_cmd(
    lab: Annotated[
        Path | None, typer.Option("--lab", help="Also this lab file's own plugins.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """What plugins were found where, and what each registered."""

    def body() -> None:
        described = _registry(lab).describe()
        if as_json:
            _emit_json(described)
            return
        t = Table("plugin", "found by", "where", "registers", show_lines=True)
        for p in described["plugins"]:
            found = (
                f"entry point ({p['distribution']} {p['version']})"
                if p["found_by"] == "entry point"
                else "lab file"
            )
            what = []
            for key in ("kernels", "instrument_models", "rigs", "planners"):
                if p[key]:
                    what.append(f"{key.replace('_', ' ')}: {', '.join(p[key])}")
            t.add_row(
                escape(p["module"]), escape(found), escape(p["file"] or ""), escape("\n".join(what))
            )
        out.print(t)

    _guard(as_json, body)


@app.command("launch", context_settings={"allow_extra_args": False})
def launch_cmd(
    kernel: Annotated[str, typer.Argument(help="Kernel name (see `ppu kernels`).")],
    assignments: Annotated[
        list[str] | None, typer.Argument(help='Inputs as name=value, e.g. volume="5 mL".')
    ] = None,
    lab: Annotated[Path, typer.Option("--lab", help="Lab file (TOML).")] = Path("lab.toml"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Simulated lab on a virtual clock.")
    ] = False,
    instrument: Annotated[
        str | None, typer.Option("--instrument", help="Which instrument.")
    ] = None,
    trace: Annotated[Path | None, typer.Option("--trace", help="Write wire traces here.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one kernel on one instrument, without a campaign, and print its outputs."""

    def body() -> int:
        from ppu.files import unknown_name
        from ppu.lab import load_lab

        spec = load_lab(lab)
        ks = spec.kernels
        k = ks.get(kernel)
        if k is None:
            raise BadInput(f"launch {kernel}", unknown_name("kernel", kernel, ks))
        raw = _parse_assignments(assignments or [], kernel)
        k.validate(raw)  # units and bounds, before anything opens
        if k.role is not None and not spec.with_role(k.role):
            raise BadInput(f"{lab.name}", f"no instrument has role '{k.role}' needed by {kernel}")
        if instrument is not None and instrument not in spec.instruments:
            raise BadInput(
                f"launch {kernel}: --instrument",
                f"unknown instrument '{instrument}' (lab has: {', '.join(spec.instruments)})",
            )
        url = _db_url(db)
        if k.sample_inputs and url.startswith("sqlite:///") and not Path(url[10:]).exists():
            name = next(iter(k.sample_inputs))
            raise BadInput(f"launch {kernel}: {name}", f"unknown sample '{raw.get(name)}'")
        return _run_launch(k, raw, spec, url, dry_run, instrument, trace, as_json)

    _guard(as_json, body)


def _run_launch(k, raw, spec, url, dry_run, instrument, trace, as_json) -> int:
    from ppu.clock import Clock
    from ppu.runtime import LaunchFailed, running
    from ppu.store import Store
    from ppu.units import show, to_json

    clock = Clock.new_virtual() if dry_run else Clock.new_wall()
    store = Store(url)
    wall0 = time.perf_counter()
    result: dict[str, Any] = {}

    async def main() -> None:
        async with running(spec, clock, store, dry_run=dry_run, trace_dir=trace) as rt:
            h = rt.launch(k, instrument=instrument, **raw)
            result["handle"] = h
            with err.status(f"running {k.name} (launch {h.id})…", spinner="dots"):
                try:
                    await h
                except LaunchFailed as e:
                    result["error"] = str(e)

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        clock.close()
    h = result["handle"]
    summary = {
        "launch_id": h.id,
        "kernel": k.name,
        "instrument": h.row.instrument,
        "state": h.state,
        "outputs": {n: to_json(q) for n, q in h.outputs.items()} if h.state == "done" else {},
        "produced": h.produced,
        "error": result.get("error"),
        "virtual_duration_s": (h.row.ended_v or 0) - (h.row.started_v or 0),
        "wall_s": round(time.perf_counter() - wall0, 3),
        "dry_run": dry_run,
        "db": url,
    }
    if as_json:
        _emit_json(summary)
    else:
        if h.state == "done":
            out.print(
                f"launch {h.id}: [green]{k.name} done[/] on {h.row.instrument} "
                f"in {summary['virtual_duration_s']:.1f} s of "
                f"{'virtual' if dry_run else 'lab'} time"
            )
            for n, q in h.outputs.items():
                out.print(f"  {n} = {show(q)}")
            for n, sid in h.produced.items():
                out.print(f"  made sample {sid} ({n})")
        else:
            err.print(f"[red]launch {h.id}: {k.name} {h.state}[/]: {result.get('error')}")
    return 0 if h.state == "done" else 1


DEMO_DIR = Path(__file__).resolve().parents[1] / "protocols" / "demo"
ServeOption = Annotated[
    bool, typer.Option("--serve", help="Serve the dashboard on 127.0.0.1 while it runs.")
]
PortOption = Annotated[int, typer.Option("--port", help="Dashboard port (with --serve).")]
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
    pace: PaceOption = None,
    operator_delay: OperatorDelayOption = "60 s",
    as_json: JsonOption = False,
) -> None:
    """Run a closed-loop campaign: the planner proposes, the lab measures, results flow back."""
    _guard(
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
    pace: PaceOption = None,
    operator_delay: OperatorDelayOption = "60 s",
    as_json: JsonOption = False,
) -> None:
    """Exactly `ppu run protocols/demo/campaign.toml --lab protocols/demo/lab.toml --dry-run`."""
    _guard(
        as_json,
        lambda: _run_campaign(
            DEMO_DIR / "campaign.toml",
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
) -> int:
    import dataclasses

    from ppu.units import UnitError, parse_quantity

    if pace is not None and (not dry_run or pace <= 0):
        raise BadInput("--pace", "needs --dry-run and a positive number of lab seconds per second")
    try:
        delay_s = parse_quantity(operator_delay, "s").m_as("s")
    except UnitError as e:
        raise BadInput("--operator-delay", str(e)) from None

    from ppu.campaign import load_campaign
    from ppu.lab import load_lab

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
        spec, spec_lab, Store(_db_url(db)), db, dry_run, as_json, serve, port, pace, delay_s
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
) -> int:
    """Run (or resume) a campaign with a progress bar, the summary at the end."""
    from ppu.campaign import campaign_id_for, run_campaign
    from ppu.clock import Clock
    from ppu.holds import CampaignLock
    from ppu.runtime import running

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
        dashboard = serve_in_thread(_db_url(db), token, "127.0.0.1", port)
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
                    **(kept or {}),
                )

    try:
        clock.loop.run_until_complete(main())
    finally:
        if dashboard is not None:
            dashboard.stop()
        store.close()
        clock.close()
        lock.release()
    summary = result["summary"]
    if as_json:
        _emit_json(summary)
    else:
        _print_summary(summary)
    if summary.get("aborted_by"):
        err.print(f"aborted by {summary['aborted_by']}; instruments: {summary['safe_states']}")
        return 3
    return 0


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


devices_app = typer.Typer(help="Instruments and their devices.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")


@devices_app.command("check")
def devices_check_cmd(
    lab: Annotated[Path, typer.Option("--lab", help="Lab file (TOML).")] = Path("lab.toml"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the simulators behind the ports.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Which instruments answer, what they say they are and their status, or why not."""

    def body() -> int:
        from ppu.devices_check import run_check
        from ppu.lab import load_lab

        report = run_check(load_lab(lab), dry_run=dry_run)
        silent = [r for r in report if not r["answers"]]
        if as_json:
            _emit_json(
                {
                    "lab": str(lab),
                    "dry_run": dry_run,
                    "devices": report,
                    "answering": len(report) - len(silent),
                    "silent": len(silent),
                }
            )
        else:
            t = Table("instrument", "device", "driver", "port", "identity / why not", "status")
            for r in report:
                status = ", ".join(f"{k}={_short(v)}" for k, v in r.get("status", {}).items())
                who = r["identity"] if r["answers"] else f"[red]no answer: {r['why']}[/]"
                t.add_row(r["instrument"], r["device"], r["driver"], r["port"], who, status)
            out.print(t)
            out.print(f"{len(report) - len(silent)} of {len(report)} devices answer")
        return 1 if silent else 0

    _guard(as_json, body)


def _short(v: Any) -> str:
    return f"{v:.5g}" if isinstance(v, float) else str(v)


steps_app = typer.Typer(help="Manual steps kernels are waiting on.", invoke_without_command=True)
app.add_typer(steps_app, name="steps")


@steps_app.callback()
def steps_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="Confirmed steps too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List the manual steps waiting for a person (load a sample, fill a dewar)."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> None:
        from sqlmodel import Session

        from ppu.api.queries import steps

        store = _open_existing_store(db)
        try:
            with Session(store.engine) as s:
                rows = steps(s, state=None if show_all else "waiting")
        finally:
            store.close()
        if as_json:
            _emit_json({"steps": rows})
            return
        if not rows:
            out.print("no manual step is waiting" if not show_all else "no manual steps")
            return
        t = Table("step", "instrument", "launch", "what to do", "state")
        for r in rows:
            t.add_row(
                str(r["id"]),
                r["instrument"] or "",
                str(r["launch_id"] or ""),
                r["text"],
                r["state"],
            )
        out.print(t)

    _guard(as_json, body)


@steps_app.command("confirm")
def steps_confirm_cmd(
    step: Annotated[int, typer.Argument(help="Step id (see `ppu steps`).")],
    who: Annotated[str, typer.Option("--who", help="Your name, for the audit.")] = "console",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Say a manual step is done; the running campaign carries on (it polls the store)."""

    def body() -> None:
        from ppu.store.models import OperatorStepRecord

        store = _open_existing_store(db)
        try:
            row = store.session.get(OperatorStepRecord, step)
            if row is None:
                raise BadInput(f"step {step}", "no such step")
            if row.state != "waiting":
                raise BadInput(f"step {step}", f"is already {row.state}")
            cid = store.add_command("confirm", str(step), who=who, campaign_id=row.campaign_id)
        finally:
            store.close()
        if as_json:
            _emit_json({"command": cid, "step": step, "who": who})
        else:
            out.print(f"step {step}: confirmation sent (command {cid})")

    _guard(as_json, body)


def _open_existing_store(db: str | None):
    from ppu.store import Store

    url = _db_url(db)
    if url.startswith("sqlite:///") and not Path(url[10:]).exists():
        raise BadInput(url[10:], "no store here (run a launch or a campaign first)")
    return Store(url)


@app.command("status")
def status_cmd(
    campaign: Annotated[
        str | None,
        typer.Argument(help="A campaign id: its budget, best, experiments (see `ppu campaigns`)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Campaigns, launches, samples, measurements; or one CAMPAIGN in full.

    With CAMPAIGN: its budget used, best so far, feasible count, and each experiment's
    status, lab and wall times and failure reason."""
    if campaign is not None:
        _guard(as_json, lambda: _campaign_status(campaign, db, as_json))
        return

    def body() -> None:
        store = _open_existing_store(db)
        try:
            s = store.status()
        finally:
            store.close()
        if as_json:
            _emit_json(s)
            return
        out.print(f"store {s['db']}")
        by_state = ", ".join(f"{n} {st}" for st, n in sorted(s["launches"]["by_state"].items()))
        out.print(f"launches: {s['launches']['total']} ({by_state or 'none'})")
        out.print(
            f"samples: {s['samples']}   measurements: {s['measurements']}   "
            f"documents: {s['documents']}"
        )
        from ppu.holds import controller_alive

        for c in s["campaigns"]:
            stopped = c["state"] in ("running", "paused", "failed") and not controller_alive(
                store.url, c["id"]
            )
            hint = f" [yellow](no controller: `ppu resume {c['id']}`)[/]" if stopped else ""
            out.print(f"campaign {c['id']} {c['name']}: {c['state']}{hint}")
        if s["latest_launches"]:
            t = Table("launch", "kernel", "instrument", "state", title="latest launches")
            for r in s["latest_launches"]:
                t.add_row(str(r["id"]), r["kernel"], r["instrument"] or "", r["state"])
            out.print(t)
        if s["latest_measurements"]:
            t = Table("launch", "sample", "measurement", "value", title="latest measurements")
            for m in s["latest_measurements"]:
                t.add_row(
                    str(m["launch_id"]),
                    m["sample_id"] or "",
                    m["name"],
                    f"{m['value']:.6g} {m['unit']}",
                )
            out.print(t)

    _guard(as_json, body)


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="A new (or empty) folder.")],
    as_json: JsonOption = False,
) -> None:
    """Start a lab project: lab file, campaign, a kernel and an instrument model as plugins
    beside them, and a passing test."""

    def body() -> None:
        from ppu.scaffold import write_project

        files = write_project(directory)
        if as_json:
            _emit_json({"directory": str(directory), "files": [str(f) for f in files]})
            return
        for f in files:
            out.print(f"  wrote {escape(str(f))}")
        d = escape(str(directory))
        out.print(
            f"next:\n  pytest {d}\n"
            f"  cd {d} && ppu run campaign.toml --lab lab.toml --dry-run\n"
            "  ppu sim serve --lab lab.toml     # a rehearsal on served simulators"
        )

    _guard(as_json, body)


def _campaign_status(campaign_id: str, db: str | None, as_json: bool) -> None:
    from ppu.commands.campaigns import campaign_status, print_campaign_status

    store = _open_existing_store(db)
    try:
        st = campaign_status(store, campaign_id)
    finally:
        store.close()
    if as_json:
        _emit_json(st)
    else:
        print_campaign_status(st)


@app.command("schema")
def schema_cmd(
    kind: Annotated[str, typer.Argument(help="campaign | lab")],
) -> None:
    """Print the JSON Schema of a campaign or lab file (for an editor's completion)."""

    def body() -> None:
        from ppu.file_schema import json_schema

        sys.stdout.write(json.dumps(json_schema(kind), indent=2) + "\n")

    _guard(False, body)


def _register_groups() -> None:
    from ppu.commands import register_all

    register_all(app)


_register_groups()


def main() -> None:
    """The `ppu` command: a usage mistake is one line and exit 2 like any bad input (and,
    under --json, a JSON last line), not a box."""
    usage, other = _click_errors()
    as_json = "--json" in sys.argv
    try:
        code = app(standalone_mode=False)
    except usage as e:
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            raise SystemExit(2) from None
        ctx = getattr(e, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        raise SystemExit(_fail(as_json, e.format_message() + hint, 2).exit_code) from None
    except other as e:
        raise SystemExit(_fail(as_json, e.format_message(), e.exit_code).exit_code) from None
    except (typer.Abort, KeyboardInterrupt):
        raise SystemExit(3) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    """Usage errors as this typer raises them (newer typers carry click inside)."""
    try:
        from typer._click import exceptions as ce  # type: ignore[import-not-found]
    except ImportError:
        import click.exceptions as ce
    return ce.UsageError, ce.ClickException


if __name__ == "__main__":
    main()
