"""Every instrument model in the catalog satisfies the layer contracts."""

from __future__ import annotations

import inspect

import pytest

from ppu.core.catalog import load
from ppu.core.contracts import Driver, SafeDevice, Simulator
from ppu.lab.plugins import installed


@pytest.mark.parametrize("name", sorted(installed().instruments))
def test_catalog_models_meet_the_contracts(name: str) -> None:
    model = installed().instruments[name]
    driver = load(model.driver)
    device = load(model.device)
    sim = load(model.simulator)
    assert inspect.iscoroutinefunction(driver.identity)
    assert inspect.iscoroutinefunction(device.safe_state)
    for attr in ("answer", "serve_tcp", "close"):
        assert hasattr(sim, attr)
    # simulators never import driver code
    source = inspect.getsource(inspect.getmodule(sim))  # type: ignore[arg-type]
    assert "from devices" not in source and "import devices" not in source
    assert Driver and SafeDevice and Simulator


def test_no_wall_clock_in_devices_or_simulators() -> None:
    """Time comes from the runtime's clock (DESIGN.md conventions)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    banned = re.compile(r"\btime\.(time|monotonic|sleep|perf_counter)\s*\(|\bfrom time import")
    offenders = [
        f"{p.relative_to(root)}:{i}"
        for folder in ("devices", "simulators")
        for p in sorted((root / folder).rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if banned.search(line)
    ]
    assert offenders == []
