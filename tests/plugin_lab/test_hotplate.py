"""A plugin author's own tests, with the harness ppu's tests use (`ppu.testing`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hotplate import HotplateDriver, HotplateSimulator

from ppu.testing import dry_run, run_with_driver

LAB = Path(__file__).with_name("lab.toml")


def test_the_driver_reads_the_simulated_plate_heating_over_a_real_socket() -> None:
    async def body(sim, driver, clock):
        await driver.set_setpoint(100.0)
        await asyncio.sleep(600)  # ten minutes of the virtual clock
        return await driver.identity(), await driver.temperature()

    identity, celsius = run_with_driver(
        body,
        lambda clock: HotplateSimulator(clock.monotonic, address=2),
        lambda p: HotplateDriver(p, 2),
    )
    assert identity.startswith("HOTPLATE")
    assert 99.0 < celsius < 100.0  # five time constants: within 1 % of the step


def test_the_bake_kernel_dry_runs_on_the_lab_file() -> None:
    out = dry_run(LAB, "bake", temperature="90 degC", time="5 min")
    assert abs(out["reached"].m_as("degC") - 90) < 1.0
    assert out["dose"].units == out["dose"].to("K*min").units
