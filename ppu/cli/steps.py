"""`ppu steps [confirm]`: the manual steps kernels are waiting on."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ppu.cli.app import (
    DbOption,
    JsonOption,
    app,
    emit_json,
    guard,
    open_existing_store,
    out,
)
from ppu.core.errors import BadInput

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

        store = open_existing_store(db)
        try:
            with Session(store.engine) as s:
                rows = steps(s, state=None if show_all else "waiting")
        finally:
            store.close()
        if as_json:
            emit_json({"steps": rows})
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

    guard(as_json, body)


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

        store = open_existing_store(db)
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
            emit_json({"command": cid, "step": step, "who": who})
        else:
            out.print(f"step {step}: confirmation sent (command {cid})")

    guard(as_json, body)


@steps_app.command("could-not")
def steps_could_not_cmd(
    step: Annotated[int, typer.Argument(help="Step id (see `ppu steps`).")],
    why: Annotated[str, typer.Option("--why", help="What stood in the way, for the audit.")] = "",
    who: Annotated[str, typer.Option("--who", help="Your name, for the audit.")] = "console",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Say a manual step could not be done: the kernel waiting on it fails, naming you and
    why, instead of going on."""

    def body() -> None:
        from ppu.runtime.control import COULD_NOT
        from ppu.store.models import OperatorStepRecord

        store = open_existing_store(db)
        try:
            row = store.session.get(OperatorStepRecord, step)
            if row is None:
                raise BadInput(f"step {step}", "no such step")
            if row.state != "waiting":
                raise BadInput(f"step {step}", f"is already {row.state}")
            cid = store.add_command(
                COULD_NOT, str(step), who=who, campaign_id=row.campaign_id, argument=why or None
            )
        finally:
            store.close()
        if as_json:
            emit_json({"command": cid, "step": step, "who": who, "why": why})
        else:
            out.print(f"step {step}: 'could not do it' sent (command {cid})")

    guard(as_json, body)
