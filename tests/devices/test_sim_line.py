"""The `sim://` line between a driver and its simulator: a reply that is late on the wall
clock (a loaded host) is not a lost reply, and a silent or vanished simulator is still
reported as NoReply / PortClosed, without waiting for the driver's timeout."""

from __future__ import annotations

import time

import pytest

from devices.errors import NoReply, PortClosed
from devices.mt_sics import MTSICSBalance
from devices.port import SerialPort
from ppu.core.clock import Clock
from simulators.mt_sics import MTSICSSimulator
from tests.devices.harness import run_on_virtual_clock, serving


class BusyHostBalance(MTSICSSimulator):
    """A balance whose simulator is not scheduled for 0.3 s of wall time per request."""

    def answer(self, request: bytes) -> bytes | None:
        time.sleep(0.3)
        return super().answer(request)


def test_a_reply_later_than_the_timeout_on_the_wall_clock_is_still_the_reply() -> None:
    async def main(clock: Clock) -> tuple[str, type[Exception] | None]:
        sim = BusyHostBalance(clock.monotonic, seed=1)
        async with serving(clock, sim, timeout=0.1) as port:
            assert port.url.startswith("sim://")
            weight = await MTSICSBalance(port).weight_immediately()
            # the same simulator through a plain socket: the driver's timer decides, and
            # the slow reply is taken for a lost one (what a dry-run must not do)
            plain = SerialPort(port.url.replace("sim://", "socket://"), clock, timeout=0.1)
            await plain.open()
            try:
                await MTSICSBalance(plain).weight_immediately()
                plain_error = None
            except NoReply as e:
                plain_error = type(e)
            finally:
                await plain.close()
            return f"{weight.value.units:~}", plain_error

    unit, plain_error = run_on_virtual_clock(main)
    assert unit == "g"
    assert plain_error is NoReply


def test_a_silent_simulator_is_a_no_reply_at_once_not_after_the_timeout() -> None:
    async def main(clock: Clock) -> int:
        sim = MTSICSSimulator(clock.monotonic, seed=1)
        # a 30 s timeout: were the silence judged by the timer, pytest-timeout would see it
        async with serving(clock, sim, timeout=30.0) as port:
            balance = MTSICSBalance(port)
            for _ in range(20):
                sim.faults.force("no_reply")
                with pytest.raises(NoReply):
                    await balance.weight_immediately()
                # the line is clean after it: the next request gets its own reply
                assert (await balance.weight_immediately()).stable
            return sim.requests

    assert run_on_virtual_clock(main) == 40


def test_a_dropped_connection_is_port_closed() -> None:
    async def main(clock: Clock) -> None:
        sim = MTSICSSimulator(clock.monotonic, seed=1)
        async with serving(clock, sim, timeout=30.0, linger=0.01) as port:
            sim.faults.force("disconnect")
            with pytest.raises(PortClosed):
                await MTSICSBalance(port).weight_immediately()

    run_on_virtual_clock(main)
