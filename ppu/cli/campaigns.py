"""`ppu campaigns` (list, abandon) and `ppu status CAMPAIGN`: what each campaign is doing.

The reads reuse the dashboard's (`ppu.api.queries`): the CLI and the page say the same.
"""

from typing import Annotated, Any

import typer

FINISHED = ("COMPLETED", "FAILED", "ABANDONED")
#: a campaign in one of these states is closed: nothing runs it, nothing will
CLOSED = ("done", "aborted", "abandoned")


def register(app: typer.Typer) -> None:
    from ppu.cli.app import DbOption, JsonOption
    from ppu.cli.steer import WhoOption

    campaigns_app = typer.Typer(
        help="The campaigns in the store, and closing one whose controller died.",
        invoke_without_command=True,
    )
    app.add_typer(campaigns_app, name="campaigns")

    @campaigns_app.callback()
    def campaigns_cmd(ctx: typer.Context, db: DbOption = None, as_json: JsonOption = False) -> None:
        """List the campaigns: state, controller, experiments, lab time, created.

        `ppu status CAMPAIGN` tells one in full."""
        if ctx.invoked_subcommand is not None:
            return
        from ppu.cli.app import guard

        guard(as_json, lambda: _list(db, as_json))

    @campaigns_app.command("abandon")
    def abandon_cmd(
        campaign: Annotated[str, typer.Argument(help="Campaign id (see `ppu campaigns`).")],
        why: Annotated[str, typer.Option("--why", help="Why it is given up, for the record.")],
        who: WhoOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Close a campaign whose controller died, for good.

        It becomes `abandoned` (who, why, when kept), its unfinished launches cancelled,
        its open experiments ABANDONED; audited as an `abandon` command. Refused while a
        controller runs it (`ppu abort` that one). `ppu resume` refuses it afterwards."""
        from ppu.cli.app import guard

        guard(as_json, lambda: _abandon(campaign, why, who, db, as_json))


# -- list -----------------------------------------------------------------------------------


def _budget(config: dict[str, Any] | None) -> tuple[int | None, float | None]:
    """(max experiments, max lab time in s) as the campaign was started with."""
    from ppu.core.units import UnitError, parse_quantity

    config = config or {}
    raw = (config.get("campaign") or {}).get("budget") or {}
    n = config.get("max_experiments", raw.get("experiments"))
    lab_time = raw.get("lab_time")
    max_s = None
    if lab_time is not None:
        try:
            max_s = float(parse_quantity(lab_time, "s").m_as("s"))
        except UnitError:
            max_s = None
    return (int(n) if isinstance(n, int) else None), max_s


def _hours(seconds: float | None) -> dict[str, Any] | None:
    return None if seconds is None else {"value": round(seconds / 3600, 4), "unit": "h"}


def campaign_rows(store: Any) -> list[dict[str, Any]]:
    from sqlmodel import Session

    from ppu.api import queries
    from ppu.store.models import Campaign

    rows = []
    with Session(store.engine) as s:
        for c in queries.campaigns(s):
            row = s.get(Campaign, c["id"])
            max_n, max_s = _budget(row.config if row is not None else None)
            by_status = c["experiments"]
            rows.append(
                {
                    "id": c["id"],
                    "name": c["name"],
                    "state": c["state"],
                    "controller_alive": c["controller"] is not None,
                    "controller": c["controller"],
                    "dry_run": c["dry_run"],
                    "seed": c["seed"],
                    "experiments": {
                        "done": sum(n for st, n in by_status.items() if st in FINISHED),
                        "suggested": sum(by_status.values()),
                        "budget": max_n,
                        "by_status": by_status,
                    },
                    "lab_time": _hours(store.last_virtual_t(c["id"])),
                    "max_lab_time": _hours(max_s),
                    "created_wall_s": c["created_wall_s"],
                }
            )
    return rows


def _when(wall_s: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(wall_s).strftime("%Y-%m-%d %H:%M")


def _list(db: str | None, as_json: bool) -> int:
    from rich.table import Table

    from ppu.cli.app import emit_json, open_existing_store, out

    store = open_existing_store(db)
    try:
        rows = campaign_rows(store)
    finally:
        store.close()
    if as_json:
        emit_json({"campaigns": rows})
        return 0
    if not rows:
        out.print("no campaigns in this store")
        return 0
    t = Table()
    t.add_column("campaign", no_wrap=True)
    for name in ("state", "controller", "experiments", "lab time"):
        t.add_column(name)
    t.add_column("created", no_wrap=True)
    for r in rows:
        stopped = r["state"] not in CLOSED and not r["controller_alive"]
        e = r["experiments"]
        lab = f"{r['lab_time']['value']:.1f} h"
        if r["max_lab_time"]:
            lab += f" of {r['max_lab_time']['value']:g} h"
        t.add_row(
            r["id"],
            r["state"],
            "alive" if r["controller_alive"] else "[yellow]none[/]" if stopped else "—",
            f"{e['done']} of {e['budget']}" if e["budget"] else str(e["done"]),
            lab,
            _when(r["created_wall_s"]),
        )
    out.print(t)
    stopped = [r["id"] for r in rows if r["state"] not in CLOSED and not r["controller_alive"]]
    for cid in stopped:
        out.print(
            f"[yellow]{cid}: no controller[/]: `ppu resume {cid}` or "
            f"`ppu campaigns abandon {cid} --why …`",
            highlight=False,
        )
    return 0


# -- abandon --------------------------------------------------------------------------------


def _abandon(campaign_id: str, why: str, who: str | None, db: str | None, as_json: bool) -> int:
    from ppu.api import queries
    from ppu.cli.app import emit_json, open_existing_store, out
    from ppu.cli.steer import default_who
    from ppu.core.errors import BadInput
    from ppu.runtime.holds import controller_alive
    from ppu.store.models import Campaign, Command

    place = f"campaign {campaign_id}"
    if not why.strip():
        raise BadInput("--why", "say why the campaign is given up (it is kept with it)")
    store = open_existing_store(db)
    try:
        c = store.session.get(Campaign, campaign_id)
        if c is None:
            raise BadInput(place, "not in this store (see `ppu campaigns`)")
        if c.state in CLOSED:
            raise BadInput(place, f"it is {c.state}: nothing to abandon")
        if controller_alive(store.url, campaign_id):
            raise BadInput(
                place,
                f"a controller runs it: `ppu abort {campaign_id}` stops it (abandon is for "
                "a campaign whose controller died)",
            )
        done = store.abandon_campaign(campaign_id, who=who or default_who(), why=why.strip())
        row = store.session.get(Command, done["command_id"])
        done["command"] = queries.command_out(row) if row is not None else None
    finally:
        store.close()
    if as_json:
        emit_json(done)
        return 0
    out.print(
        f"campaign {campaign_id}: abandoned by {done['who']} ({done['why']}): "
        f"{len(done['launches_cancelled'])} launch(es) cancelled, "
        f"{len(done['experiments_abandoned'])} experiment(s) ABANDONED "
        f"(command {done['command_id']})",
        highlight=False,
    )
    return 0


# -- status of one campaign -----------------------------------------------------------------


def _constraints(config: dict[str, Any] | None) -> list[dict[str, Any]]:
    raw = ((config or {}).get("campaign") or {}).get("constraints") or []
    found = []
    for i, k in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(k, dict):
            continue
        source = str(k.get("from", ""))
        name = k.get("name") or source.rpartition(".")[2] or f"constraint {i}"
        found.append({"name": str(name), "from": source, "ge": k.get("ge"), "le": k.get("le")})
    return found


def _feasible(objectives: dict[str, Any], constraints: list[dict[str, Any]]) -> bool:
    """Whether a completed experiment's stored outcomes meet every constraint."""
    from ppu.core.units import UnitError, parse_quantity

    for k in constraints:
        got = objectives.get(k["name"])
        if not isinstance(got, dict) or got.get("value") is None:
            return False
        unit = str(got.get("unit") or "")
        for key in ("ge", "le"):
            if k[key] is None:
                continue
            try:
                bound = float(parse_quantity(k[key], unit).m_as(unit))
            except UnitError:
                return False
            v = float(got["value"])
            if (key == "ge" and v < bound) or (key == "le" and v > bound):
                return False
    return True


def _directed(objectives: list[dict[str, Any]], raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The objectives with their direction as the file gives it (`minimize = true` too)."""
    given = {o.get("name"): o for o in raw.get("objectives") or [] if isinstance(o, dict)}
    out = []
    for o in objectives:
        f = given.get(o["name"], {})
        if f.get("maximize") is not None:
            up = bool(f["maximize"])
        elif f.get("minimize") is not None:
            up = not f["minimize"]
        else:
            up = True
        out.append({**o, "maximize": up})
    return out


def _walls(s: Any, campaign_id: str) -> dict[int, tuple[float, float]]:
    """Each launch's first and last journal entry, in wall time."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from ppu.store.models import Launch, LaunchEvent

    rows = s.exec(
        select(LaunchEvent.launch_id, func.min(LaunchEvent.wall_t), func.max(LaunchEvent.wall_t))
        .join(Launch, col(Launch.id) == col(LaunchEvent.launch_id))
        .where(Launch.campaign_id == campaign_id)
        .group_by(LaunchEvent.launch_id)
    ).all()
    return {int(i): (float(a), float(b)) for i, a, b in rows}


def campaign_status(store: Any, campaign_id: str) -> dict[str, Any]:
    """Everything `ppu status CAMPAIGN` tells, as one JSON-able dict."""
    from sqlmodel import Session

    from ppu.api import queries
    from ppu.core.errors import BadInput
    from ppu.runtime.holds import controller_alive, holds
    from ppu.store.models import Campaign

    with Session(store.engine) as s:
        c = queries.campaign(s, campaign_id)
        row = s.get(Campaign, campaign_id)
        if c is None or row is None:
            raise BadInput(f"campaign {campaign_id}", "not in this store (see `ppu campaigns`)")
        config = row.config or {}
        raw = config.get("campaign") or {}
        objectives = _directed(c["objectives"], raw)
        constraints = _constraints(config)
        progress = queries.progress(s, campaign_id) or {}
        exps = queries.suggestions(s, campaign_id)
        walls = _walls(s, campaign_id)
        held = holds(s, campaign_id)
    lab_now = store.last_virtual_t(campaign_id)
    max_n, max_s = _budget(config)

    experiments = []
    feasible = []
    for e in exps:
        ended = e["status"] in FINISHED
        spans = [walls[i] for i in e["launches"] if i in walls]
        wall_start = min((a for a, _ in spans), default=None)
        wall_end = max((b for _, b in spans), default=None) if ended else None
        ok = e["status"] == "COMPLETED" and _feasible(e["objectives"] or {}, constraints)
        if ok:
            feasible.append(e)
        start_v, end_v = e["suggested_v_s"], e["ended_v_s"]
        experiments.append(
            {
                "id": e["id"],
                "number": e["number"],
                "status": e["status"],
                "params": e["params"],
                "objectives": e["objectives"],
                "feasible": ok,
                "lab": {
                    "suggested": _hours(start_v),
                    "ended": _hours(end_v),
                    "duration": _hours(end_v - start_v if end_v is not None else None),
                },
                "wall": {
                    "started_wall_s": wall_start,
                    "ended_wall_s": wall_end,
                    "duration_s": (
                        round(wall_end - wall_start, 3)
                        if wall_start is not None and wall_end is not None
                        else None
                    ),
                },
                "failure": e["error"],
                "launches": e["launches"],
            }
        )

    best = None
    if objectives and feasible:
        o = objectives[0]
        sign = 1 if o["maximize"] else -1

        def value(e: dict[str, Any]) -> float | None:
            q = (e["objectives"] or {}).get(o["name"])
            return queries.finite(q.get("value")) if isinstance(q, dict) else None

        ranked = [e for e in feasible if value(e) is not None]
        if ranked:
            b = max(ranked, key=lambda e: (sign * value(e), -e["number"]))  # type: ignore[operator]
            best = {
                "experiment": b["number"],
                "id": b["id"],
                "objective": {
                    "name": o["name"],
                    "value": value(b),
                    "unit": o["unit"],
                    "maximize": o["maximize"],
                },
                "objectives": b["objectives"],
                "params": b["params"],
            }
    completed = sum(1 for e in exps if e["status"] == "COMPLETED")
    return {
        "campaign_id": campaign_id,
        "name": c["name"],
        "state": c["state"],
        "controller_alive": controller_alive(store.url, campaign_id),
        "dry_run": c["dry_run"],
        "seed": c["seed"],
        "planner": (raw.get("planner") or {}).get("engine", "botorch"),
        "created_wall_s": c["created_wall_s"],
        "budget": {
            "experiments": {
                "used": len(exps),
                "finished": sum(1 for e in exps if e["status"] in FINISHED),
                "max": max_n,
            },
            "lab_time": {"used": _hours(lab_now), "max": _hours(max_s)},
        },
        "objectives": objectives,
        "constraints": constraints,
        "best": best,
        "pareto": list(progress.get("pareto", [])),  # experiment numbers
        "completed": completed,
        "feasible": len(feasible),
        "by_status": c["experiments"],
        "launches": c["launches"],
        "awaiting_approval": [e["id"] for e in exps if e["status"] == "awaiting_approval"],
        "held_launches": [h["launch_id"] for h in held],
        "abandon": (c["summary"] or {}).get("abandon"),
        "experiments": experiments,
    }


def _show_value(q: Any) -> str:
    if isinstance(q, dict) and "value" in q:
        v = q["value"]
        shown = f"{v:.4g}" if isinstance(v, float) else str(v)
        return f"{shown} {q.get('unit') or ''}".rstrip()
    return str(q)


def _show_params(params: dict[str, Any] | None, sep: str = ", ") -> str:
    return sep.join(f"{k} = {_show_value(v)}" for k, v in (params or {}).items())


def _show_hours(q: dict[str, Any] | None) -> str:
    return "—" if q is None else f"{q['value']:.2f}"


def print_campaign_status(st: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ppu.cli.app import out

    cid = st["campaign_id"]
    who = "controller alive" if st["controller_alive"] else "no controller"
    if not st["controller_alive"] and st["state"] not in CLOSED:
        who += f" (`ppu resume {cid}` or `ppu campaigns abandon {cid} --why …`)"
    out.print(
        f"[bold]campaign {escape(cid)}[/] ({escape(st['name'])}): {st['state']}, {who}"
        f" — {'dry-run, ' if st['dry_run'] else ''}seed {st['seed']}, planner {st['planner']}",
        highlight=False,
    )
    if st["abandon"]:
        a = st["abandon"]
        out.print(f"abandoned by {a['who']} at {_when(a['wall_s'])}: {a['why']}", highlight=False)
    b = st["budget"]
    n = b["experiments"]
    lab = b["lab_time"]
    text = f"budget: {n['used']} of {n['max'] if n['max'] else 'no limit on'} experiments"
    text += f" ({n['finished']} finished); lab time {lab['used']['value']:.2f} h"
    text += f" of {lab['max']['value']:g} h" if lab["max"] else ""
    out.print(text, highlight=False)
    best = st["best"]
    if best:
        o = best["objective"]
        aim = "max" if o["maximize"] else "min"
        out.print(
            f"best so far: experiment {best['experiment']} (id {best['id']}): {o['name']} = "
            f"{_show_value(o)} ({aim})\n  at {_show_params(best['params'])}",
            highlight=False,
        )
    else:
        out.print("best so far: none yet", highlight=False)
    shown = (
        ", ".join(
            f"{k['name']}"
            + (f" ≥ {k['ge']}" if k["ge"] is not None else "")
            + (f" ≤ {k['le']}" if k["le"] is not None else "")
            for k in st["constraints"]
        )
        or "no constraints"
    )
    out.print(
        f"feasible: {st['feasible']} of {st['completed']} completed ({shown})", highlight=False
    )
    if st["awaiting_approval"]:
        ids = ", ".join(map(str, st["awaiting_approval"]))
        out.print(f"[yellow]awaiting approval: {ids}[/] (`ppu approve ID` / `ppu reject ID`)")
    if st["held_launches"]:
        ids = ", ".join(map(str, st["held_launches"]))
        out.print(f"[yellow]held launches: {ids}[/] (`ppu holds`)")
    if not st["experiments"]:
        return
    t = Table("exp", "id", "status", "params", "outcome", "lab h", "wall", "failure")
    for e in st["experiments"]:
        lab = e["lab"]
        span = f"{_show_hours(lab['suggested'])}→{_show_hours(lab['ended'])}"
        wall = e["wall"]["duration_s"]
        status = e["status"] + (" ✓" if e["feasible"] and st["constraints"] else "")
        t.add_row(
            str(e["number"]),
            str(e["id"]),
            status,
            escape(_show_params(e["params"], "\n")),
            escape(_show_params(e["objectives"], "\n")),
            span,
            "—" if wall is None else f"{wall:.1f} s",
            escape(e["failure"] or ""),
        )
    out.print(t)
