"""The `ppu` command: the app with every command module and group registered, and `main`,
which turns a usage mistake into one line and exit 2 like any bad input."""

from __future__ import annotations

import importlib
import sys

import typer

from ppu.cli.app import app, click_errors, fail

#: modules whose commands decorate the app at import, in the order `ppu --help` lists them
COMMANDS = (
    "ppu.cli.kernels",
    "ppu.cli.run",
    "ppu.cli.devices",
    "ppu.cli.steps",
    "ppu.cli.status",
    "ppu.cli.project",
)
#: command groups, each with `register(app)`; heavy imports stay inside the command
#: functions so `ppu --help` stays instant
GROUPS = (
    "ppu.cli.analysis",
    "ppu.cli.backtest",
    "ppu.cli.campaigns",
    "ppu.cli.recovery",
    "ppu.cli.serve",
    "ppu.cli.steer",
    "ppu.cli.sim",
    "ppu.cli.mcp",
    "ppu.cli.audit",
)

for _name in COMMANDS:
    importlib.import_module(_name)
for _name in GROUPS:
    importlib.import_module(_name).register(app)

__all__ = ["app", "main"]


def main() -> None:
    """The `ppu` command: a usage mistake is one line and exit 2 like any bad input (and,
    under --json, a JSON last line), not a box."""
    usage, other = click_errors()
    as_json = "--json" in sys.argv
    try:
        code = app(standalone_mode=False)
    except usage as e:
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            raise SystemExit(2) from None
        ctx = getattr(e, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        raise SystemExit(fail(as_json, e.format_message() + hint, 2).exit_code) from None
    except other as e:
        raise SystemExit(fail(as_json, e.format_message(), e.exit_code).exit_code) from None
    except (typer.Abort, KeyboardInterrupt):
        raise SystemExit(3) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
