"""`ppu serve`: the dashboard over a store another process writes (or wrote)."""

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from ppu.cli.app import DbOption

    @app.command("serve")
    def serve_cmd(
        db: DbOption = None,
        host: Annotated[
            str, typer.Option("--host", help="Listen here; reads are open only on loopback.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port (0: any free one).")] = 8765,
    ) -> None:
        """Serve the dashboard and its JSON API (/docs) over a store; control needs the token
        ($PPU_TOKEN, or one printed here)."""
        from ppu.cli.app import err, guard, store_url

        def body() -> int:
            import contextlib
            import os

            from ppu.core.errors import BadInput

            if not 0 <= port <= 65535:
                raise BadInput("--port", f"{port} is not a TCP port (0 … 65535)")
            url = store_url(db)
            if url.startswith("sqlite:///"):
                path = url.removeprefix("sqlite:///")
                if not os.path.exists(path):
                    raise BadInput("--db", f"no store at {path} (run a campaign first)")
            from ppu.api.server import serve_forever
            from ppu.core.errors import PpuError
            from ppu.store.store import answering, make_engine, migrate

            engine = make_engine(url)
            try:
                with answering(url):
                    migrate(engine)  # an older store gains the tables the dashboard reads
            except PpuError:
                raise
            except Exception as e:
                raise BadInput("--db", f"not a ppu store: {str(e).splitlines()[0]}") from None
            finally:
                engine.dispose()
            where, token, run = serve_forever(url, None, host, port)
            generated = not os.environ.get("PPU_TOKEN")
            err.print(
                f"dashboard: {where}/   API: {where}/docs   store: {url}",
                highlight=False,
                soft_wrap=True,
            )
            if generated:
                err.print(
                    f"control token (set PPU_TOKEN to choose one): {token}",
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                err.print("control token: $PPU_TOKEN")
            with contextlib.suppress(KeyboardInterrupt):
                run()  # Ctrl-C is how a server is meant to stop: not an abort
            err.print("dashboard stopped")
            return 0

        guard(False, body)
