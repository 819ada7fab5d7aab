"""The `ppu` app and how every command reports: one line and an exit code for an error
(0 ok, 1 runtime failure, 2 bad input, 3 aborted or held), `--json` a JSON last line, a
traceback only with `--debug`. Conventions in DESIGN.md; the default store is
./ppu.sqlite or $PPU_DB."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ppu.core.errors import BadInput, PpuError

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


def emit_json(obj: dict[str, Any]) -> None:
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


def fail(as_json: bool, message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, emoji=False)
    if as_json:
        emit_json({"error": message, "exit_code": code})
    return typer.Exit(code)


def guard(as_json: bool, body: Callable[[], int | None]) -> None:
    """Run a command body; every error becomes one line and the agreed exit code (and a
    JSON last line under --json). A traceback reaches a person only with --debug."""
    try:
        code = body() or 0
    except PpuError as e:
        if DEBUG["on"]:
            traceback.print_exc()
        raise fail(as_json, str(e), e.exit_code) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        if as_json:
            emit_json({"error": "interrupted", "exit_code": 3})
        raise typer.Exit(3) from None
    except (typer.Exit, typer.Abort, *click_errors()):
        raise
    except Exception as e:
        if DEBUG["on"]:
            traceback.print_exc()
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise fail(
            as_json,
            f"unexpected {type(e).__name__}: {text} (run `ppu --debug …` for the traceback)",
            1,
        ) from None
    raise typer.Exit(code)


def store_url(db: str | None) -> str:
    from ppu.store.store import as_url, default_db_url

    return as_url(db) if db else default_db_url()


LabOption = Annotated[Path, typer.Option("--lab", help="Lab file (TOML).")]


def open_existing_store(db: str | None):
    from ppu.store import Store

    url = store_url(db)
    if url.startswith("sqlite:///") and not Path(url[10:]).exists():
        raise BadInput(url[10:], "no store here (run a launch or a campaign first)")
    return Store(url)


def click_errors() -> tuple[type[Exception], type[Exception]]:
    """Usage errors as this typer raises them (newer typers carry click inside)."""
    try:
        from typer._click import exceptions as ce  # type: ignore[import-not-found]
    except ImportError:
        import click.exceptions as ce
    return ce.UsageError, ce.ClickException
