"""`ppu resume` and `ppu holds`: carrying on after the controller stopped mid-campaign."""

from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    from ppu.cli.app import DbOption, JsonOption
    from ppu.cli.run import (
        KeepServingOption,
        OperatorDelayOption,
        PaceOption,
        PortOption,
        ServeOption,
    )
    from ppu.cli.steer import TimeoutOption, WaitOption, WhoOption

    @app.command("resume")
    def resume_cmd(
        campaign: Annotated[str, typer.Argument(help="Campaign id (see `ppu campaigns`).")],
        db: DbOption = None,
        serve: ServeOption = False,
        port: PortOption = 8765,
        keep_serving: KeepServingOption = True,
        pace: PaceOption = None,
        operator_delay: OperatorDelayOption = "60 s",
        who: WhoOption = None,
        wait: WaitOption = False,
        timeout: TimeoutOption = 30.0,
        as_json: JsonOption = False,
    ) -> None:
        """Carry on a paused or stopped campaign: which, its state decides.

        Paused, and its controller runs: send that controller a `resume` command,
        as `ppu pause` does (--who, --wait, --timeout; audited).
        No controller (a crash, a reboot, Ctrl-C): this process becomes its
        controller. The planner as saved, finished work kept, measurements re-run,
        unrepeatable kernels held for a person (`ppu holds`); a dry-run finds its
        simulated lab as the journal left it (--serve, --port, --pace,
        --operator-delay). Paused when it stopped: it stays paused.

        Refused (exit 2): running under a live controller, done, aborted, abandoned."""
        from ppu.cli.app import guard

        guard(
            as_json,
            lambda: _resume_either(
                campaign,
                db,
                serve,
                port,
                pace,
                operator_delay,
                who,
                wait,
                timeout,
                as_json,
                keep_serving=keep_serving,
            ),
        )

    holds_app = typer.Typer(
        help="Launches held for a person after the controller stopped.",
        invoke_without_command=True,
    )
    app.add_typer(holds_app, name="holds")

    @holds_app.callback()
    def holds_cmd(
        ctx: typer.Context,
        campaign: Annotated[
            str | None, typer.Option("--campaign", help="Only this campaign's.")
        ] = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List the held launches: what each was doing and how to settle it."""
        if ctx.invoked_subcommand is not None:
            return
        from ppu.cli.app import guard

        guard(as_json, lambda: _list_holds(campaign, db, as_json))

    @holds_app.command("resolve")
    def resolve_cmd(
        launch: Annotated[int, typer.Argument(help="The held launch's id.")],
        outcome: Annotated[
            str,
            typer.Option(
                "--as",
                help="done: it finished (its products exist) | failed | rerun: run it again.",
            ),
        ],
        who: Annotated[str, typer.Option("--who", help="Your name, for the audit.")] = "cli",
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Settle a held launch. The running controller (or the next `ppu resume`) acts on it."""
        from ppu.cli.app import guard

        guard(as_json, lambda: _resolve(launch, outcome, who, db, as_json))


def _resume_either(
    campaign_id: str,
    db: str | None,
    serve: bool,
    port: int,
    pace: float | None,
    operator_delay: str,
    who: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    *,
    keep_serving: bool = True,
) -> int:
    """A live controller owns it: send `resume` (if paused); none does: restart it here."""
    from ppu.cli.app import store_url
    from ppu.core.errors import BadInput
    from ppu.runtime.holds import controller_alive

    if not controller_alive(store_url(db), campaign_id):
        return _resume(
            campaign_id, db, serve, port, pace, operator_delay, as_json, keep_serving=keep_serving
        )
    from ppu.cli.steer import steer_campaign

    if pace is not None or serve:
        raise BadInput(
            "--pace/--serve",
            f"a controller runs campaign {campaign_id}: they apply only when restarting a "
            "stopped one (its own --serve / --pace stay as they are)",
        )
    return steer_campaign("resume", campaign_id, who, db, as_json, wait, timeout)


def _resume(
    campaign_id: str,
    db: str | None,
    serve: bool,
    port: int,
    pace: float | None,
    operator_delay: str,
    as_json: bool,
    *,
    keep_serving: bool = True,
) -> int:
    import dataclasses

    from ppu.campaign.loop import load_campaign
    from ppu.cli.app import err, open_existing_store
    from ppu.cli.run import _drive_campaign
    from ppu.core.errors import BadInput
    from ppu.core.units import UnitError, parse_quantity
    from ppu.lab.spec import load_lab
    from ppu.store.models import Campaign

    store = open_existing_store(db)
    try:
        row = store.session.get(Campaign, campaign_id)
        if row is None:
            raise BadInput(f"campaign {campaign_id}", "not in this store (see `ppu status`)")
        if row.state in ("done", "aborted", "abandoned"):
            raise BadInput(f"campaign {campaign_id}", f"it is {row.state}: nothing to resume")
        if pace is not None and (not row.dry_run or pace <= 0):
            raise BadInput("--pace", "needs a dry-run campaign and a positive number")
        try:
            delay_s = parse_quantity(operator_delay, "s").m_as("s")
        except UnitError as e:
            raise BadInput("--operator-delay", str(e)) from None
        config = row.config or {}
        spec_lab = load_lab(config["lab"])
        _check_plugins(config.get("plugins", []), spec_lab, campaign_id)
        spec = load_campaign(
            config.get("campaign_path", "campaign.toml"), spec_lab, config["campaign"]
        )
        spec = dataclasses.replace(
            spec,
            seed=row.seed,
            max_experiments=config.get("max_experiments", spec.max_experiments),
        )
        lab_state = None
        start_v = store.last_virtual_t(campaign_id)
        if row.dry_run:
            saved = store.simulated_lab(campaign_id)
            if saved is not None:
                lab_state = saved.state
                start_v = max(start_v, saved.virtual_t)
        from sqlmodel import select

        from ppu.store.models import InstrumentStatus

        quarantined = tuple(
            i.name
            for i in store.session.exec(
                select(InstrumentStatus).where(InstrumentStatus.state == "quarantined")
            ).all()
            if i.campaign_id == campaign_id
        )
        kept = {"paused": row.state == "paused", "quarantined": quarantined}
        err.print(
            f"resuming {campaign_id} at {start_v / 3600:.1f} h of lab time"
            + (" (simulated lab restored)" if lab_state else ""),
            highlight=False,
        )
    except BaseException:
        store.close()
        raise
    return _drive_campaign(
        spec,
        spec_lab,
        store,
        db,
        row.dry_run,
        as_json,
        serve,
        port,
        pace,
        delay_s,
        resume_id=campaign_id,
        start_v=start_v,
        keep_serving=keep_serving,
        lab_state=lab_state,
        kept=kept,
    )


def _list_holds(campaign: str | None, db: str | None, as_json: bool) -> int:
    from sqlmodel import Session

    from ppu.cli.app import emit_json, open_existing_store, out
    from ppu.runtime.holds import holds

    store = open_existing_store(db)
    try:
        with Session(store.engine) as s:
            found = holds(s, campaign)
    finally:
        store.close()
    if as_json:
        emit_json({"holds": found})
        return 0
    if not found:
        out.print("no held launches")
        return 0
    for h in found:
        given = h["resolution"]
        tail = f"  [green]resolved as {given['outcome']} by {given['who']}[/]" if given else ""
        out.print(f"[bold]launch {h['launch_id']}[/] ({h['campaign_id']}){tail}")
        out.print(f"  {h['message']}", highlight=False)
    return 0


def _resolve(launch_id: int, outcome: str, who: str, db: str | None, as_json: bool) -> int:
    from sqlmodel import Session

    from ppu.api import queries
    from ppu.cli.app import emit_json, open_existing_store, out
    from ppu.runtime.holds import check_resolvable

    store = open_existing_store(db)
    try:
        with Session(store.engine) as s:
            launch = check_resolvable(s, launch_id, outcome)
            cmd: dict[str, Any] = queries.add_command(
                s, "resolve", str(launch_id), who, launch.campaign_id, outcome
            )
    finally:
        store.close()
    if as_json:
        emit_json(cmd)
    else:
        out.print(
            f"launch {launch_id}: resolved as {outcome} (command {cmd['id']}); the controller "
            "acts on it now if it runs, else at `ppu resume`"
        )
    return 0


def _check_plugins(stored: list[dict[str, Any]], lab: Any, campaign_id: str) -> None:
    """The plugins the campaign started with must still be found; a changed file is said."""
    from ppu.cli.app import err
    from ppu.core.errors import BadInput

    now = {p.module: p for p in lab.registry.plugins}
    for p in stored:
        here = now.get(p["module"])
        if here is None:
            where = p.get("file") or p.get("distribution") or "?"
            raise BadInput(
                f"campaign {campaign_id}",
                f"plugin {p['module']} ({p['found_by']}, was {where}) is not found now: "
                "install it or restore it beside the lab file",
            )
        if p.get("sha256") and here.sha256 and p["sha256"] != here.sha256:
            err.print(
                f"note: plugin {p['module']} ({here.file}) changed since the campaign started",
                highlight=False,
            )
