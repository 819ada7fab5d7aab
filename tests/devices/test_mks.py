"""MKS 9xx vacuum transducer: driver ↔ simulator over a real socket (and a pty), faults,
the manuals' examples, random bytes into the parsers, the gauge device's range flag and
setpoint limits, and the simulator's physics.

Wire format from the MKS 902B Absolute Piezo Operation manual ('Query and Command Syntax',
'Response Syntax (ACK/NAK)', 'Query Command list' p. 46, 'Setup and configuration command
list' p. 47), the 910 DualTrans manual ('Query Command list' p. 46, 'Serial Number - SN'
p. 24) and the 901P manual's NAK code table: queries `@aaaCMD?;FF`, commands
`@aaaCMD!value;FF`, replies `@aaaACKdata;FF` / `@aaaNAKcode;FF`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
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
from devices.mks import (
    PARSERS,
    MKSGauge,
    format_number,
    parse_number,
    parse_pressure,
    parse_reply,
    parse_unit,
)
from devices.pressure_gauge import PressureGauge, RangeStatus
from devices.retry import retry_safe
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.mks import TORR_PA, MKSGaugeSimulator, PumpedVolume
from tests.devices.harness import run_with_driver


def run_with_gauge(
    body: Callable[[MKSGaugeSimulator, MKSGauge, Clock], Awaitable[Any]],
    *,
    pty: bool = False,
    trace: Path | None = None,
    pressure_pa: Callable[[], float] | None = None,
    **sim_kw: Any,
) -> Any:
    def simulator(clock: Clock) -> MKSGaugeSimulator:
        source = pressure_pa or PumpedVolume(clock.monotonic)
        return MKSGaugeSimulator(clock.monotonic, source, seed=5, **sim_kw)

    return run_with_driver(body, simulator, MKSGauge, pty=pty, timeout=0.2, trace=trace)


# -- conformance: the manuals' examples --------------------------------------------------
def test_manual_reply_examples_parse() -> None:
    """910 DualTrans manual p. 46: `@xxxACK1.23E-3;FF` (PR1, 3 digits) and
    `@xxxACK1.234E-3;FF` (PR4); 905 design guide 'Pressure Reading - PR1':
    `@253ACK9.00E+2;FF`; 902B manual p. 46: `@xxxACK1.234E0;FF` (PR4) and
    `@xxxACKTORR;FF` (U?); 902B p. 47: `@xxxACKMBAR;FF` (U!MBAR); 910 p. 24:
    `@253ACK1125123456;FF` (SN?); 901P: `@xxxACK-7.60E+2;FF` (Piezo differential)."""
    assert parse_number(parse_reply(b"@253ACK1.23E-3;FF")) == pytest.approx(1.23e-3)
    assert parse_number(parse_reply(b"@253ACK1.234E-3;FF")) == pytest.approx(1.234e-3)
    assert parse_number(parse_reply(b"@253ACK9.00E+2;FF", 253)) == pytest.approx(900.0)
    assert parse_number(parse_reply(b"@253ACK1.234E0;FF")) == pytest.approx(1.234)
    assert parse_number(parse_reply(b"@253ACK-7.60E+2;FF")) == pytest.approx(-760.0)
    assert parse_unit(parse_reply(b"@253ACKTORR;FF")) == "TORR"
    assert parse_unit(parse_reply(b"@253ACKMBAR;FF")) == "MBAR"
    assert parse_reply(b"@253ACK1125123456;FF") == "1125123456"
    assert parse_pressure("7.60E+2", "TORR") == Q_(760.0, "torr")
    assert parse_pressure("1.01E+5", "PASCAL") == Q_(1.01e5, "Pa")


def test_manual_nak_examples_raise_with_their_code() -> None:
    """902B manual, 'Response Syntax (ACK/NAK)': `@253NAK160;FF` (command had an error);
    901P/902B NAK table: 8, 9, 160, 169, 172, 175."""
    for code, words in [
        ("8", "zero adjustment"),
        ("9", "atmospheric adjustment"),
        ("160", "unrecognized"),
        ("169", "invalid argument"),
        ("172", "out of range"),
        ("175", "character invalid"),
    ]:
        with pytest.raises(InstrumentRefused, match=words) as e:
            parse_reply(f"@253NAK{code};FF".encode())
        assert e.value.code == code


def test_reply_from_another_address_is_not_taken() -> None:
    with pytest.raises(GarbledReply):
        parse_reply(b"@001ACK1.23E-3;FF", 253)
    assert parse_reply(b"@001ACK1.23E-3;FF", 254) == "1.23E-3"  # universal address


def test_number_format_matches_the_manual() -> None:
    """The manual prints three significant digits: 1.23E-3, 7.60E+2, 2.00E+1 (SP1!)."""
    assert format_number(1.23e-3) == "1.23E-3"
    assert format_number(760.0) == "7.60E+2"
    assert format_number(20.0) == "2.00E+1"
    assert format_number(1.234e-3, 4) == "1.234E-3"


def test_simulator_answers_manual_requests() -> None:
    """902B manual p. 46–47 (MD?, U?, U!MBAR) and the 901P NAK table's own examples:
    `@253VAC!;FF` → 8, `@253ATM!7.60;FF` → 9, `@253S%;FF` → 160, `@253EN1!of;FF` → 169,
    `@253SP1!5.00E+9;FF` → 172, `@253FV!;FF` → 175."""
    t = [0.0]
    vol = PumpedVolume(lambda: t[0])
    sim = MKSGaugeSimulator(lambda: t[0], vol, model="925")
    assert sim.answer(b"@253MD?;FF") == b"@253ACK925;FF"
    assert sim.answer(b"@253MF?;FF") == b"@253ACKMKS;FF"
    assert sim.answer(b"@253U?;FF") == b"@253ACKTORR;FF"
    assert sim.answer(b"@253U!MBAR;FF") == b"@253ACKMBAR;FF"
    assert sim.answer(b"@253U?;FF") == b"@253ACKMBAR;FF"
    assert sim.answer(b"@253u!torr;FF") == b"@253ACKTORR;FF"  # upper or lower case
    assert re.fullmatch(rb"@253ACK\d\.\d\dE[+-]\d+;FF", sim.answer(b"@253PR1?;FF"))
    assert re.fullmatch(rb"@253ACK\d\.\d\d\dE[+-]\d+;FF", sim.answer(b"@253PR4?;FF"))
    assert sim.answer(b"@253SP1!2.00E+1;FF") == b"@253ACK2.00E+1;FF"
    assert sim.answer(b"@253SP1?;FF") == b"@253ACK2.00E+1;FF"
    assert sim.answer(b"@253VAC!;FF") == b"@253NAK8;FF"  # at atmosphere
    assert sim.answer(b"@253S%;FF") == b"@253NAK160;FF"
    assert sim.answer(b"@253EN1!of;FF") == b"@253NAK169;FF"
    assert sim.answer(b"@253SP1!5.00E+9;FF") == b"@253NAK172;FF"
    assert sim.answer(b"@253FV!;FF") == b"@253NAK175;FF"
    assert sim.answer(b"@253U!INCH;FF") == b"@253NAK169;FF"
    t[0] = 600.0  # pumped down
    assert sim.answer(b"@253ATM!7.60;FF") == b"@253NAK9;FF"
    assert sim.answer(b"@253VAC!;FF") == b"@253ACK;FF"


def test_simulator_addressing() -> None:
    """902B p. 47: 'xxx = address 001 to 253; broadcast addresses 254, 255': 254 is
    answered by any transducer, 255 is executed without a reply."""
    sim = MKSGaugeSimulator(lambda: 0.0, lambda: 1e5)
    assert sim.answer(b"@001MD?;FF") is None  # another transducer on the line
    assert sim.answer(b"@254MD?;FF") == b"@253ACK925;FF"
    assert sim.answer(b"@255U!PASCAL;FF") is None
    assert sim.unit == "PASCAL"


# -- physics ---------------------------------------------------------------------------
def test_volume_pumps_down_and_leaks_up_on_the_clock() -> None:
    t = [0.0]
    vol = PumpedVolume(lambda: t[0], volume_l=2.0, pump_speed_l_s=0.2, base_pa=0.0, leak_pa_l_s=0.0)
    assert vol.time_constant_s == pytest.approx(10.0)
    t[0] = 10.0
    assert vol() == pytest.approx(101325.0 / math.e)  # one time constant
    t[0] = 20.0
    assert vol() == pytest.approx(101325.0 / math.e**2)
    vol.leak_pa_l_s = 2.0
    vol.set_pumping(False)
    p0 = vol()
    t[0] = 30.0
    assert vol() == pytest.approx(p0 + 2.0 / 2.0 * 10.0)  # Q/V per second
    vol.vent()
    assert vol() == pytest.approx(101325.0)


def test_gauge_error_is_seeded_and_within_its_accuracy() -> None:
    def reading(seed: int) -> float:
        sim = MKSGaugeSimulator(
            lambda: 0.0, lambda: 500 * TORR_PA, seed=seed, noise=0.0, noise_floor_pa=0.0
        )
        return parse_number(parse_reply(sim.answer(b"@253PR4?;FF")))

    values = [reading(s) for s in range(20)]
    assert reading(3) == reading(3)  # same seed, same transducer
    assert len(set(values)) > 5  # different seeds, different calibration errors
    for v in values:
        assert abs(v / 500 - 1) <= 0.0012 + 0.001  # ±0.12 % of reading, 4-digit rounding


def test_gauge_saturates_outside_its_range_and_zeroing_removes_the_offset() -> None:
    p = [1e-6 * TORR_PA]
    sim = MKSGaugeSimulator(
        lambda: 0.0, lambda: p[0], model="925", noise=0.0, noise_floor_pa=0.0, zero_offset_pa=1e-3
    )
    assert sim.answer(b"@253PR1?;FF") == b"@253ACK1.00E-5;FF"  # the 925 floor, 1e-5 Torr
    p[0] = 5000 * TORR_PA
    assert sim.answer(b"@253PR1?;FF") == b"@253ACK1.00E+3;FF"  # its ceiling, 1000 Torr
    p[0] = 1e-3 * TORR_PA
    before = parse_number(parse_reply(sim.answer(b"@253PR4?;FF")))
    assert sim.answer(b"@253VAC!;FF") == b"@253ACK;FF"
    after = parse_number(parse_reply(sim.answer(b"@253PR4?;FF")))
    assert abs(after - 1e-3) < abs(before - 1e-3)
    assert after == pytest.approx(1e-3, rel=0.002)


def test_atmospheric_adjustment_spans_the_gain() -> None:
    sim = MKSGaugeSimulator(
        lambda: 0.0, lambda: 760 * TORR_PA, noise=0.0, noise_floor_pa=0.0, accuracy=0.05
    )
    assert sim.answer(b"@253ATM!7.60E+2;FF") == b"@253ACK;FF"
    assert sim.answer(b"@253PR4?;FF") == b"@253ACK7.600E+2;FF"


# -- driver against the simulator over a socket --------------------------------------------
def test_driver_reads_identity_unit_and_pressure_over_a_socket() -> None:
    async def body(sim, gauge, clock):
        model, unit, p_torr = await gauge.model(), await gauge.unit(), await gauge.pressure()
        assert await gauge.set_unit("Pa") == "Pa"
        p_pa = await gauge.pressure(4)
        return model, await gauge.serial_number(), unit, p_torr, p_pa, sim.serial_number

    model, sn, unit, p_torr, p_pa, sim_sn = run_with_gauge(body)
    assert (model, unit, sn) == ("925", "torr", sim_sn)
    assert p_torr.to("Pa").magnitude == pytest.approx(101325, rel=0.01)
    assert p_pa.units == Q_(1, "Pa").units
    assert p_pa.magnitude == pytest.approx(101325, rel=0.01)


def test_retry_safe_reads_through_transient_faults() -> None:
    async def body(sim, gauge, clock):
        await gauge.unit()
        sim.faults.force("garbled")
        sim.faults.force("disconnect")
        read = await retry_safe(gauge.port, gauge.pressure)
        return read, sim.pressure_pa(), clock.now()

    read, true_pa, waited = run_with_gauge(body)
    # retries back off on the lab clock (0.5 s, then 1 s) while the volume pumps down
    assert waited >= 1.5
    assert read.to("Pa").magnitude == pytest.approx(true_pa, rel=0.01)


def test_a_stuck_reading_stops_changing() -> None:
    async def body(sim, gauge, clock):
        await asyncio.sleep(5)
        await gauge.pressure()
        sim.faults.stuck_for = 3
        sim.faults.force("stuck")
        stuck = []
        for _ in range(3):
            await asyncio.sleep(5)  # pumping down meanwhile
            stuck.append(await gauge.pressure())
        await asyncio.sleep(5)
        return stuck, await gauge.pressure()

    stuck, after = run_with_gauge(body)
    assert len(set(stuck)) == 1  # frozen
    assert after < stuck[0] / 2  # moving again once the fault has passed


# -- the device ------------------------------------------------------------------------
def test_device_reads_pressure_in_its_unit_and_flags_the_range() -> None:
    p = [500 * TORR_PA]

    async def body(sim, gauge, clock):
        dev = PressureGauge(gauge, model="925", unit="mbar", name="pg")
        await dev.connect()
        described = await dev.describe()
        before = sim.requests
        inside = await dev.read()
        one_read = sim.requests - before
        p[0] = 1e-7 * TORR_PA
        under = await dev.read()
        p[0] = 3000 * TORR_PA
        over = await dev.read()
        return described, inside, one_read, under, over

    described, inside, one_read, under, over = run_with_gauge(body, pressure_pa=lambda: p[0])
    assert described["pg-pressure"]["units"] == "mbar"
    assert inside["pg-pressure"]["value"] == pytest.approx(500 * TORR_PA / 100, rel=0.01)
    assert inside["pg-range_status"]["value"] == RangeStatus.OK
    assert one_read <= 2  # unit once, then one PR1 shared by both signals
    assert under["pg-range_status"]["value"] == RangeStatus.UNDER
    assert under["pg-pressure"]["value"] == pytest.approx(1e-5 * TORR_PA / 100, rel=0.01)
    assert over["pg-range_status"]["value"] == RangeStatus.OVER


def test_device_setpoint_round_trips_in_the_device_unit() -> None:
    async def body(sim, gauge, clock):
        dev = PressureGauge(gauge, model="925", unit="Pa", name="pg")
        await dev.connect()
        await dev.setpoint.set(100.0)
        return await dev.setpoint.get_value(), sim.setpoints_pa[1]

    value, stored = run_with_gauge(body)
    assert value == pytest.approx(100.0, rel=0.005)
    assert stored == pytest.approx(100.0, rel=0.005)


def test_limits_are_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    trace = tmp_path / "gauge.trace"

    async def body(sim, gauge, clock):
        dev = PressureGauge(gauge, model="902B", unit="torr", name="pg")
        await dev.connect()
        before = sim.requests
        for bad in (0.01, 1500.0, -1.0, math.nan, math.inf):
            with pytest.raises(LimitError, match="outside the 902B measuring range"):
                await dev.setpoint.set(bad)
        return sim.requests - before

    assert run_with_gauge(body, trace=trace, model="902B") == 0
    assert " >> " not in trace.read_text()


def test_device_refuses_an_unknown_model_or_a_non_pressure_unit() -> None:
    with pytest.raises(ValueError, match="no MKS gauge model"):
        PressureGauge(None, model="999X")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pressure"):
        PressureGauge(None, unit="mL")  # type: ignore[arg-type]


# -- property: random bytes give only typed errors ------------------------------------------
@given(st.binary(max_size=64))
def test_random_bytes_into_the_parsers_give_only_typed_errors(raw: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(DriverError):
            parse(raw)


@given(st.binary(max_size=32), st.sampled_from([b"ACK", b"NAK"]))
def test_random_framed_bytes_give_only_typed_errors(payload: bytes, kind: bytes) -> None:
    try:
        data = parse_reply(b"@253" + kind + payload + b";FF")
    except DriverError:
        return
    for parse in (parse_number, parse_unit, lambda d: parse_pressure(d, "MBAR")):
        with contextlib.suppress(DriverError):
            parse(data)
