"""Pfeiffer TPG 26x with capacitance gauges: driver ↔ simulator over a real socket (and a
pty), the manual's examples, random bytes into the parsers, the capacitance manometer
device (two gauges on one manifold, the finer one while it is in range) and the
simulator's physics.

Wire format from the TPG 261/262 operating instructions (BG 5195 BEN / A, 2011-05,
section 5): `PR1<CR>[<LF>]` → `<ACK><CR><LF>`, then `<ENQ>` → `x,sx.xxxxEsxx<CR><LF>`
(p. 67, 70); PRX (p. 71); FSR codes (p. 78); OFC/OFD (p. 79); the ERROR word after a
`<NAK>` (INFICON VGC50x, tina96e1-b p. 72).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.capacitance_manometer import CapacitanceManometer, GaugeMismatch
from devices.errors import DriverError, InstrumentRefused
from devices.pfeiffer_tpg import (
    ACK,
    ENQ,
    EOL,
    NAK,
    PARSERS,
    TPGController,
    full_scale_code,
    parse_acknowledge,
    parse_full_scales,
    parse_measurement,
    parse_measurements,
    parse_unit,
)
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.pfeiffer_tpg import TPGSimulator, fmt
from tests.devices.harness import run_with_driver

TWO_GAUGES = ("1000 mbar", "1 mbar")


def run_with_controller(
    body: Callable[[TPGSimulator, TPGController, Clock], Awaitable[Any]],
    *,
    pty: bool = False,
    pressure_pa: Callable[[], float] | None = None,
    **sim_kw: Any,
) -> Any:
    sim_kw.setdefault("full_scale", TWO_GAUGES)

    def simulator(clock: Clock) -> TPGSimulator:
        return TPGSimulator(clock.monotonic, pressure_pa or (lambda: 50.0), seed=5, **sim_kw)

    return run_with_driver(body, simulator, TPGController, pty=pty, timeout=0.2)


def ask(sim: TPGSimulator, mnemonic: bytes) -> tuple[bytes | None, bytes | None]:
    """(acknowledgement, data) as the controller answers a mnemonic and an <ENQ>."""
    ack = sim.answer(mnemonic + EOL)
    return ack, sim.answer(ENQ) if ack == ACK + EOL else None


# -- the manual's examples --------------------------------------------------------------
def test_manual_reply_examples_parse() -> None:
    """p. 70: `x,sx.xxxxEsxx`, status 5 'no sensor (output: 5,2.0000E-2 [mbar])'; p. 71
    PRX: `x,sx.xxxxEsxx,y,sy.yyyyEsyy`; p. 78 FSR: `x,x`; UNI 0 mbar, 1 Torr, 2 Pascal."""
    r = parse_measurement("0,+1.2345E+02", "mbar")
    assert (r.status, r.pressure) == ("OK", Q_(123.45, "mbar"))
    none = parse_measurement("5,2.0000E-2", "mbar")
    assert none.status == "NO_SENSOR" and none.pressure == Q_(0.02, "mbar")
    under, over = parse_measurements("1,-3.0000E-05,2,+1.1000E+00", "mbar")
    assert (under.channel, under.status, over.channel, over.status) == (1, "UNDER", 2, "OVER")
    assert parse_full_scales("5,2") == [Q_(1000, "mbar"), Q_(1, "mbar")]
    assert [parse_unit(c) for c in "012"] == ["mbar", "torr", "Pa"]
    assert parse_acknowledge(ACK + EOL) and not parse_acknowledge(NAK + EOL)
    assert full_scale_code(Q_(2, "bar")) == 6 and full_scale_code(Q_(0.1, "kPa")) == 2
    with pytest.raises(ValueError, match="full scale"):
        full_scale_code(Q_(1000, "torr"))  # not on the FSR list


def test_simulator_answers_the_manuals_requests() -> None:
    """ACK then data on <ENQ>, again on every <ENQ>; <ENQ> alone gives the ERROR word;
    a NAK sets it (0001 syntax, 0010 parameter, 0100 no hardware), ERR reads and clears
    it; <ETX> drops the pending request; spaces are ignored."""
    sim = TPGSimulator(lambda: 0.0, lambda: 123.45 * 100, full_scale=TWO_GAUGES, noise=0.0)
    assert sim.answer(ENQ) == b"0000\r\n"
    ack, data = ask(sim, b"PR1")
    assert ack == ACK + EOL and re.fullmatch(rb"0,\+1\.23\d\dE\+02\r\n", data or b"")
    assert sim.answer(ENQ) == data  # repeated <ENQ>: the same request again
    assert ask(sim, b"PR2")[1] == b"2,+1.1000E+00\r\n"  # the 1 mbar gauge is over range
    assert ask(sim, b"TID")[1] == b"CMR,CMR\r\n"
    assert ask(sim, b"FSR")[1] == b"5,2\r\n"
    assert ask(sim, b"UNI")[1] == b"0\r\n"
    assert ask(sim, b"U NI,1")[1] == b"1\r\n"  # spaces are ignored
    assert ask(sim, b"PNR")[1] == b"302-510-A\r\n"
    assert sim.answer(b"XYZ\r\n") == NAK + EOL
    assert ask(sim, b"ERR")[1] == b"0001\r\n"
    assert ask(sim, b"ERR")[1] == b"0000\r\n"  # cancelled when read
    assert sim.answer(b"UNI,7\r\n") == NAK + EOL
    assert ask(sim, b"ERR")[1] == b"0010\r\n"
    assert sim.answer(b"PR1\r\n") == ACK + EOL
    assert sim.answer(b"\x03") is None  # <ETX> clears the input
    assert sim.answer(ENQ) == b"0000\r\n"
    single = TPGSimulator(lambda: 0.0, lambda: 5e4, full_scale=("1000 mbar",))
    assert single.answer(b"PR2\r\n") == NAK + EOL
    assert ask(single, b"ERR")[1] == b"0100\r\n"
    assert ask(single, b"TID")[1] == b"CMR\r\n"


def test_number_format_is_the_controllers() -> None:
    assert fmt(123.45) == "+1.2345E+02"
    assert fmt(-3e-5) == "-3.0000E-05"
    assert fmt(0.0) == "+0.0000E+00"


# -- the simulator's physics -----------------------------------------------------------------
def _pa(sim: TPGSimulator, channel: int) -> tuple[int, float]:
    text = (ask(sim, f"PR{channel}".encode())[1] or b"").decode().strip()
    status, value = text.split(",")
    return int(status), float(value) * 100.0  # mbar → Pa


def test_each_gauge_reads_within_its_accuracy_whatever_the_gas() -> None:
    """A capacitance gauge knows nothing of the gas: the simulator is not even told it."""
    readings = []
    for seed in range(20):
        sim = TPGSimulator(lambda: 0.0, lambda: 40e3, seed=seed, full_scale=TWO_GAUGES)
        sim.answer(b"OFC,2,2\r\n")  # offsets measured at 40 kPa: nonsense, then undone
        sim.answer(b"OFC,0,0\r\n")
        readings.append(_pa(sim, 1)[1])
    assert len(set(readings)) > 5  # each seed its own gauge
    for v in readings:
        # ±0.2 % of reading, ±1e-4 FS zero, three steps of noise and resolution
        assert abs(v - 40e3) <= 0.002 * 40e3 + 1e-4 * 1e5 + 3 * 3e-5 * 1e5


def test_readings_move_in_steps_of_the_resolution_and_zeroing_removes_the_offset() -> None:
    p = [0.0]
    sim = TPGSimulator(
        lambda: 0.0, lambda: p[0], full_scale=TWO_GAUGES, noise=0.0, zero_offset=1e-3
    )
    status, before = _pa(sim, 2)
    assert before != 0.0  # a zero offset of up to 1e-3 of 100 Pa
    sim.answer(b"OFC,2,2\r\n")
    assert _pa(sim, 2)[1] == pytest.approx(0.0, abs=1e-12)
    status, value = _pa(sim, 1)
    assert status == 1 and value == pytest.approx(0.0, abs=1e-12)  # underrange: < 1e-4 FS
    p[0] = 12.3456
    _, value = _pa(sim, 2)
    step = 3e-5 * 100.0  # resolution × full scale of the 1 mbar gauge
    assert abs(value / step - round(value / step)) < 1e-6
    assert value == pytest.approx(12.3456, rel=0.002, abs=step)


def test_a_wrong_full_scale_setting_reads_wrong_as_on_the_controller() -> None:
    sim = TPGSimulator(lambda: 0.0, lambda: 50.0, full_scale=TWO_GAUGES, noise=0.0)
    sim.answer(b"OFC,2,2\r\n")  # zeroed at 50 Pa: every later reading is 50 Pa low
    sim.answer(b"OFC,0,0\r\n")
    right = _pa(sim, 2)[1]
    sim.answer(b"FSR,5,3\r\n")  # channel 2 told it is a 10 mbar gauge
    assert _pa(sim, 2)[1] == pytest.approx(10 * right, rel=1e-6)


# -- the driver against the simulator over a socket -----------------------------------------
def test_driver_reads_identity_units_and_both_gauges_over_a_socket() -> None:
    async def body(sim, tpg, clock):
        ident = await tpg.identity()
        unit = await tpg.unit()
        both = await tpg.pressures()
        one = await tpg.pressure(2)
        assert await tpg.set_unit("torr") == "torr"
        in_torr = await tpg.pressure(2)
        return ident, unit, both, one, in_torr, await tpg.full_scales()

    ident, unit, both, one, in_torr, scales = run_with_controller(body)
    assert ident == "Pfeiffer TPG 26x, firmware 302-510-A, gauges CMR, CMR"
    assert unit == "mbar"
    assert [r.status for r in both] == ["OK", "OK"]
    assert both[1].pressure.m_as("Pa") == pytest.approx(50.0, rel=0.003)
    assert both[0].pressure.m_as("Pa") == pytest.approx(50.0, abs=15.0)  # 3 Pa steps, offset
    assert one.pressure.m_as("Pa") == pytest.approx(50.0, rel=0.003)
    assert in_torr.pressure.units == Q_(1, "torr").units
    assert in_torr.pressure.m_as("Pa") == pytest.approx(50.0, rel=0.003)
    assert scales == [Q_(1000, "mbar"), Q_(1, "mbar")]


def test_a_refused_mnemonic_says_why() -> None:
    async def body(sim, tpg, clock):
        with pytest.raises(InstrumentRefused, match="inadmissible parameter") as e:
            await tpg.exchange("UNI,9")
        return e.value.code, e.value.transient

    assert run_with_controller(body) == ("0010", False)


def test_zeroing_under_vacuum_brings_the_fine_gauge_to_zero() -> None:
    p = [0.0]

    async def body(sim, tpg, clock):
        dev = CapacitanceManometer(tpg, full_scale=TWO_GAUGES, name="m")
        await dev.connect()
        offsets = await dev.zero()
        p[0] = 0.5
        value, channel, status = await dev.measure()
        return offsets, value, channel, status

    offsets, value, channel, status = run_with_controller(
        body, pressure_pa=lambda: p[0], zero_offset=5e-4
    )
    assert len(offsets) == 2 and offsets[1] != 0.0
    assert channel == 2 and status == "OK"
    assert value == pytest.approx(0.5, rel=0.003, abs=0.01)


# -- the device: two gauges, one pressure -------------------------------------------------------
def test_the_manometer_reports_the_finer_gauge_until_95_percent_of_its_full_scale() -> None:
    p = [1e-3]

    async def body(sim, tpg, clock):
        dev = CapacitanceManometer(tpg, full_scale=TWO_GAUGES, unit="Pa", name="m")
        await dev.connect()
        out = []
        for pa in (1e-3, 0.05, 90.0, 97.0, 5e4, 1.2e5):
            p[0] = pa
            reading = await dev.read()
            out.append(
                (
                    reading["m-pressure"]["value"],
                    reading["m-gauge_channel"]["value"],
                    reading["m-range_status"]["value"],
                )
            )
        described = await dev.describe()
        before = sim.requests
        await dev.read()
        return out, described, sim.requests - before

    out, described, per_read = run_with_controller(body, pressure_pa=lambda: p[0])
    assert described["m-pressure"]["units"] == "Pa"
    assert [o[1:] for o in out] == [
        (2, "UNDER"),  # 1e-3 Pa: below 1e-4 of the 1 mbar gauge
        (2, "OK"),
        (2, "OK"),
        (1, "OK"),  # 97 Pa: past 95 % of the fine gauge, the coarse one reads
        (1, "OK"),
        (1, "OVER"),  # 1.2 bar: past 1.1 × 1000 mbar
    ]
    assert out[1][0] == pytest.approx(0.05, abs=0.015)
    assert out[4][0] == pytest.approx(5e4, rel=0.003)
    assert per_read == 2  # PRX: one mnemonic and its <ENQ>


def test_a_controller_set_up_for_other_gauges_is_refused() -> None:
    async def body(sim, tpg, clock):
        sim.fsr[1] = 3  # the controller thinks channel 2 is a 10 mbar gauge
        dev = CapacitanceManometer(tpg, full_scale=TWO_GAUGES, name="m")
        await dev.connect()
        with pytest.raises(GaugeMismatch, match=r"channel 2 to 10 mbar \(FSR\).*1 mbar"):
            await dev.measure()
        sim.gauges[1] = None
        dev2 = CapacitanceManometer(tpg, full_scale=TWO_GAUGES, name="m2")
        await dev2.connect()
        with pytest.raises(GaugeMismatch, match="'noSEn', not a capacitance gauge"):
            await dev2.measure()

    run_with_controller(body)


def test_the_device_refuses_what_no_controller_could_hold() -> None:
    with pytest.raises(ValueError, match="full scale"):
        CapacitanceManometer(None, full_scale=("1000 torr",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1 or 2 gauges"):
        CapacitanceManometer(None, full_scale=("1 mbar",) * 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="accuracy"):
        CapacitanceManometer(None, accuracy=0.2)  # type: ignore[arg-type]


# -- property: random bytes give only typed errors ------------------------------------------
@given(st.binary(max_size=64))
def test_random_bytes_into_the_parsers_give_only_typed_errors(raw: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(DriverError):
            parse(raw)


@given(st.text(alphabet="0123456789+-.E,", max_size=40))
def test_random_number_like_text_gives_only_typed_errors(text: str) -> None:
    for parse in (parse_measurements, lambda t, u: parse_measurement(t, u)):
        with contextlib.suppress(DriverError):
            parse(text, "mbar")
