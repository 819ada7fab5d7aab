"""`ppu mcp`: the Model Context Protocol server an AI assistant talks to (ppu.agents)."""

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from ppu.cli.app import DbOption

    @app.command("mcp")
    def mcp_cmd(
        db: DbOption = None,
        http: Annotated[
            int | None,
            typer.Option(
                "--http",
                help="Serve streamable HTTP on 127.0.0.1:PORT (/mcp) instead of stdio; each "
                "request carries 'Authorization: Bearer <token>' to act.",
            ),
        ] = None,
    ) -> None:
        """Serve the store to an MCP client (an AI assistant): read campaigns, experiments,
        isotherms and instruments; propose a candidate (it always waits for a person's
        approval), pause, resume, confirm a step. Acting needs the bearer token
        ($PPU_TOKEN); everything it does is audited as `agent:<client name>`. Over stdio
        by default: the client launches `ppu mcp` itself."""
        from ppu.cli.app import err, guard, open_existing_store

        def body() -> int:
            import contextlib
            import os
            import secrets

            from ppu.core.errors import BadInput

            if http is not None and not 1 <= http <= 65535:
                raise BadInput("--http", f"{http} is not a TCP port (1 … 65535)")
            store = open_existing_store(db)  # the store must exist and answer
            url = store.url
            store.close()
            from ppu.agents.mcp_server import make_server

            token = os.environ.get("PPU_TOKEN") or None
            if http is None:
                server = make_server(url, token, "stdio")
                if token is None:
                    err.print("ppu mcp: no PPU_TOKEN: this server only reads", highlight=False)
                try:
                    with contextlib.suppress(KeyboardInterrupt):
                        server.run("stdio")
                finally:
                    server.lab_desk.close()  # type: ignore[attr-defined]
                return 0
            if token is None:
                token = secrets.token_urlsafe(18)
                err.print(
                    f"control token (set PPU_TOKEN to choose one): {token}",
                    highlight=False,
                    soft_wrap=True,
                )
            server = make_server(url, token, "http")
            err.print(f"ppu mcp: http://127.0.0.1:{http}/mcp   store: {url}", highlight=False)
            try:
                with contextlib.suppress(KeyboardInterrupt):
                    server.run("streamable-http", host="127.0.0.1", port=http)
            finally:
                server.lab_desk.close()  # type: ignore[attr-defined]
            return 0

        guard(False, body)
