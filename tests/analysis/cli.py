"""`ppu …` called in-process, as the tests of analysis call it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ppu.cli.main import app

runner = CliRunner()


def ppu(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def refused(*args: str) -> str:
    """The one line `ppu` refuses with (exit 2), under --json and without."""
    code, out, err = ppu(*args, "--json")
    assert code == 2, out + err
    line = last_json(out)["error"]
    code, out, err = ppu(*args)
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    return line
