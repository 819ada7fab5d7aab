"""`ppu sim serve`: rehearse a real run without hardware (ppu/runtime/sim_serve.py).

The lab's simulators serve on 127.0.0.1 on the wall clock, in this process, until Ctrl-C or
SIGTERM; the served lab file points a controller (`ppu devices check`, `ppu launch`,
`ppu run`, all without --dry-run) at them.
"""

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from ppu.cli.app import JsonOption

    sim_app = typer.Typer(
        help="A lab's simulators, served for a rehearsal of a real run.", no_args_is_help=True
    )
    app.add_typer(sim_app, name="sim")

    @sim_app.command("serve")
    def serve_cmd(
        lab: Annotated[Path, typer.Option("--lab", help="Lab file (TOML).")] = Path("lab.toml"),
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Write the served lab file here (default: <lab stem>.served.toml "
                "beside the lab file, where its plugins are found).",
            ),
        ] = None,
        seed: Annotated[
            int, typer.Option("--seed", help="Shift every simulator and rig seed by this.")
        ] = 0,
        port: Annotated[
            int,
            typer.Option(
                "--port", help="Serve the devices on this port and the next ones (0: any free)."
            ),
        ] = 0,
        host: Annotated[
            str,
            typer.Option(
                "--host",
                help="Listen on this address (an instrument PC's, for controllers elsewhere).",
            ),
        ] = "127.0.0.1",
        rfc2217: Annotated[
            bool,
            typer.Option(
                "--rfc2217",
                help="Serve each device through RFC 2217 (rfc2217://host:port), as ser2net "
                "on an instrument PC does.",
            ),
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Serve each device's simulator (and its instrument's rig) on 127.0.0.1 on the wall
        clock, and write a lab file whose ports point at them; Ctrl-C stops."""
        from ppu.cli.app import emit_json, err, guard
        from ppu.cli.app import out as stdout

        def say(text: str) -> None:
            # under --json, stdout holds JSON only: a person still reads this on stderr
            (err if as_json else stdout).print(text, markup=False, highlight=False, soft_wrap=True)

        def ready(info: dict) -> None:
            for d in info["devices"]:
                say(f"{d['instrument']}.{d['device']} → {d['url']}")
            say(f"lab file: {info['served_lab']}")
            if as_json:
                emit_json(info)
            err.print(
                f"serving {len(info['devices'])} simulator(s) on the wall clock; Ctrl-C to stop",
                highlight=False,
            )

        def body() -> int:
            from ppu.runtime.sim_serve import serve

            summary = serve(
                lab,
                out=out,
                seed=seed,
                first_port=port,
                host=host,
                rfc2217=rfc2217,
                on_ready=ready,
            )
            n = sum(summary["requests"].values())
            err.print(f"stopped ({n} requests answered)", highlight=False)
            if as_json:
                emit_json(summary)
            return 0

        guard(as_json, body)
