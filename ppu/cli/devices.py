"""`ppu devices check`: open each instrument's devices and read them once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ppu.cli.app import (
    JsonOption,
    app,
    emit_json,
    guard,
    out,
)


def _short(v: Any) -> str:
    return f"{v:.5g}" if isinstance(v, float) else str(v)


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
        from ppu.lab.spec import load_lab
        from ppu.runtime.devices_check import run_check

        report = run_check(load_lab(lab), dry_run=dry_run)
        silent = [r for r in report if not r["answers"]]
        if as_json:
            emit_json(
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

    guard(as_json, body)
