"""`ppu kernels`, `ppu plugins`, `ppu launch`: what kernels there are, and running one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ppu.cli.app import (
    DbOption,
    JsonOption,
    app,
    emit_json,
    err,
    guard,
    out,
    store_url,
)
from ppu.core.errors import BadInput


def _parse_assignments(args: list[str], kernel_name: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for a in args:
        name, eq, value = a.partition("=")
        if not eq or not name:
            raise BadInput(f"launch {kernel_name}", f"argument '{a}' is not name=value")
        values[name.strip()] = value.strip()
    return values


def _registry(lab: Path | None):
    """The lab's plugins (the installed ones and its own), or only the installed ones."""
    if lab is not None:
        from ppu.lab.spec import load_lab

        return load_lab(lab).registry
    from ppu.lab.plugins import installed

    return installed()


@app.command("kernels")
def kernels_cmd(
    lab: Annotated[
        Path | None, typer.Option("--lab", help="Also the kernels of this lab's plugins.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the kernels: typed inputs with units and bounds, the instrument role, outputs."""

    def body() -> None:
        reg = _registry(lab)
        ks = dict(sorted(reg.kernels.items()))
        if as_json:
            emit_json(
                {
                    "kernels": [
                        {**k.describe(), "plugin": _where(reg, "kernel", k.name)}
                        for k in ks.values()
                    ]
                }
            )
            return
        table = Table(
            "kernel", "role", "inputs", "outputs", "re-run safe", "plugin", show_lines=True
        )
        for k in ks.values():
            outputs = ", ".join(f"{n} [{u or 'no unit'}]" for n, u in k.outputs.items())
            table.add_row(
                escape(k.name),
                escape(k.role or ("(computed twin)" if k.is_computed else "(compute)")),
                escape("\n".join(_describe_input(n, s) for n, s in k.describe()["inputs"].items())),
                escape(outputs),
                "yes" if k.rerun_safe else "no",
                escape(_where(reg, "kernel", k.name)),
            )
        out.print(table)

    guard(as_json, body)


def _where(reg: Any, kind: str, name: str) -> str:
    src = reg.where(kind, name)
    return src.module if src is not None else ""


def _describe_input(name: str, spec: dict[str, Any]) -> str:
    if spec["type"] == "quantity":
        unit = f" {spec['unit']}" if spec["unit"] else ""
        lo = "-∞" if spec["min"] is None else f"{spec['min']:g}"
        hi = "∞" if spec["max"] is None else f"{spec['max']:g}"
        default = "" if spec["default"] is None else f" (default {spec['default']:g}{unit})"
        return f"{name}: {lo} … {hi}{unit}{default}"
    if spec["type"] == "integer":
        lo = "-∞" if spec["min"] is None else spec["min"]
        hi = "∞" if spec["max"] is None else spec["max"]
        default = "" if spec["default"] is None else f" (default {spec['default']})"
        return f"{name}: whole number {lo} … {hi}{default}"
    if spec["type"] == "choice":
        return f"{name}: one of {', '.join(spec['options'])}"
    return f"{name}: sample{' (consumed)' if spec['consumes'] else ''}"


@app.command("plugins")
def plugins_cmd(
    lab: Annotated[
        Path | None, typer.Option("--lab", help="Also this lab file's own plugins.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """What plugins were found where, and what each registered."""

    def body() -> None:
        described = _registry(lab).describe()
        if as_json:
            emit_json(described)
            return
        t = Table("plugin", "found by", "where", "registers", show_lines=True)
        for p in described["plugins"]:
            found = (
                f"entry point ({p['distribution']} {p['version']})"
                if p["found_by"] == "entry point"
                else "lab file"
            )
            what = []
            for key in ("kernels", "instrument_models", "rigs", "planners"):
                if p[key]:
                    what.append(f"{key.replace('_', ' ')}: {', '.join(p[key])}")
            t.add_row(
                escape(p["module"]), escape(found), escape(p["file"] or ""), escape("\n".join(what))
            )
        out.print(t)

    guard(as_json, body)


@app.command("launch", context_settings={"allow_extra_args": False})
def launch_cmd(
    kernel: Annotated[str, typer.Argument(help="Kernel name (see `ppu kernels`).")],
    assignments: Annotated[
        list[str] | None, typer.Argument(help='Inputs as name=value, e.g. volume="5 mL".')
    ] = None,
    lab: Annotated[Path, typer.Option("--lab", help="Lab file (TOML).")] = Path("lab.toml"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Simulated lab on a virtual clock.")
    ] = False,
    instrument: Annotated[
        str | None, typer.Option("--instrument", help="Which instrument.")
    ] = None,
    trace: Annotated[Path | None, typer.Option("--trace", help="Write wire traces here.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one kernel on one instrument, without a campaign, and print its outputs."""

    def body() -> int:
        from ppu.core.files import unknown_name
        from ppu.lab.spec import load_lab

        spec = load_lab(lab)
        ks = spec.kernels
        k = ks.get(kernel)
        if k is None:
            raise BadInput(f"launch {kernel}", unknown_name("kernel", kernel, ks))
        raw = _parse_assignments(assignments or [], kernel)
        k.validate(raw)  # units and bounds, before anything opens
        if k.role is not None and not spec.with_role(k.role):
            raise BadInput(f"{lab.name}", f"no instrument has role '{k.role}' needed by {kernel}")
        if instrument is not None and instrument not in spec.instruments:
            raise BadInput(
                f"launch {kernel}: --instrument",
                f"unknown instrument '{instrument}' (lab has: {', '.join(spec.instruments)})",
            )
        url = store_url(db)
        if k.sample_inputs and url.startswith("sqlite:///") and not Path(url[10:]).exists():
            name = next(iter(k.sample_inputs))
            raise BadInput(f"launch {kernel}: {name}", f"unknown sample '{raw.get(name)}'")
        return _run_launch(k, raw, spec, url, dry_run, instrument, trace, as_json)

    guard(as_json, body)


def _run_launch(k, raw, spec, url, dry_run, instrument, trace, as_json) -> int:
    from ppu.core.clock import Clock
    from ppu.core.units import show, to_json
    from ppu.runtime.runtime import LaunchFailed, running
    from ppu.store import Store

    clock = Clock.new_virtual() if dry_run else Clock.new_wall()
    store = Store(url)
    wall0 = time.perf_counter()
    result: dict[str, Any] = {}

    async def main() -> None:
        async with running(spec, clock, store, dry_run=dry_run, trace_dir=trace) as rt:
            h = rt.launch(k, instrument=instrument, **raw)
            result["handle"] = h
            with err.status(f"running {k.name} (launch {h.id})…", spinner="dots"):
                try:
                    await h
                except LaunchFailed as e:
                    result["error"] = str(e)

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        clock.close()
    h = result["handle"]
    summary = {
        "launch_id": h.id,
        "kernel": k.name,
        "instrument": h.row.instrument,
        "state": h.state,
        "outputs": {n: to_json(q) for n, q in h.outputs.items()} if h.state == "done" else {},
        "produced": h.produced,
        "error": result.get("error"),
        "virtual_duration_s": (h.row.ended_v or 0) - (h.row.started_v or 0),
        "wall_s": round(time.perf_counter() - wall0, 3),
        "dry_run": dry_run,
        "db": url,
    }
    if as_json:
        emit_json(summary)
    else:
        if h.state == "done":
            out.print(
                f"launch {h.id}: [green]{k.name} done[/] on {h.row.instrument} "
                f"in {summary['virtual_duration_s']:.1f} s of "
                f"{'virtual' if dry_run else 'lab'} time"
            )
            for n, q in h.outputs.items():
                out.print(f"  {n} = {show(q)}")
            for n, sid in h.produced.items():
                out.print(f"  made sample {sid} ({n})")
        else:
            err.print(f"[red]launch {h.id}: {k.name} {h.state}[/]: {result.get('error')}")
    return 0 if h.state == "done" else 1
