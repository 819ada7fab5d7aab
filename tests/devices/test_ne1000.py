"""NE-1000 syringe pump: driver ↔ simulator over a real socket (and a pty), faults,
manual examples, random bytes into the parser, and limits refused before the wire.

Wire format from the NE-1000 User Manual ("RS-232 Communications", Basic Mode protocol
and command set): requests `[addr]CMD[ data]<CR>`; replies `<STX>aa P data<ETX>` with the
prompt P ∈ {I, W, S, P, T, U, X}, alarms `A?R|S|T|E|O`, errors `?`, `?NA`, `?OOR`, `?COM`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import (
    DriverError,
    InstrumentRefused,
    LimitError,
    PortInUse,
)
from devices.ne1000 import NE1000, PumpState, parse_dispensed, parse_quantity_reply, parse_reply
from devices.syringe_pump import SyringePump
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.ne1000 import NE1000Simulator
from tests.devices.harness import run_with_driver


def run_with_pump(
    body: Callable[[NE1000Simulator, NE1000, Clock], Awaitable[Any]],
    *,
    pty: bool = False,
    trace: Path | None = None,
    **sim_kw: Any,
) -> Any:
    return run_with_driver(
        body,
        lambda clock: NE1000Simulator(clock.monotonic, seed=3, **sim_kw),
        NE1000,
        pty=pty,
        timeout=0.2,
        trace=trace,
    )


# -- conformance: the manual's examples ------------------------------------------------
def test_manual_reply_examples_parse() -> None:
    """NE-1000 manual, Basic Mode protocol: `<STX>00S<ETX>` is a stopped pump's prompt;
    `RAT` answers `5.000MM`; `DIS` answers `I…W…ML`; `?OOR` is out of range; `A?S` a stall."""
    r = parse_reply(b"\x0200S\x03")
    assert (r.address, r.state, r.data) == (0, PumpState.STOPPED, "")
    assert parse_reply(b"\x0201I\x03").state is PumpState.INFUSING
    assert parse_quantity_reply(parse_reply(b"\x0200S5.000MM\x03").data, {"MM": "mL/min"}) == Q_(
        5, "mL/min"
    )
    assert parse_dispensed("I1.250W0.000ML") == (Q_(1.25, "mL"), Q_(0, "mL"))
    with pytest.raises(InstrumentRefused) as e:
        parse_reply(b"\x0200S?OOR\x03")
    assert e.value.code == "?OOR"
    with pytest.raises(InstrumentRefused, match="stalled"):
        parse_reply(b"\x0200A?S\x03")


def test_simulator_answers_manual_requests() -> None:
    sim = NE1000Simulator(lambda: 0.0)
    assert sim.answer(b"DIA 26.59\r") == b"\x0200S\x03"
    assert sim.answer(b"DIA\r") == b"\x0200S26.59\x03"
    assert sim.answer(b"RAT 5.0 MM\r") == b"\x0200S\x03"
    assert sim.answer(b"RAT\r") == b"\x0200S5.000MM\x03"
    assert sim.answer(b"VOL\r") == b"\x0200S0.000ML\x03"  # >14 mm syringe: volumes in mL
    assert sim.answer(b"RAT 999 MM\r") == b"\x0200S?OOR\x03"
    assert sim.answer(b"FOO\r") == b"\x0200S?\x03"
    assert sim.answer(b"05RUN\r") is None  # addressed to another pump on the network


# -- physics ---------------------------------------------------------------------------
def test_plunger_moves_on_the_clock() -> None:
    t = [0.0]
    sim = NE1000Simulator(lambda: t[0], syringe_ml=60)
    sim.answer(b"RAT 6 MM\r")
    sim.answer(b"VOL 3\r")
    sim.answer(b"RUN\r")
    t[0] = 15.0  # 1.5 mL after 15 s at 6 mL/min
    assert sim.answer(b"DIS\r") == b"\x0200II1.500W0.000ML\x03"
    t[0] = 60.0  # the 3 mL target was reached at 30 s
    assert sim.answer(b"DIS\r") == b"\x0200SI3.000W0.000ML\x03"
    assert sim.loaded_ml == pytest.approx(57.0)


# -- driver against the simulator over a socket --------------------------------------------
def test_driver_sets_and_reads_back_over_a_socket() -> None:
    async def body(sim, pump, clock):
        await pump.set_diameter(Q_(14.43, "mm"))
        await pump.set_rate(Q_(250, "uL/min"))
        return await pump.identity(), await pump.diameter(), await pump.rate()

    ident, dia, rate = run_with_pump(body)
    assert ident == "NE1000V3.928"
    assert dia == Q_(14.43, "mm")
    assert rate.to("uL/min").magnitude == pytest.approx(250)


def test_a_stuck_reading_stops_changing() -> None:
    async def body(sim, pump, clock):
        import asyncio

        await pump.set_rate(Q_(6, "mL/min"))
        await pump.set_target_volume(Q_(50, "mL"))
        await pump.run()
        await asyncio.sleep(10)
        await pump.dispensed()
        sim.faults.stuck_for = 3
        sim.faults.force("stuck")
        stuck = []
        for _ in range(3):
            await asyncio.sleep(10)
            stuck.append((await pump.dispensed())[1])
        await asyncio.sleep(10)
        return stuck, (await pump.dispensed())[1]

    stuck, after = run_with_pump(body)
    assert stuck == [Q_(1.0, "mL")] * 3  # frozen at the value before the fault
    assert after == Q_(5.0, "mL")  # moving again once the fault has passed


def test_lost_reply_to_run_never_doses_twice() -> None:
    """The RUN arrives but its reply is lost: the device must ask, not RUN again."""

    async def body(sim, pump, clock):
        dev = SyringePump(pump, name="pump", poll_interval=1.0)
        await dev.connect()
        await dev.rate.set(6.0)
        real_answer = sim.answer
        runs = []

        def answer(request: bytes):
            reply = real_answer(request)
            if request.strip().endswith(b"RUN"):
                runs.append(clock.now())
                if len(runs) == 1:
                    return b"\x02garbage"  # never completes: NoReply on the driver side
            return reply

        sim.answer = answer
        await dev.set(3.0)
        return runs, await dev.dispensed.get_value()

    runs, dispensed = run_with_pump(body)
    assert len(runs) == 1
    assert dispensed == pytest.approx(3.0)


def test_limits_are_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    trace = tmp_path / "pump.trace"

    async def body(sim, pump, clock):
        dev = SyringePump(pump, name="pump", max_rate="10 mL/min", max_volume="20 mL")
        await dev.connect()
        before = sim.requests
        with pytest.raises(LimitError, match="rate 50 mL/min is outside"):
            await dev.rate.set(50.0)
        with pytest.raises(LimitError, match="volume 25 mL is outside"):
            await dev.set(25.0)
        with pytest.raises(LimitError):
            await dev.set(-1.0)
        return sim.requests - before

    assert run_with_pump(body, trace=trace) == 0
    assert " >> " not in trace.read_text()


def test_a_second_process_gets_port_in_use(tmp_path: Path) -> None:
    import subprocess
    import sys

    async def body(sim, pump, clock):
        code = (
            "import asyncio; from ppu.core.clock import Clock\n"
            "from devices.port import SerialPort\n"
            "c = Clock.new_virtual()\n"
            f"p = SerialPort({pump.port.url!r}, c)\n"
            "try:\n    c.loop.run_until_complete(p.open())\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n"
        )
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
        ).stdout

    text = run_with_pump(body)
    assert text.startswith(PortInUse.__name__)
    assert "in use by ppu pid" in text


# -- property: random bytes give only typed errors ------------------------------------------
@given(st.binary(max_size=64))
def test_random_bytes_into_the_parsers_give_only_typed_errors(raw: bytes) -> None:
    for parse in (
        parse_reply,
        lambda b: parse_dispensed(b.decode("latin-1")),
        lambda b: parse_quantity_reply(b.decode("latin-1"), {"MM": "mL/min"}),
    ):
        with contextlib.suppress(DriverError):
            parse(raw)


@given(st.binary(max_size=32))
def test_random_framed_bytes_give_only_typed_errors(payload: bytes) -> None:
    try:
        r = parse_reply(b"\x02" + payload + b"\x03")
    except DriverError:
        return
    with contextlib.suppress(DriverError):
        parse_dispensed(r.data)
