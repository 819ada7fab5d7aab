"""Modbus RTU relay module and solenoid valves: driver ↔ simulator over a real socket (and
a pty), faults, the specification's example frames, random bytes into the reply parser,
limits and interlocks refused before a coil moves, and the relay/valve physics.

Sources: MODBUS Application Protocol Specification V1.1b3, 6.1 (01 Read Coils), 6.2 (02
Read Discrete Inputs), 6.5 (05 Write Single Coil), 6.11 (0F Write Multiple Coils) and
section 7 (exception responses); MODBUS over Serial Line V1.02, 2.5.1 (RTU framing) and
6.2.2 (CRC). The examples in the application specification are PDUs; here they are framed
for slave 0x11 with the serial line's CRC.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import (
    GarbledReply,
    InstrumentRefused,
    LimitError,
)
from devices.modbus_relay import ModbusRelayModule
from devices.modbus_rtu import parse_reply, request_bytes
from devices.port import SerialPort
from devices.solenoid_valve import SolenoidValve, ValveBank
from ppu.core.clock import Clock
from simulators.modbus_relay import ModbusRelaySimulator
from simulators.modbus_rtu import crc16
from tests.devices.harness import run_with_driver


def framed(hex_without_crc: str) -> bytes:
    body = bytes.fromhex(hex_without_crc)
    return body + crc16(body)


def bits_of(hex_bytes: str, count: int) -> list[bool]:
    data = bytes.fromhex(hex_bytes)
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]


def run_with_relay(
    body: Callable[[ModbusRelaySimulator, ModbusRelayModule, Clock], Awaitable[Any]],
    *,
    pty: bool = False,
    trace: Path | None = None,
    slave: int = 1,
    channels: int = 8,
    **sim_kw: Any,
) -> Any:
    return run_with_driver(
        body,
        lambda clock: ModbusRelaySimulator(
            clock.monotonic, seed=2, address=slave, channels=channels, **sim_kw
        ),
        lambda port: ModbusRelayModule(port, slave, channels),
        pty=pty,
        baudrate=115200,
        timeout=0.2,
        trace=trace,
    )


# -- conformance: the specification's examples --------------------------------------------
def test_read_coils_example() -> None:
    """V1.1b3 6.1: read coils 20-38 (start 0013, quantity 0013): status CD 6B 05."""
    request = framed("110100130013")
    assert request_bytes(lambda i: i.read_bits(0x13, 19, 1), slave=0x11) == request
    reply = framed("110103CD6B05")
    expected = bits_of("CD6B05", 19)
    assert parse_reply(reply, lambda i: i.read_bits(0x13, 19, 1), slave=0x11) == [
        int(b) for b in expected
    ]
    sim = ModbusRelaySimulator(lambda: 0.0, address=0x11, channels=64)
    for i, bit in enumerate(expected):
        sim.coils[0x13 + i] = bit
    assert sim.answer(request) == reply


def test_read_discrete_inputs_example() -> None:
    """V1.1b3 6.2: read inputs 197-218 (start 00C4, quantity 0016): AC DB 35."""
    t = [0.0]
    request = framed("110200C40016")
    assert request_bytes(lambda i: i.read_bits(0xC4, 22, 2), slave=0x11) == request
    reply = framed("110203ACDB35")
    expected = bits_of("ACDB35", 22)
    sim = ModbusRelaySimulator(lambda: t[0], address=0x11, channels=256)
    for i, bit in enumerate(expected):
        sim.set_coil(0xC4 + i, bit)
    t[0] = 1.0  # the valves have moved: their position inputs follow the coils
    assert sim.answer(request) == reply
    assert parse_reply(reply, lambda i: i.read_bits(0xC4, 22, 2), slave=0x11) == [
        int(b) for b in expected
    ]


def test_write_single_coil_example(tmp_path: Path) -> None:
    """V1.1b3 6.5: coil 173 (00AC) ON is FF00; the reply echoes the request:
    `11 05 00 AC FF 00 4E 8B`. Checked on the driver's own wire trace."""
    frame = "11 05 00 ac ff 00 4e 8b"
    assert framed("110500ACFF00") == bytes.fromhex(frame)
    trace = tmp_path / "relay.trace"

    async def body(sim, relay, clock):
        await relay.set_coil(0xAC, True)
        return sim.coils[0xAC]

    assert run_with_relay(body, trace=trace, slave=0x11, channels=256) is True
    text = trace.read_text()
    assert f">> {frame}" in text and f"<< {frame}" in text


def test_write_multiple_coils_example() -> None:
    """V1.1b3 6.11: coils 20-29 (start 0013, quantity 000A, 2 bytes CD 01); the reply
    carries start and quantity."""
    states = bits_of("CD01", 10)
    request = framed("110F0013000A02CD01")
    op = lambda i: i.write_bits(0x13, [int(s) for s in states])  # noqa: E731
    assert request_bytes(op, slave=0x11) == request
    sim = ModbusRelaySimulator(lambda: 0.0, address=0x11, channels=64)
    reply = sim.answer(request)
    assert reply == framed("110F0013000A")
    assert sim.coils[0x13:0x1D] == states
    assert parse_reply(reply, op, slave=0x11) is None


def test_exception_responses() -> None:
    """V1.1b3 section 7: read coil 1185 (04A1) from slave 0x0A where it does not exist
    answers `0A 81 02` (illegal data address)."""
    sim = ModbusRelaySimulator(lambda: 0.0, address=0x0A)
    assert sim.answer(framed("0A0104A10001")) == framed("0A8102")
    with pytest.raises(InstrumentRefused) as e:
        parse_reply(framed("0A8102"), lambda i: i.read_bits(0x04A1, 1, 1), slave=0x0A)
    assert e.value.code == "02"
    assert sim.answer(framed("0A0300000001")) == framed("0A8301")  # no registers here
    assert sim.answer(framed("0A0500011234")) == framed("0A8503")  # neither FF00 nor 0000
    assert sim.answer(framed("0A0100000000")) == framed("0A8103")  # quantity 0
    assert sim.answer(framed("0B0100000001")) is None  # another slave's frame


# -- driver against the simulator over a socket --------------------------------------------
def test_driver_switches_and_reads_back() -> None:
    async def body(sim, relay, clock):
        await relay.set_coil(3, True)
        await relay.set_coils([True, False, True, False, False, False, False, True])
        coils = await relay.coils()
        one = await relay.coil(2)
        await asyncio.sleep(1)
        inputs = await relay.inputs()
        await relay.all_off()
        return coils, one, inputs, sim.coils

    coils, one, inputs, final = run_with_relay(body)
    assert coils == [True, False, True, False, False, False, False, True]
    assert one is True
    assert inputs == coils
    assert final == [False] * 8


def test_a_stuck_position_input_stops_changing() -> None:
    async def body(sim, relay, clock):
        before = await relay.inputs()
        sim.faults.stuck_for = 3
        sim.faults.force("stuck")
        await relay.set_coil(0, True)  # consumes the stuck fault's first request
        await asyncio.sleep(1)
        stuck = [await relay.inputs() for _ in range(2)]
        after = await relay.inputs()
        return before, stuck, after

    before, stuck, after = run_with_relay(body)
    assert stuck == [before, before]  # the valve moved but its input reads frozen
    assert after[0] is True


# -- property: random bytes give only typed errors ------------------------------------------
_OPS = [
    lambda i: i.read_bits(0, 8, 1),
    lambda i: i.read_bits(0, 8, 2),
    lambda i: i.write_bit(3, 1, 5),
    lambda i: i.write_bits(0, [1, 0, 1, 0, 0, 0, 0, 1]),
]


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=24))
def test_random_bytes_into_the_parser_give_only_typed_errors(raw: bytes) -> None:
    for op in _OPS:
        with contextlib.suppress(GarbledReply, InstrumentRefused):
            parse_reply(raw, op)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=10))
def test_random_frames_with_a_good_crc_give_only_typed_errors(function: int, data: bytes) -> None:
    raw = framed(f"01{function:02X}{data.hex()}")
    for op in _OPS:
        with contextlib.suppress(GarbledReply, InstrumentRefused):
            parse_reply(raw, op)


# -- devices: limits and interlocks refused before a coil moves -------------------------------
def test_limits_are_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    trace = tmp_path / "relay.trace"

    async def body(sim, relay, clock):
        valve = SolenoidValve(relay, 2, name="v2")
        await valve.connect()
        before, size = sim.requests, trace.stat().st_size
        for bad in (1, "yes", None, 2.0):
            with pytest.raises(LimitError):
                await valve.set(bad)
        with pytest.raises(LimitError):
            await relay.set_coil(8, True)  # an 8-relay module has channels 0..7
        with pytest.raises(LimitError):
            await relay.set_coil(-1, False)
        with pytest.raises(LimitError):
            await relay.set_coils([True] * 7)
        with pytest.raises(LimitError):
            SolenoidValve(relay, 9)
        return sim.requests - before, trace.stat().st_size - size

    assert run_with_relay(body, trace=trace) == (0, 0)


def test_interlock_refuses_without_moving_a_coil(tmp_path: Path) -> None:
    trace = tmp_path / "relay.trace"

    async def body(sim, relay, clock):
        bank = ValveBank(
            relay,
            {"vacuum": 0, "dose": 1, "helium": 2},
            interlocks=[{"vacuum", "dose"}, {"vacuum", "helium"}],
            name="manifold",
        )
        await bank.connect()
        await bank.vacuum.set(True)
        size = trace.stat().st_size
        with pytest.raises(LimitError, match="breaks interlock"):
            await bank.dose.set(True)
        with pytest.raises(LimitError, match="breaks interlock"):
            await bank.set_open({"dose": True, "helium": True})
        with pytest.raises(LimitError):
            await bank.set_open({"argon": True})
        sent = [line for line in trace.read_text()[size:].splitlines() if " >> " in line]
        coils = list(sim.coils)
        # closing vacuum and opening dose in one move is allowed: closings go first
        await bank.set_open({"vacuum": False, "dose": True})
        return sent, coils, list(sim.coils)

    sent, refused_coils, final = run_with_relay(body, trace=trace)
    # only reads of the coil states (function 01) went out; no coil was written
    assert sent and all(line.split(" >> ")[1].startswith("01 01") for line in sent)
    assert refused_coils[:3] == [True, False, False]
    assert final[:3] == [False, True, False]


def test_bank_configuration_errors(virtual_clock: Clock) -> None:
    relay = ModbusRelayModule(SerialPort("socket://127.0.0.1:9", virtual_clock))  # never opened
    with pytest.raises(LimitError):
        ValveBank(relay, {"a": 0, "b": 0})
    with pytest.raises(LimitError):
        ValveBank(relay, {"a": 0}, interlocks=[{"a", "ghost"}])
    with pytest.raises(LimitError):
        ValveBank(relay, {"relay": 0})  # would shadow the bank's own attribute
    with pytest.raises(LimitError):
        ModbusRelayModule(relay.port, slave=0)  # broadcast is not a module's address


# -- devices: moving and the safe state ---------------------------------------------------
def test_valve_opens_with_feedback_and_closes_to_safe_state() -> None:
    changes: list[tuple[float, int, bool]] = []

    async def body(sim, relay, clock):
        sim.on_change = lambda ch, on: changes.append((clock.now(), ch, on))
        valve = SolenoidValve(relay, 4, feedback=True, actuation_time="0.1 s", name="dose")
        await valve.connect()
        await valve.set(True)
        opened = await valve.open.get_value(), sim.coils[4]
        await valve.safe_state()
        return opened, await valve.open.get_value(), sim.coils[4], await valve.read()

    opened, closed, coil, reading = run_with_relay(body)
    assert opened == (True, True)
    assert (closed, coil) == (False, False)
    assert reading["dose-open"]["value"] is False
    assert [(ch, on) for _, ch, on in changes] == [(4, True), (4, False)]


def test_feedback_catches_a_valve_that_did_not_move() -> None:
    async def body(sim, relay, clock):
        valve = SolenoidValve(relay, 0, feedback=True, actuation_time="0.01 s", name="v")
        await valve.connect()
        with pytest.raises(InstrumentRefused, match="did not report open"):
            await valve.set(True)  # the solenoid needs 0.05 s; we looked after 0.01 s

    run_with_relay(body)


def test_normally_open_valve_is_closed_by_energising() -> None:
    async def body(sim, relay, clock):
        bank = ValveBank(relay, {"vent": 6, "inlet": 7}, normally_open={"vent"}, name="b")
        await bank.connect()
        initially = await bank.open_valves()
        await bank.safe_state()
        return initially, sim.coils[6:8], await bank.open_valves()

    initially, coils, after = run_with_relay(body)
    assert initially == {"vent"}  # de-energised, a normally open valve is open
    assert coils == [True, False]  # safe state is closed: vent energised, inlet released
    assert after == set()


# -- simulator physics ----------------------------------------------------------------------
def test_coils_keep_state_inputs_lag_and_changes_are_reported() -> None:
    t = [0.0]
    seen: list[tuple[int, bool]] = []
    sim = ModbusRelaySimulator(
        lambda: t[0], actuation_s=0.05, on_change=lambda ch, on: seen.append((ch, on))
    )
    assert sim.answer(framed("01050002FF00")) == framed("01050002FF00")
    assert sim.answer(framed("01050002FF00")) is not None  # again: no change, no event
    assert sim.answer(framed("010200000008")) == framed("01020100")  # not moved yet
    t[0] = 0.06
    assert sim.answer(framed("010200000008")) == framed("01020104")  # input 2 now on
    assert sim.answer(framed("010100000008")) == framed("01010104")
    t[0] = 3600.0
    assert sim.answer(framed("010100000008")) == framed("01010104")  # still on an hour later
    sim.answer(framed("010500020000"))
    assert seen == [(2, True), (2, False)]
    assert sim.cycles[2] == 2
