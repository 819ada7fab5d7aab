"""A gauge with no rig behind it reads a configured constant pressure (`pressure`, Pa;
one atmosphere by default), through its wire protocol and the real driver; the pumped-down
volume it used to read is there on request (`pumped_volume=True`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devices.mks import MKSGauge
from ppu.core.clock import Clock
from simulators.mks import MKSGaugeSimulator, PumpedVolume
from tests.devices.harness import run_with_driver


def read_pa_after(seconds: float, **sim_kw: Any) -> tuple[float, float]:
    """(reading in Pa at once, reading after `seconds`), over a socket."""

    async def body(sim: MKSGaugeSimulator, gauge: MKSGauge, clock: Clock) -> tuple[float, float]:
        await gauge.set_unit("Pa")
        first = float((await gauge.pressure(4)).m_as("Pa"))
        await asyncio.sleep(seconds)
        return first, float((await gauge.pressure(4)).m_as("Pa"))

    return run_with_driver(
        body, lambda clock: MKSGaugeSimulator(clock.monotonic, seed=3, **sim_kw), MKSGauge
    )


def test_a_gauge_without_a_rig_reads_one_atmosphere() -> None:
    first, later = read_pa_after(3600.0)
    assert first == pytest.approx(101325.0, rel=0.002)  # ±0.12 % gain, noise, 4 digits
    assert later == pytest.approx(first, rel=0.001)  # it stays there


def test_a_gauge_reads_its_configured_pressure_over_the_wire() -> None:
    first, later = read_pa_after(24 * 3600.0, pressure=2500.0, model="902B")
    assert first == pytest.approx(2500.0, rel=0.002)
    assert later == pytest.approx(2500.0, rel=0.002)


def test_the_pumped_volume_is_there_on_request() -> None:
    first, later = read_pa_after(600.0, pumped_volume=True)
    assert first == pytest.approx(101325.0, rel=0.002)
    assert later < 1.0  # sixty time constants of a 2 L volume behind a 0.2 L/s pump
    sim = MKSGaugeSimulator(lambda: 0.0, pumped_volume=True)
    assert isinstance(sim.pressure_pa, PumpedVolume)


def test_a_rigs_pressure_wins_over_the_option() -> None:
    sim = MKSGaugeSimulator(lambda: 0.0, lambda: 7.5, pressure=5000.0, pumped_volume=True)
    assert sim.pressure_pa() == 7.5


@pytest.mark.parametrize("pressure", [-1.0, float("nan"), float("inf")])
def test_a_pressure_that_is_not_one_is_refused(pressure: float) -> None:
    with pytest.raises(ValueError, match="not a pressure"):
        MKSGaugeSimulator(lambda: 0.0, pressure=pressure)
