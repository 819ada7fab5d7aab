"""`ppu init` and `ppu schema`: starting a lab project, and the files' JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ppu.cli.app import (
    JsonOption,
    app,
    emit_json,
    guard,
    out,
)


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="A new (or empty) folder.")],
    as_json: JsonOption = False,
) -> None:
    """Start a lab project: lab file, campaign, a kernel and an instrument model as plugins
    beside them, and a passing test."""

    def body() -> None:
        from ppu.scaffold import write_project

        files = write_project(directory)
        if as_json:
            emit_json({"directory": str(directory), "files": [str(f) for f in files]})
            return
        for f in files:
            out.print(f"  wrote {escape(str(f))}")
        d = escape(str(directory))
        out.print(
            f"next:\n  pytest {d}\n"
            f"  cd {d} && ppu run campaign.toml --lab lab.toml --dry-run\n"
            "  ppu sim serve --lab lab.toml     # a rehearsal on served simulators"
        )

    guard(as_json, body)


@app.command("schema")
def schema_cmd(
    kind: Annotated[str, typer.Argument(help="campaign | lab")],
) -> None:
    """Print the JSON Schema of a campaign or lab file (for an editor's completion)."""

    def body() -> None:
        from ppu.cli.file_schema import json_schema

        sys.stdout.write(json.dumps(json_schema(kind), indent=2) + "\n")

    guard(False, body)
