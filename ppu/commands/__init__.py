"""Command groups of the `ppu` CLI that live in modules of their own.

Each module has `register(app)`; heavy imports stay inside the command functions so
`ppu --help` stays instant.
"""

from __future__ import annotations

import importlib

import typer

GROUPS = (
    "ppu.commands.analysis",
    "ppu.commands.backtest",
    "ppu.commands.campaigns",
    "ppu.commands.recovery",
    "ppu.commands.serve",
    "ppu.commands.steer",
    "ppu.commands.sim",
)


def register_all(app: typer.Typer) -> None:
    for name in GROUPS:
        importlib.import_module(name).register(app)
