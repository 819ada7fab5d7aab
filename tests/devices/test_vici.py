"""VICI Valco universal electric actuator: driver ↔ simulator over a real socket (and a
pty), faults, the manual's examples, random bytes into the parsers, the selector valve's
limits and completion, and the rotor's timing on the clock.

Wire format from the VICI Universal Electric Actuator manual (EUH/EUD/EUT), 'Optional
Serial Interface': 'Serial Commands' table and 'Command Reference' (AM, CC, CNT, CP, CW,
GO, HM, ID, IFM, LG, NP, SM, VR): CR-terminated lines, an optional ID prefix; `CP`
answers `CPnn` (multiposition) or `CPl` (two-position), `NP` answers `NPnn`; `LG1` gives
the microelectric actuators' longer `Position is  = n` form.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import (
    DriverError,
    GarbledReply,
    InstrumentRefused,
    LimitError,
)
from devices.selector_valve import SelectorValve, ValveConfigError, ValveStuck
from devices.vici import PARSERS, VICIActuator, parse_count, parse_line, parse_position
from ppu.core.clock import Clock
from simulators.vici import VICISimulator
from tests.devices.harness import run_with_driver


def run_with_valve(
    body: Callable[[VICISimulator, VICIActuator, Clock], Awaitable[Any]],
    *,
    pty: bool = False,
    trace: Path | None = None,
    device_id: str | None = None,
    **sim_kw: Any,
) -> Any:
    return run_with_driver(
        body,
        lambda clock: VICISimulator(clock.monotonic, seed=2, device_id=device_id, **sim_kw),
        lambda port: VICIActuator(port, device_id, quiet_window=0.1),
        pty=pty,
        timeout=0.2,
        trace=trace,
    )


def make_valve(actuator: VICIActuator, **kw: Any) -> SelectorValve:
    kw.setdefault("positions", 10)
    kw.setdefault("step_time", 0.15)
    return SelectorValve(actuator, name="sv", **kw)


# -- conformance: the manual's examples --------------------------------------------------
def test_manual_reply_examples_parse() -> None:
    """Command Reference, CP: 'Returns CPnn [0x0D] (nn = current position)' in mode 3 and
    'CPl' (l = A or B) in the two-position modes; NP: 'Returns NPnn [0x0D]'; AM: 'AMn';
    LG: '1 = response includes " = ", to emulate a VICI microelectric actuator'."""
    assert parse_position(parse_line(b"CP03\r")) == 3
    assert parse_position(parse_line(b"CP10\r")) == 10
    assert parse_position(parse_line(b"CPA\r")) == 1
    assert parse_position(parse_line(b"CPB\r")) == 2
    assert parse_position(parse_line(b"Position is  = 3\r")) == 3
    assert parse_position(parse_line(b"Position is = A\r")) == 1
    assert parse_count(parse_line(b"NP10\r"), "NP") == 10
    assert parse_count(parse_line(b"NP = 10\r"), "NP") == 10
    assert parse_count(parse_line(b"AM3\r"), "AM") == 3
    with pytest.raises(InstrumentRefused, match="Bad command"):
        parse_line(b"Bad command\r")
    with pytest.raises(GarbledReply):
        parse_position("CP\x0003")


def test_simulator_answers_manual_requests() -> None:
    """Command Reference examples: CP, NP, NP6 ('Sets the number of positions to 6'),
    AM, SM/SMF, GO3 and HM (no reply in the factory IFM0 mode), LG1, ID/*ID*."""
    sim = VICISimulator(lambda: 0.0, positions=10)
    assert sim.answer(b"CP\r") == b"CP01\r"
    assert sim.answer(b"NP\r") == b"NP10\r"
    assert sim.answer(b"AM\r") == b"AM3\r"
    assert sim.answer(b"SM\r") == b"SMA\r"
    assert sim.answer(b"SMF\r") is None
    assert sim.answer(b"SM\r") == b"SMF\r"
    assert sim.answer(b"NP6\r") is None
    assert sim.answer(b"NP\r") == b"NP6\r"
    assert sim.answer(b"NP7\r") == b"Bad command\r"  # must be even
    assert sim.answer(b"GO3\r") is None
    assert sim.answer(b"GO12\r") == b"Bad command\r"  # beyond NP
    assert sim.answer(b"XYZ\r") == b"Bad command\r"
    assert sim.answer(b"LG1\r") is None
    assert sim.answer(b"NP\r") == b"NP = 6\r"
    assert sim.answer(b"ID5\r") is None
    assert sim.answer(b"CP\r") is None  # with an ID set, unprefixed commands are ignored
    assert sim.answer(b"5*ID*\r") is None
    assert sim.answer(b"IFM1\r") == b"IFM1\r"  # IFM1: action commands echo
    assert sim.answer(b"HM\r") == b"HM\r"


def test_simulator_two_position_mode() -> None:
    """AM1 two-position with stops: CP answers CPA/CPB, GOB moves to B, CW goes to A."""
    t = [0.0]
    sim = VICISimulator(lambda: t[0], step_time_s=0.1)
    assert sim.answer(b"AM1\r") is None
    assert sim.answer(b"CP\r") == b"CPA\r"
    assert sim.answer(b"GOB\r") is None
    t[0] = 1.0
    assert sim.answer(b"CP\r") == b"CPB\r"
    assert sim.answer(b"CW\r") is None
    t[0] = 2.0
    assert sim.answer(b"CP\r") == b"CPA\r"


# -- physics ---------------------------------------------------------------------------
def test_rotor_takes_its_time_and_reports_the_old_position_until_it_arrives() -> None:
    t = [0.0]
    sim = VICISimulator(lambda: t[0], positions=10, step_time_s=0.15)
    sim.answer(b"GO4\r")  # three steps forward
    t[0] = 0.4
    assert sim.answer(b"CP\r") == b"CP01\r"
    t[0] = 0.45
    assert sim.answer(b"CP\r") == b"CP04\r"
    sim.answer(b"GO2\r")  # shortest route: two steps back
    t[0] += 0.3
    assert sim.answer(b"CP\r") == b"CP02\r"
    sim.answer(b"GO10\r")  # 2 → 10 the short way is back through 1: 2 steps
    t[0] += 0.3
    assert sim.answer(b"CP\r") == b"CP10\r"
    sim.answer(b"SMF\r")  # forward only: 10 → 9 is nine steps round
    sim.answer(b"GO9\r")
    t[0] += 1.3
    assert sim.answer(b"CP\r") == b"CP10\r"
    t[0] += 0.1
    assert sim.answer(b"CP\r") == b"CP09\r"
    assert sim.answer(b"CNT\r") == b"CNT16\r"  # 3 + 2 + 2 + 9 positions moved
    sim.answer(b"HM\r")
    t[0] += 10
    assert sim.answer(b"CP\r") == b"CP01\r"


def test_a_stuck_rotor_holds_while_the_fault_lasts() -> None:
    t = [0.0]
    sim = VICISimulator(lambda: t[0], positions=10, step_time_s=0.15)
    sim.faults.stuck_for = 3
    sim.respond(b"GO3\r")
    sim.faults.force("stuck")
    for _ in range(3):
        t[0] += 1.0
        reply, _ = sim.respond(b"CP\r")
        assert reply == b"CP01\r"  # the rotor has not turned
    t[0] += 0.2  # not yet the 0.3 s the move needs, counted from the fault's end
    assert sim.respond(b"CP\r")[0] == b"CP01\r"
    t[0] += 0.2
    assert sim.respond(b"CP\r")[0] == b"CP03\r"


# -- driver against the simulator over a socket --------------------------------------------
def test_driver_queries_and_moves_over_a_socket() -> None:
    async def body(sim, valve, clock):
        first = await valve.position(), await valve.num_positions(), await valve.mode()
        await valve.go(6)
        await asyncio.sleep(1.0)
        return first, await valve.position(), await valve.firmware()

    first, after, firmware = run_with_valve(body)
    assert first == (1, 10, 3)
    assert after == 6
    assert firmware == "EUH-CE 1.00"


def test_driver_with_an_id_prefix_and_legacy_replies() -> None:
    async def body(sim, valve, clock):
        assert valve.frame("CP") == b"7CP\r"
        await valve.home()
        return await valve.position(), await valve.num_positions()

    assert run_with_valve(body, device_id="7", legacy_replies=True) == (1, 10)


def test_driver_accepts_the_echo_of_the_ifm1_response_mode() -> None:
    """IFM: '1 = basic response string' to action commands; the echo is not an objection."""

    async def body(sim, valve, clock):
        sim.ifm = 1
        await valve.go(4)
        await asyncio.sleep(1.0)
        return await valve.position()

    assert run_with_valve(body) == 4


def test_an_objection_to_a_silent_command_is_refused() -> None:
    async def body(sim, valve, clock):
        with pytest.raises(InstrumentRefused, match="Bad command"):
            await valve.action("GO12")
        sim.faults.force("error_reply")
        with pytest.raises(InstrumentRefused):
            await valve.go(3)
        return await valve.position()

    assert run_with_valve(body) == 1  # neither move happened


def test_a_stuck_reading_stops_changing() -> None:
    async def body(sim, valve, clock):
        await valve.go(5)
        sim.faults.stuck_for = 3
        sim.faults.force("stuck")
        stuck = []
        for _ in range(3):
            await asyncio.sleep(1.0)
            stuck.append(await valve.position())
        await asyncio.sleep(1.0)
        return stuck, await valve.position()

    stuck, after = run_with_valve(body)
    assert stuck == [1, 1, 1]
    assert after == 5


# -- the device ------------------------------------------------------------------------
def test_device_set_completes_when_the_valve_reports_the_position() -> None:
    async def body(sim, valve, clock):
        dev = make_valve(valve, safe_position=10)
        await dev.connect()
        await dev.check_configuration()
        t0 = clock.now()
        await dev.set(4)
        took = clock.now() - t0
        reading = await dev.read()
        await dev.safe_state()
        return took, reading, sim.position, await dev.read_configuration()

    took, reading, final, config = run_with_valve(body)
    assert took == pytest.approx(0.45, abs=0.11)  # three steps of 0.15 s
    assert reading["sv-position"]["value"] == 4
    assert final == 10  # the safe position
    assert config["sv-positions"]["value"] == 10
    assert config["sv-safe_position"]["value"] == 10


def test_device_repeats_a_lost_move_command() -> None:
    async def body(sim, valve, clock):
        dev = make_valve(valve)
        await dev.connect()
        real_answer = sim.answer
        gos: list[bytes] = []

        def answer(request: bytes):
            if request.startswith(b"GO"):
                gos.append(request)
                if len(gos) == 1:
                    return None  # the first GO never reaches the actuator
            return real_answer(request)

        sim.answer = answer
        await dev.set(7)
        return len(gos), sim.position

    assert run_with_valve(body) == (2, 7)


def test_device_waits_out_a_briefly_stuck_rotor_and_gives_up_on_a_seized_one() -> None:
    async def body(sim, valve, clock):
        dev = make_valve(valve, attempts=2)
        await dev.connect()
        sim.faults.stuck_for = 4
        sim.faults.force("stuck", times=1)
        t0 = clock.now()
        await dev.set(3)
        slow = clock.now() - t0
        sim.faults.stuck_for = 10_000
        sim.faults.force("stuck")
        with pytest.raises(ValveStuck, match="not 8"):
            await dev.set(8)
        return slow, sim.position

    slow, position = run_with_valve(body)
    assert slow > 0.3  # longer than the two steps alone
    assert position == 3  # the seized rotor never left


def test_device_notices_a_different_number_of_positions() -> None:
    async def body(sim, valve, clock):
        dev = make_valve(valve, positions=8)
        with pytest.raises(ValveConfigError, match="indexes 10 positions"):
            await dev.check_configuration()

    run_with_valve(body)


def test_limits_are_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    trace = tmp_path / "valve.trace"

    async def body(sim, valve, clock):
        dev = make_valve(valve)
        await dev.connect()
        before = sim.requests
        for bad in (0, 11, -3, 2.5, True, "3", None):
            with pytest.raises(LimitError):
                await dev.set(bad)  # type: ignore[arg-type]
        return sim.requests - before

    assert run_with_valve(body, trace=trace) == 0
    assert " >> " not in trace.read_text()


def test_device_refuses_a_safe_position_outside_its_range() -> None:
    with pytest.raises(ValueError, match="safe position 12"):
        SelectorValve(None, positions=10, safe_position=12)  # type: ignore[arg-type]


# -- property: random bytes give only typed errors ------------------------------------------
@given(st.binary(max_size=64))
def test_random_bytes_into_the_parsers_give_only_typed_errors(raw: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(DriverError):
            parse(raw)


@given(st.binary(max_size=24))
def test_random_lines_give_only_typed_errors(payload: bytes) -> None:
    try:
        text = parse_line(payload + b"\r")
    except DriverError:
        return
    for parse in (parse_position, lambda s: parse_count(s, "NP")):
        with contextlib.suppress(DriverError):
            parse(text)
