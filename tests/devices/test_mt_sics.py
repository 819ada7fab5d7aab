"""MT-SICS balance: driver ↔ simulator over real sockets, manual conformance, parser
fuzzing, device limits and the simulated balance's physics.

Manual cited: METTLER TOLEDO "MT-SICS Interface Commands, Standard and Advanced
Laboratory Balances, Reference Manual" (30014405): 2.2.1 'Format of responses with
weight value', 2.2.2 'Format of responses without weight value', 2.3.1 'Command-specific
error messages', 2.3.2 'General error messages', and the command pages in section 3.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.balance import Balance
from devices.errors import (
    DriverError,
    GarbledReply,
    InstrumentRefused,
    LimitError,
    NoReply,
    PortClosed,
)
from devices.mt_sics import (
    MTSICSBalance,
    NotExecutable,
    Overload,
    TransmissionError,
    Underload,
    parse_ack,
    parse_line,
    parse_serial_number,
    parse_weight,
)
from devices.port import SerialPort
from devices.retry import retry_safe
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.base import Faults
from simulators.mt_sics import MTSICSSimulator
from tests.devices.harness import run_on_virtual_clock, serving


@asynccontextmanager
async def rig(
    clock: Clock, *, pty: bool = False, trace: Path | None = None, **sim_args: Any
) -> AsyncIterator[tuple[MTSICSSimulator, SerialPort, MTSICSBalance]]:
    """A simulator served over TCP (or a pty), a port on it and the driver."""
    sim = MTSICSSimulator(clock.monotonic, **sim_args)
    async with serving(clock, sim, pty=pty, timeout=0.3, trace=trace, linger=0.01) as port:
        yield sim, port, MTSICSBalance(port)


# -- 1. driver against the simulator over a real socket, every fault kind -----------------
def test_driver_weighs_over_tcp() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, _, bal):
            assert await bal.serial_number() == "B123456789"
            w = await bal.stable_weight()
            assert w.stable and abs(w.value.to("g").magnitude) < 1e-3
            sim.place(100.0)
            await asyncio.sleep(1.0)
            moving = await bal.weight_immediately()
            assert not moving.stable and 30 < moving.value.m_as("g") < 100  # 39 g at t = tau/2
            with pytest.raises(NotExecutable):
                await bal.stable_weight()  # still settling: S I
            await asyncio.sleep(60.0)
            w = await bal.stable_weight()
            assert w.stable and w.value.m_as("g") == pytest.approx(100.0, abs=1e-3)

    run_on_virtual_clock(main)


def test_no_reply_raises_and_the_port_recovers() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, _, bal):
            sim.faults.force("no_reply")
            with pytest.raises(NoReply):
                await bal.serial_number()
            assert await bal.serial_number() == "B123456789"

    run_on_virtual_clock(main)


def test_garbled_reply_raises_garbled() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, seed=3) as (sim, _, bal):
            sim.faults.force("garbled")
            with pytest.raises(GarbledReply):
                await bal.weight_immediately()
            assert (await bal.weight_immediately()).stable

    run_on_virtual_clock(main)


def test_error_reply_raises_refused() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, _, bal):
            sim.faults.force("error_reply")
            with pytest.raises(InstrumentRefused) as e:
                await bal.stable_weight()
            assert e.value.code == "EL"

    run_on_virtual_clock(main)


def test_disconnect_raises_port_closed_then_reconnects() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, port, bal):
            sim.faults.force("disconnect")
            with pytest.raises(PortClosed):
                await bal.serial_number()
            await port.reconnect()
            assert await bal.serial_number() == "B123456789"
            # and retry_safe does the reconnect itself
            sim.faults.force("disconnect")
            assert await retry_safe(port, bal.serial_number) == "B123456789"

    run_on_virtual_clock(main)


def test_stuck_reading_stops_changing() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, faults=Faults(stuck_for=3)) as (sim, _, bal):
            sim.place(50.0)
            first = (await bal.weight_immediately()).value
            sim.faults.force("stuck")
            stuck = []
            for _ in range(3):
                await asyncio.sleep(1.0)
                stuck.append((await bal.weight_immediately()).value)
            assert all(v == first for v in stuck)
            await asyncio.sleep(1.0)
            assert (await bal.weight_immediately()).value.m_as("g") > first.m_as("g") + 10

    run_on_virtual_clock(main)


def test_driver_over_a_pty_device_path() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, pty=True) as (sim, port, bal):
            assert port.url.startswith("/dev/")
            assert await bal.serial_number() == "B123456789"
            sim.place(10.0)
            await asyncio.sleep(60.0)
            assert (await bal.stable_weight()).value.m_as("g") == pytest.approx(10.0, abs=1e-3)

    run_on_virtual_clock(main)


# -- 2. conformance with the manual's examples ---------------------------------------------
def crlf(text: str) -> bytes:
    return text.encode() + b"\r\n"


def test_manual_s_stable_weight() -> None:
    """3 'S – Stable weight value': `S` → `S S     100.00 g`; `S I`, `S +`, `S -`."""
    w = parse_weight(crlf("S S     100.00 g"))
    assert w.stable and w.value == Q_(100.0, "g")
    with pytest.raises(NotExecutable):
        parse_weight(crlf("S I"))
    with pytest.raises(Overload):
        parse_weight(crlf("S +"))
    with pytest.raises(Underload):
        parse_weight(crlf("S -"))


def test_manual_si_weight_immediately() -> None:
    """3 'SI – Weight value immediately': `S D     129.07 g` is a dynamic value,
    2.2.1: the sign stands directly before the first digit."""
    w = parse_weight(crlf("S D     129.07 g"))
    assert not w.stable and w.value == Q_(129.07, "g")
    assert parse_weight(crlf("S S    -0.0012 g")).value == Q_(-0.0012, "g")
    assert parse_weight(crlf("S S      12.34 mg")).value == Q_(12.34, "mg")


def test_manual_z_t_ta_tac_i4() -> None:
    """3 'Z – Zero': `Z A`, `Z I`, `Z +`, `Z -`; 'T – Tare': `T S     100.00 g`;
    'TA – Tare weight value': `TA A     100.00 g`; 'TAC – Clear tare value': `TAC A`;
    'I4 – Serial number': `I4 A "0123456789"`; '@ – Reset' answers like I4."""
    parse_ack(crlf("Z A"), "Z")
    with pytest.raises(NotExecutable):
        parse_ack(crlf("Z I"), "Z")
    with pytest.raises(Overload, match="zero setting range"):
        parse_ack(crlf("Z +"), "Z")
    with pytest.raises(Underload):
        parse_ack(crlf("Z -"), "Z")
    assert parse_weight(crlf("T S     100.00 g"), "T").value == Q_(100.0, "g")
    with pytest.raises(Overload, match="taring range"):
        parse_weight(crlf("T +"), "T")
    assert parse_weight(crlf("TA A     100.00 g"), "TA").value == Q_(100.0, "g")
    parse_ack(crlf("TAC A"), "TAC")
    assert parse_serial_number(crlf('I4 A "0123456789"')) == "0123456789"
    with pytest.raises(GarbledReply):
        parse_weight(crlf("Z A"), "S")  # an answer to another command


def test_manual_general_errors() -> None:
    """2.3.2 'General error messages': ES syntax, ET transmission, EL logical."""
    for code in ("ES", "ET", "EL"):
        with pytest.raises(InstrumentRefused) as e:
            parse_line(crlf(code))
        assert e.value.code == code
    with pytest.raises(TransmissionError):
        parse_weight(crlf("ET"))
    assert TransmissionError("x").transient  # a damaged command may be sent again


def manual_sim(**kw: Any) -> tuple[MTSICSSimulator, list[float]]:
    t = [0.0]
    kw.setdefault("noise_g", 0.0)
    kw.setdefault("drift_g_per_h", 0.0)
    return MTSICSSimulator(lambda: t[0], **kw), t


def test_simulator_answers_the_manual_requests() -> None:
    """The manual's requests to the simulator give replies of the manual's form."""
    sim, t = manual_sim(readability_g=0.01, serial_number="0123456789")
    sim.place(100.0)
    t[0] = 2.0
    assert sim.answer(b"S\r\n") == b"S I\r\n"
    assert sim.answer(b"SI\r\n").startswith(b"S D ")
    t[0] = 60.0
    assert sim.answer(b"S\r\n") == b"S S     100.00 g\r\n"
    assert sim.answer(b"SI\r\n") == b"S S     100.00 g\r\n"
    assert sim.answer(b"T\r\n") == b"T S     100.00 g\r\n"
    assert sim.answer(b"TA\r\n") == b"TA A     100.00 g\r\n"
    assert sim.answer(b"S\r\n") == b"S S       0.00 g\r\n"
    assert sim.answer(b"TAC\r\n") == b"TAC A\r\n"
    assert sim.answer(b"I4\r\n") == b'I4 A "0123456789"\r\n'
    assert sim.answer(b"@\r\n") == b'I4 A "0123456789"\r\n'
    assert sim.answer(b"XYZ\r\n") == b"ES\r\n"
    assert sim.answer(b"s\r\n") == b"ES\r\n"  # commands are upper case
    assert sim.answer(b"S 5\r\n") == b"ES\r\n"
    assert sim.answer(b"S\n") == b"ET\r\n"  # the CR was lost on the line
    assert sim.answer(b"S\xff\r\n") == b"ET\r\n"
    sim.remove()
    t[0] = 120.0
    assert sim.answer(b"Z\r\n") == b"Z A\r\n"


# -- 3. parser fuzzing ------------------------------------------------------------------
_ALPHABET = 'SDTAICZ+-.0123456789 g"ELmk\r\n@4'
_replies = st.one_of(
    st.binary(max_size=40),
    st.text(alphabet=_ALPHABET, max_size=30).map(lambda s: s.encode() + b"\r\n"),
)


@given(_replies)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_parsers_only_raise_driver_errors(raw: bytes) -> None:
    parsers: list[Callable[[bytes], object]] = [
        parse_line,
        parse_weight,
        lambda r: parse_weight(r, "T"),
        lambda r: parse_weight(r, "TA"),
        lambda r: parse_ack(r, "Z"),
        lambda r: parse_ack(r, "TAC"),
        parse_serial_number,
    ]
    for parse in parsers:
        try:
            parse(raw)
        except (GarbledReply, InstrumentRefused) as e:
            assert isinstance(e, DriverError)


# -- 4. device limits: refused before a byte is written --------------------------------
def test_balance_limits_write_no_byte(tmp_path: Path) -> None:
    trace = tmp_path / "wire.trace"

    async def main(clock: Clock) -> None:
        async with rig(clock, trace=trace) as (sim, _, bal):
            balance = Balance(bal, capacity="220 g", name="balance")
            before = sim.requests
            for load in (-0.1, 220.01, 1e6):
                with pytest.raises(LimitError):
                    balance.check_load(load)
            for timeout in (0.0, -5.0, 1e9):
                with pytest.raises(LimitError):
                    await balance.read_stable(timeout)
                with pytest.raises(LimitError):
                    await balance.tare(timeout)
                with pytest.raises(LimitError):
                    await balance.zero(timeout)
            balance.check_load(220.0)
            assert sim.requests == before

    run_on_virtual_clock(main)
    assert not trace.exists() or ">>" not in trace.read_text()


def test_balance_device_waits_for_stability_on_the_clock() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, _, bal):
            balance = Balance(bal, name="balance", poll_interval=0.5)
            await balance.connect()
            sim.place(20.0)  # a beaker
            assert await balance.tare() == pytest.approx(20.0, abs=1e-3)
            assert await balance.tare_mass.get_value() == pytest.approx(20.0, abs=1e-3)
            sim.place(1.2345)  # the sample
            t0, wall = clock.now(), time.perf_counter()
            mass = await balance.read_stable(timeout=60.0)
            assert mass == pytest.approx(1.2345, abs=3e-4)
            assert 5.0 < clock.now() - t0 < 60.0  # lab time passed while it settled
            assert time.perf_counter() - wall < 1.5
            reading = await balance.read()
            assert reading["balance-mass"]["value"] == pytest.approx(1.2345, abs=3e-4)
            desc = await balance.describe()
            assert desc["balance-mass"]["units"] == "g"
            sim.remove()
            await balance.zero()
            assert await balance.tare_mass.get_value() == 0.0

    run_on_virtual_clock(main)


def test_balance_read_stable_times_out_when_it_never_settles() -> None:
    async def main(clock: Clock) -> None:
        t0 = clock.now()
        async with rig(clock, load_g=lambda: 30.0 + 5.0 * ((clock.now() // 1) % 2)) as (
            _,
            _,
            bal,
        ):
            balance = Balance(bal, name="balance")
            await asyncio.sleep(1.0)  # the load starts to swing
            with pytest.raises(NotExecutable, match="not stable within 10 s"):
                await balance.read_stable(timeout=10.0)
            assert 10.0 <= clock.now() - t0 <= 12.0

    run_on_virtual_clock(main)


# -- 5. simulator physics ----------------------------------------------------------------
def test_balance_settles_first_order_and_tracks_the_pan() -> None:
    sim, t = manual_sim(settle_tau_s=2.0)
    sim.place(100.0)
    values = []
    for step in range(1, 6):
        t[0] = step * 1.0
        values.append(sim.net_g(noisy=False))
    assert values == sorted(values)  # rises monotonically
    assert values[1] == pytest.approx(100 * (1 - 2.718281828**-1), rel=1e-3)  # at one tau
    assert not sim.settled()
    t[0] = 40.0
    assert sim.settled()
    sim.remove(40.0)
    t[0] = 40.5
    assert sim.answer(b"S\r\n") == b"S I\r\n"  # the load changed: settling again
    t[0] = 80.0
    assert sim.answer(b"S\r\n") == b"S S    60.0000 g\r\n"


def test_balance_overload_underload_and_zero_range() -> None:
    load = [0.0]
    sim, t = manual_sim(load_g=lambda: load[0], capacity_g=220.0)
    load[0] = 230.0
    sim.answer(b"SI\r\n")  # the balance sees a callable load change when it is asked
    t[0] = 60.0
    assert sim.answer(b"S\r\n") == b"S +\r\n"
    assert sim.answer(b"SI\r\n") == b"S +\r\n"
    assert sim.answer(b"T\r\n") == b"T +\r\n"
    assert sim.answer(b"Z\r\n") == b"Z +\r\n"
    load[0] = -20.0  # the pan lifted off
    sim.answer(b"SI\r\n")
    t[0] = 120.0
    assert sim.answer(b"S\r\n") == b"S -\r\n"
    assert sim.answer(b"Z\r\n") == b"Z -\r\n"
    load[0] = 3.0  # inside the 2 % zero range
    sim.answer(b"SI\r\n")
    t[0] = 180.0
    assert sim.answer(b"Z\r\n") == b"Z A\r\n"
    assert sim.answer(b"S\r\n") == b"S S     0.0000 g\r\n"


def test_balance_noise_is_seeded_and_drift_is_slow() -> None:
    def replies(seed: int) -> list[bytes]:
        t = [0.0]
        sim = MTSICSSimulator(lambda: t[0], seed=seed, readability_g=1e-5, noise_g=2e-5)
        sim.place(10.0)
        out = []
        for i in range(10):
            t[0] = 60.0 + i
            out.append(sim.answer(b"SI\r\n") or b"")
        return out

    assert replies(7) == replies(7)
    assert replies(7) != replies(8)
    assert len(set(replies(7))) > 1  # the last digit moves

    sim, t = manual_sim(drift_g_per_h=1e-3)
    t[0] = 60.0
    sim.answer(b"Z\r\n")
    t[0] = 60.0 + 3 * 3600
    assert sim.net_g(noisy=False) == pytest.approx(3e-3, abs=1e-4)  # 1 mg/h for 3 h


def test_reset_clears_tare_and_keeps_zero() -> None:
    sim, t = manual_sim()
    sim.place(5.0)
    t[0] = 60.0
    assert sim.answer(b"T\r\n") == b"T S     5.0000 g\r\n"
    assert sim.answer(b"@\r\n") == b'I4 A "B123456789"\r\n'
    assert sim.answer(b"S\r\n") == b"S S     5.0000 g\r\n"
