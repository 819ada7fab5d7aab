"""`ppu status [CAMPAIGN]`: what the store holds, or one campaign's progress."""

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
        guard(as_json, lambda: _campaign_status(campaign, db, as_json))
        return

    def body() -> None:
        store = open_existing_store(db)
        try:
            s = store.status()
        finally:
            store.close()
        if as_json:
            emit_json(s)
            return
        out.print(f"store {s['db']}")
        by_state = ", ".join(f"{n} {st}" for st, n in sorted(s["launches"]["by_state"].items()))
        out.print(f"launches: {s['launches']['total']} ({by_state or 'none'})")
        out.print(
            f"samples: {s['samples']}   measurements: {s['measurements']}   "
            f"documents: {s['documents']}"
        )
        from ppu.runtime.holds import controller_alive

        for c in s["campaigns"]:
            stopped = c["state"] in ("running", "paused", "failed") and not controller_alive(
                store.url, c["id"]
            )
            hint = f" [yellow](no controller: `ppu resume {c['id']}`)[/]" if stopped else ""
            out.print(f"campaign {c['id']} {c['name']}: {c['state']}{hint}")
        for c in s["consumables"]:
            unit = f" {c['unit']}" if c["unit"] else ""
            refills = f", refilled {c['refills']}×" if c["refills"] else ""
            out.print(
                f"stock {c['name']} {c['level']:.4g} / {c['capacity']:.4g}{unit} "
                f"({c['scope']}{refills})",
                highlight=False,
            )
        for a in s["alarms"]:
            out.print(f"[red]alarm[/]: {a['message']}", highlight=False)
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

    guard(as_json, body)


def _campaign_status(campaign_id: str, db: str | None, as_json: bool) -> None:
    from ppu.cli.campaigns import campaign_status, print_campaign_status

    store = open_existing_store(db)
    try:
        st = campaign_status(store, campaign_id)
    finally:
        store.close()
    if as_json:
        emit_json(st)
    else:
        print_campaign_status(st)
