"""Eurotherm 3200 over Modbus RTU: driver ↔ simulator over a real socket (and a pty),
faults, frames from the specifications, random bytes into the reply parser, device limits
refused before the wire, and the furnace physics.

Sources: Eurotherm 3200 Series Engineering Manual HA028651 Issue 7 (chapter 15, "Digital
Communications"; 15.5 "Parameter Modbus Addresses": PV.IN 1, TG.SP 2, MAN.OP 3, WRK.OP 4,
WKG.SP 5, SP.RAT 35, instrument version 107, instrument type code 122); MODBUS Application
Protocol Specification V1.1b3 (section 6 function codes, section 7 exception responses);
MODBUS over Serial Line V1.02 (2.5.1 RTU framing, 6.2.2 CRC).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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
from devices.eurotherm import Eurotherm3200, LoopMode, Register
from devices.modbus_rtu import parse_reply, request_bytes
from devices.retry import retry_safe
from devices.temperature_controller import TemperatureController, parse_rate
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.eurotherm import Eurotherm3200Simulator
from simulators.modbus_rtu import crc16
from tests.devices.harness import run_with_driver


def framed(hex_without_crc: str) -> bytes:
    body = bytes.fromhex(hex_without_crc)
    return body + crc16(body)


def run_with_controller(
    body: Callable[[Eurotherm3200Simulator, Eurotherm3200, Clock], Awaitable[Any]],
    *,
    pty: bool = False,
    trace: Path | None = None,
    **sim_kw: Any,
) -> Any:
    return run_with_driver(
        body,
        lambda clock: Eurotherm3200Simulator(clock.monotonic, seed=5, **sim_kw),
        Eurotherm3200,
        pty=pty,
        # 115200 baud keeps minimalmodbus's inter-frame silence at its 1.75 ms floor.
        baudrate=115200,
        timeout=0.2,
        trace=trace,
    )


# -- conformance: frames from the manuals ------------------------------------------------
def test_read_pv_frame_from_the_manual() -> None:
    """HA028651 15.5: PV.IN is address 1. Read one word (function 03) from slave 1 is
    `01 03 00 01 00 01 D5 CA` (CRC per Serial Line V1.02 6.2.2); 25.0 degC is 250."""
    request = bytes.fromhex("010300010001D5CA")
    assert request_bytes(lambda i: i.read_register(Register.PV_IN, 1, 3, True)) == request
    assert framed("010300010001") == request  # the simulator's own CRC agrees
    reply = framed("01030200FA")
    assert parse_reply(reply, lambda i: i.read_register(1, 1, 3, True)) == pytest.approx(25.0)

    sim = Eurotherm3200Simulator(lambda: 0.0, ambient_c=25.0, noise_c=0.0)
    assert sim.answer(request) == reply


def test_read_holding_registers_example_from_the_modbus_spec() -> None:
    """Application Protocol V1.1b3, 6.3 (03 Read Holding Registers): registers 108-110
    (start 006B, quantity 3) read 022B 0000 0064; on a serial line to slave 0x11 the
    request is `11 03 00 6B 00 03 76 87`."""
    request = bytes.fromhex("1103006B00037687")
    assert request_bytes(lambda i: i.read_registers(0x6B, 3), slave=0x11) == request
    reply = framed("110306022B00000064")
    assert parse_reply(reply, lambda i: i.read_registers(0x6B, 3), slave=0x11) == [555, 0, 100]


def test_write_setpoint_frame_and_echo() -> None:
    """Application Protocol V1.1b3, 6.6 (06 Write Single Register): the reply echoes the
    request. TG.SP (address 2) = 100.0 degC at one decimal is 1000 = 0x03E8."""
    request = framed("0106000203E8")
    op = lambda i: i.write_register(Register.TG_SP, 100.0, 1, 6, True)  # noqa: E731
    assert request_bytes(op) == request
    sim = Eurotherm3200Simulator(lambda: 0.0)
    assert sim.answer(request) == request
    assert sim.target_sp == 100.0
    assert parse_reply(request, op) is None


def test_exception_replies_from_the_spec() -> None:
    """Application Protocol V1.1b3, section 7: the reply to a refused request is the
    function code + 0x80 and one exception code (01 function, 02 address, 03 value)."""
    sim = Eurotherm3200Simulator(lambda: 0.0)
    assert sim.answer(framed("012B0E0100")) == framed("01AB01")  # unsupported function
    assert sim.answer(framed("010303E70001")) == framed("018302")  # no parameter at 999
    assert sim.answer(framed("010600024E20")) == framed("018603")  # TG.SP 2000.0 > SP.HI
    assert sim.answer(framed("0106000100FA")) == framed("018603")  # PV.IN is read only
    for raw, code in (
        (framed("018302"), "02"),
        (framed("018603"), "03"),
        (framed("018301"), "01"),
        (framed("018304"), "04"),
    ):
        with pytest.raises(InstrumentRefused) as e:
            parse_reply(raw, lambda i: i.read_register(1, 1))
        assert e.value.code == code


def test_simulator_ignores_damaged_and_foreign_frames() -> None:
    """Serial Line V1.02, 2.5.1.2: a frame with a CRC error is discarded; a slave answers
    only its own address; a broadcast (address 0) is executed and never answered."""
    sim = Eurotherm3200Simulator(lambda: 0.0)
    good = framed("010300010001")
    assert sim.answer(good[:-1] + bytes([good[-1] ^ 1])) is None
    assert sim.answer(framed("020300010001")) is None
    assert sim.answer(framed("000600020190")) is None  # broadcast TG.SP = 40.0
    assert sim.target_sp == 40.0
    assert sim.answer(framed("010800001234")) == framed("010800001234")  # loopback


# -- driver against the simulator over a socket --------------------------------------------
def test_driver_reads_and_writes_over_a_socket(tmp_path: Path) -> None:
    trace = tmp_path / "oven.trace"

    async def body(sim, euro, clock):
        ident = await euro.identity()
        pv = await euro.pv()
        await euro.set_setpoint(Q_(120.5, "degC"))
        await euro.set_ramp_rate(Q_(7.5, "delta_degC/min"))
        await euro.set_loop_mode(LoopMode.MANUAL)
        await euro.set_manual_output(Q_(40, "percent"))
        return (
            ident,
            pv,
            await euro.setpoint(),
            await euro.ramp_rate(),
            await euro.loop_mode(),
            await euro.output(),
            await euro.setpoint_limits(),
        )

    ident, pv, sp, rate, mode, out, limits = run_with_controller(body, trace=trace)
    assert ident == "Eurotherm 3200 type 0x3216 V1.11"
    assert pv.to("degC").magnitude == pytest.approx(22.0, abs=0.2)
    assert sp == Q_(120.5, "degC")
    assert rate == Q_(7.5, "delta_degC/min")
    assert mode is LoopMode.MANUAL
    assert out == Q_(40.0, "percent")
    assert [q.magnitude for q in limits] == [-200.0, 1000.0]
    text = trace.read_text()
    assert ">> 01 03 00 01 00 01 d5 ca" in text  # every byte is in the wire trace
    assert "<< 01 03 02" in text


def test_retry_safe_rides_over_a_dropped_connection() -> None:
    async def body(sim, euro, clock):
        sim.faults.force("disconnect")
        return await retry_safe(euro.port, euro.setpoint)

    assert run_with_controller(body) == Q_(22.0, "degC")


def test_error_reply_carries_the_modbus_code() -> None:
    async def body(sim, euro, clock):
        sim.faults.force("error_reply")
        with pytest.raises(InstrumentRefused) as failed:
            await euro.pv()
        with pytest.raises(InstrumentRefused) as address:
            await euro.bus.read_register(999)
        with pytest.raises(InstrumentRefused) as value:
            await euro.set_setpoint(Q_(1200, "degC"))  # above the controller's SP.HI
        with pytest.raises(InstrumentRefused) as function:
            await euro.bus.read_bits(0, 1, functioncode=1)
        return failed.value.code, address.value.code, value.value.code, function.value.code

    assert run_with_controller(body) == ("04", "02", "03", "01")


def test_a_stuck_reading_stops_changing() -> None:
    async def body(sim, euro, clock):
        await euro.set_setpoint(Q_(300, "degC"))
        await asyncio.sleep(30)
        before = await euro.pv()
        sim.faults.stuck_for = 3
        sim.faults.force("stuck")
        stuck = []
        for _ in range(3):
            await asyncio.sleep(30)
            stuck.append(await euro.pv())
        await asyncio.sleep(30)
        return before, stuck, await euro.pv()

    before, stuck, after = run_with_controller(body, noise_c=0.0)
    assert stuck == [before] * 3  # frozen while the furnace heats at full power
    assert after.magnitude > before.magnitude + 20


# -- property: random bytes give only typed errors ------------------------------------------
_OPS = [
    lambda i: i.read_register(1, 1, 3, True),
    lambda i: i.read_register(107, 0, 3, False),
    lambda i: i.write_register(2, 100.0, 1, 6, True),
]


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=24))
def test_random_bytes_into_the_parser_give_only_typed_errors(raw: bytes) -> None:
    for op in _OPS:
        with contextlib.suppress(GarbledReply, InstrumentRefused):
            parse_reply(raw, op)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=12))
def test_random_frames_with_a_good_crc_give_only_typed_errors(function: int, data: bytes) -> None:
    raw = framed(f"01{function:02X}{data.hex()}")
    for op in _OPS:
        with contextlib.suppress(GarbledReply, InstrumentRefused):
            parse_reply(raw, op)


# -- device: limits refused before the wire ------------------------------------------------
def test_limits_are_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    trace = tmp_path / "oven.trace"

    async def body(sim, euro, clock):
        dev = TemperatureController(
            euro,
            name="oven",
            min_setpoint="20 degC",
            max_setpoint="250 degC",
            max_ramp_rate="10 K/min",
        )
        await dev.connect()
        before = sim.requests
        size = trace.stat().st_size
        for bad in (300.0, 19.9, -50.0, math.nan):
            with pytest.raises(LimitError):
                await dev.setpoint.set(bad)
            with pytest.raises(LimitError):
                await dev.set(bad)
        with pytest.raises(LimitError):
            await dev.set(True)  # not a temperature
        with pytest.raises(LimitError, match="ramp rate 12"):
            await dev.ramp_rate.set(12.0)
        with pytest.raises(LimitError):
            await dev.ramp_rate.set(-1.0)
        return sim.requests - before, trace.stat().st_size - size

    assert run_with_controller(body, trace=trace) == (0, 0)


def test_limits_are_in_the_signal_metadata() -> None:
    async def body(sim, euro, clock):
        dev = TemperatureController(euro, name="oven", max_setpoint="250 degC")
        await dev.connect()
        return await dev.describe_configuration(), await dev.describe()

    config, described = run_with_controller(body)
    assert config["oven-setpoint"]["limits"]["control"] == {"low": 0.0, "high": 250.0}
    assert config["oven-setpoint"]["units"] == "degC"
    assert config["oven-ramp_rate"]["units"] == "degC/min"
    assert described["oven-temperature"]["units"] == "degC"
    assert described["oven-output"]["units"] == "%"


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(LimitError):
        TemperatureController(None, min_setpoint="300 degC", max_setpoint="200 degC")  # type: ignore[arg-type]
    with pytest.raises(LimitError):
        TemperatureController(None, max_setpoint="20 degC", min_setpoint="0 degC")  # type: ignore[arg-type]
    assert parse_rate("10 degC/min") == Q_(10, "delta_degC/min")  # not 283.15 K/min


# -- device: moving and the safe state -----------------------------------------------------
def test_set_completes_after_the_dwell_inside_the_tolerance() -> None:
    async def body(sim, euro, clock):
        dev = TemperatureController(
            euro, name="oven", tolerance="1 K", dwell="120 s", poll_interval=20.0
        )
        await dev.connect()
        await dev.ramp_rate.set(10.0)
        t0 = clock.now()
        await dev.set(150.0)
        return clock.now() - t0, sim.temperature_c, await dev.setpoint.get_value()

    took, temperature, setpoint = run_with_controller(body)
    # 128 K at 10 K/min is 768 s of ramp, then the dwell
    assert 768 + 120 <= took < 2400
    assert temperature == pytest.approx(150.0, abs=1.0)
    assert setpoint == 150.0


def test_set_times_out_when_the_heater_cannot_reach_the_setpoint() -> None:
    async def body(sim, euro, clock):
        dev = TemperatureController(euro, name="oven", poll_interval=60.0, timeout="2 h")
        await dev.connect()
        with pytest.raises(TimeoutError):
            await dev.set(390.0)
        return sim.temperature_c

    # 300 W into 2 W/K tops out at 22 + 150 degC
    assert run_with_controller(body, heater_w=300.0) < 172.5


def test_safe_state_drops_the_setpoint_and_switches_the_output_off() -> None:
    async def body(sim, euro, clock):
        dev = TemperatureController(euro, name="oven", poll_interval=30.0, dwell="30 s")
        await dev.connect()
        await dev.set(100.0)
        await dev.safe_state()
        await asyncio.sleep(600)
        state = (await euro.setpoint(), await euro.loop_mode(), await euro.output())
        await dev.set(60.0)  # back to auto from the safe state
        return state, await euro.loop_mode(), sim.temperature_c

    (sp, mode, out), mode_after, t_after = run_with_controller(body)
    assert sp == Q_(25.0, "degC")
    assert mode is LoopMode.MANUAL
    assert out == Q_(0.0, "percent")
    assert mode_after is LoopMode.AUTO
    assert t_after == pytest.approx(60.0, abs=1.0)


# -- simulator physics ----------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _read(sim: Eurotherm3200Simulator, address: int) -> float:
    reply = sim.answer(framed(f"0103{address:04X}0001"))
    assert reply is not None
    raw = int.from_bytes(reply[3:5], "big", signed=True)
    return raw / 10


def test_heating_is_limited_by_the_heater_and_lags() -> None:
    t = _Clock()
    sim = Eurotherm3200Simulator(t, noise_c=0.0)
    sim.answer(framed("010600020FA0"))  # TG.SP = 400.0, no rate limit: a step
    temps = []
    for _ in range(20):
        t.t += 60
        temps.append(_read(sim, 1))
    rises = [b - a for a, b in zip([22.0, *temps], temps, strict=False)]
    # 1000 W into 2000 J/K is at most 0.5 K/s = 30 K/min, less as the losses grow
    assert all(0 < r <= 30.0 for r in rises)
    assert rises[-1] < rises[0]  # first-order lag: the rise slows
    assert _read(sim, 4) == 100.0  # output saturated while far below the setpoint
    t.t += 6 * 3600
    assert _read(sim, 1) == pytest.approx(400.0, abs=0.2)
    assert 0 < _read(sim, 4) < 100  # holding: losses 2 W/K × 378 K ≈ 76 % of 1000 W
    assert _read(sim, 4) == pytest.approx(75.6, abs=0.5)


def test_setpoint_ramp_is_limited_by_the_rate() -> None:
    t = _Clock()
    sim = Eurotherm3200Simulator(t, noise_c=0.0)
    sim.answer(framed("010600230032"))  # SP.RAT (35) = 5.0 degC/min
    assert sim.sp_rate == 5.0
    sim.answer(framed("010600020BB8"))  # TG.SP = 300.0
    t.t += 600
    assert _read(sim, 5) == pytest.approx(22.0 + 50.0, abs=0.1)  # WKG.SP ramps from the PV
    assert _read(sim, 75) * 10 == 1 << 13  # status: ramp running
    assert abs(_read(sim, 1) - _read(sim, 5)) < 3.0  # the furnace follows the ramp
    t.t += 3600
    assert _read(sim, 5) == 300.0


def test_manual_output_settles_at_the_heat_balance() -> None:
    t = _Clock()
    sim = Eurotherm3200Simulator(t, noise_c=0.0)
    sim.answer(framed("010601110001"))  # A-M (273) = manual
    sim.answer(framed("0106000301F4"))  # MAN.OP = 50.0 %
    t.t += sim.time_constant_s
    # one time constant: 63 % of the way to 22 + 500 W / 2 W/K = 272 degC
    assert _read(sim, 1) == pytest.approx(22 + 250 * (1 - math.exp(-1)), abs=0.1)
    sim.answer(framed("010600030000"))  # output off: passive cooling only
    before = _read(sim, 1)
    t.t += 600
    after = _read(sim, 1)
    assert 22.0 < after < before


def test_same_seed_same_readings() -> None:
    def readings() -> list[float]:
        t = _Clock()
        sim = Eurotherm3200Simulator(t, seed=11)
        sim.answer(framed("010600020FA0"))
        out = []
        for _ in range(10):
            t.t += 17
            out.append(_read(sim, 1))
        return out

    assert readings() == readings()
