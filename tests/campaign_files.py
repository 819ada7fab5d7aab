"""Campaign files for tests that run the demo lab in a process of their own, and the one
bounded wait such tests need."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

DEMO = Path(__file__).resolve().parents[1] / "protocols" / "demo"


def demo_campaign(
    where: Path,
    *,
    name: str,
    approval: bool,
    batch_size: int,
    budget: dict[str, Any] | None = None,
    short: bool = True,
) -> Path:
    """The demo campaign, renamed; `short`: a 2-2.5 h synthesis, a 1 h activation and
    4-point isotherms, so a paced run takes a minute of wall time."""
    doc = tomllib.loads((DEMO / "campaign.toml").read_text())
    doc["campaign"].update(name=name, approval=approval, batch_size=batch_size)
    if budget is not None:
        doc["budget"] = budget
    if short:
        doc["search_space"]["time"] = {"low": "2 h", "high": "2.5 h"}
        for step in doc["workflow"]:
            if step["step"] == "activation":
                step["inputs"]["time"] = "1 h"
            if step["kernel"] == "measure_isotherm":
                step["inputs"]["points"] = 4
    path = where / "campaign.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def until(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 0.1) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(every_s)
