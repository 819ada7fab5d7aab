"""What every serial driver owes the runtime, checked the same way for each protocol family:
it works over a real pty as over TCP, and each fault on the line (silence, garbage, a
refusal, a dropped connection) is its own typed error after which the port recovers, with a
late reply to the failed request never taken for the next answer.

Each family names the helper its own test module runs a driver against its simulator with,
one read a fault interrupts, and one safe read whose answer is known."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from devices.errors import GarbledReply, InstrumentRefused, NoReply, PortClosed
from devices.retry import retry_safe
from ppu.core.units import Q_
from tests.devices.test_eurotherm import run_with_controller
from tests.devices.test_mks import run_with_gauge
from tests.devices.test_modbus_relay import run_with_relay
from tests.devices.test_ne1000 import run_with_pump
from tests.devices.test_tpg import run_with_controller as run_with_tpg
from tests.devices.test_vici import run_with_valve

Read = Callable[[Any], Awaitable[Any]]


async def _nothing(driver: Any) -> None:
    return None


async def _coil_1(relay: Any) -> bool:
    return (await relay.coils())[1]


async def _close_coil_1(relay: Any) -> None:
    await relay.set_coil(1, True)


@dataclass(frozen=True)
class Family:
    """One driver as the suite drives it."""

    name: str
    run: Callable[..., Any]  # run_with_…(body, pty=…): the driver against its simulator
    interrupted: Read  # the exchange a forced fault hits
    probe: Read  # a safe exchange with a known answer
    expected: Any
    prepare: Read = _nothing  # state the probe's answer depends on


FAMILIES = [
    Family(
        "eurotherm-3200 (Modbus RTU)",
        run_with_controller,
        interrupted=lambda d: d.pv(),
        probe=lambda d: d.setpoint(),
        expected=Q_(22.0, "degC"),
    ),
    Family(
        "mks-9xx (ASCII, addressed)",
        run_with_gauge,
        interrupted=lambda d: d.pressure(),
        probe=lambda d: d.model(),
        expected="925",
        prepare=lambda d: d.unit(),
    ),
    Family(
        "modbus-relay (Modbus RTU coils)",
        run_with_relay,
        interrupted=lambda d: d.coils(),
        probe=_coil_1,
        expected=True,
        prepare=_close_coil_1,
    ),
    Family(
        "ne1000 (syringe pump, ASCII)",
        run_with_pump,
        interrupted=lambda d: d.rate(),
        probe=lambda d: d.identity(),
        expected="NE1000V3.928",
    ),
    Family(
        "tpg-26x (mnemonics, ACK then ENQ)",
        run_with_tpg,
        interrupted=lambda d: d.pressures(),
        probe=lambda d: d.full_scales(),
        expected=[Q_(1000, "mbar"), Q_(1, "mbar")],
        prepare=lambda d: d.unit(),
    ),
    Family(
        "vici (selector valve, ASCII)",
        run_with_valve,
        interrupted=lambda d: d.position(),
        probe=lambda d: d.num_positions(),
        expected=10,
    ),
]
IDS = [f.name.split()[0] for f in FAMILIES]


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_the_driver_works_over_a_pty_as_over_tcp(family: Family) -> None:
    async def body(sim: Any, driver: Any, clock: Any) -> Any:
        assert driver.port.url.startswith("/dev/")
        await family.prepare(driver)
        return await family.probe(driver)

    assert family.run(body, pty=True) == family.expected


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("no_reply", NoReply),
        ("garbled", GarbledReply),
        ("error_reply", InstrumentRefused),
        ("disconnect", PortClosed),
    ],
)
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_each_fault_raises_its_typed_error_and_the_port_recovers(
    family: Family, fault: str, error: type[Exception]
) -> None:
    async def body(sim: Any, driver: Any, clock: Any) -> Any:
        await family.prepare(driver)
        sim.faults.force(fault)
        with pytest.raises(error):
            await family.interrupted(driver)
        # the next exchange works (re-opening a dropped connection first), and a late reply
        # to the failed request is not taken for its answer
        return await retry_safe(driver.port, lambda: family.probe(driver))

    assert family.run(body) == family.expected
