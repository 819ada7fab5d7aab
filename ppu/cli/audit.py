"""`ppu audit`: every control action (who, when, what came of it), as `GET /api/audit`."""

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from ppu.cli.app import DbOption, JsonOption

    @app.command("audit")
    def audit_cmd(
        campaign: Annotated[
            str | None, typer.Option("--campaign", help="Only this campaign's actions.")
        ] = None,
        who: Annotated[
            str | None,
            typer.Option("--who", help="Only actions by names starting so (e.g. 'agent:')."),
        ] = None,
        limit: Annotated[int, typer.Option("--limit", help="The newest N.")] = 50,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Every control action, newest first: a person's, the CLI's, an agent's (`ppu mcp`,
        as agent:<client name>): who, when, what, and whether the controller did it."""
        from ppu.cli.app import emit_json, guard, open_existing_store, out

        def body() -> None:
            import time

            from rich.table import Table
            from sqlmodel import Session

            from ppu.api import queries
            from ppu.core.errors import BadInput

            if not 1 <= limit <= 5000:
                raise BadInput("--limit", f"{limit} is not between 1 and 5000")
            store = open_existing_store(db)
            try:
                with Session(store.engine) as s:
                    rows = queries.audit(s, campaign, 5000 if who else limit)
            finally:
                store.close()
            if who:
                rows = [r for r in rows if r["who"].startswith(who)][:limit]
            if as_json:
                emit_json({"audit": rows})
                return
            if not rows:
                out.print("no control actions")
                return
            t = Table("id", "when", "who", "what", "target", "state", "result")
            for r in rows:
                when = time.strftime("%d %b %H:%M:%S", time.localtime(r["created_wall_s"]))
                t.add_row(
                    str(r["id"]), when, r["who"], r["kind"], r["target"], r["state"],
                    r["result"] or "",
                )  # fmt: skip
            out.print(t)

        guard(as_json, body)
