"""Alicat mass-flow controller: driver ↔ simulator over real sockets, manual conformance,
parser fuzzing, device limits and the simulated controller's physics.

Manuals cited: Alicat "Serial Communications Primer" (Rev. 2, Feb 2023): 'The Alicat
Data Frame', 'Status/Error Codes', 'Quick Command Reference'; Alicat "MC-Series Gas
Mass Flow Controller Operating Manual", 'Serial Communications' ('Taring Serially',
'Collecting Flow Data Serially', 'Quick Serial Command Guide'); Alicat "IM"
operating manual, 'Data Format' (controller frame with valve drive and totalizer).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.alicat import (
    SCCM,
    AlicatController,
    gas_number,
    parse_firmware,
    parse_frame,
    parse_line,
)
from devices.errors import (
    DriverError,
    GarbledReply,
    InstrumentRefused,
    LimitError,
    NoReply,
    PortClosed,
)
from devices.mass_flow import MassFlowController
from devices.port import SerialPort
from devices.retry import retry_safe
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.alicat import AlicatSimulator
from simulators.base import Faults
from tests.devices.harness import run_on_virtual_clock, serving


@asynccontextmanager
async def rig(
    clock: Clock, *, pty: bool = False, trace: Path | None = None, **sim_args: Any
) -> AsyncIterator[tuple[AlicatSimulator, SerialPort, AlicatController]]:
    sim = AlicatSimulator(clock.monotonic, **sim_args)
    async with serving(
        clock, sim, pty=pty, baudrate=19200, timeout=0.3, trace=trace, linger=0.01
    ) as port:
        yield sim, port, AlicatController(port, sim.unit_id)


def sccm(q: Any) -> float:
    return float(q.to(SCCM).magnitude)


# -- 1. driver against the simulator over a real socket, every fault kind -----------------
def test_driver_controls_flow_over_tcp() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, seed=2) as (_, _, mfc):
            assert (await mfc.firmware()).startswith("10v")
            frame = await mfc.poll()
            assert frame.unit_id == "A" and frame.gas == "N2" and sccm(frame.setpoint) == 0
            assert frame.pressure.m_as("psi") == pytest.approx(14.7, abs=0.1)
            frame = await mfc.set_setpoint(Q_(40, SCCM))
            assert sccm(frame.setpoint) == 40.0
            await asyncio.sleep(10.0)
            frame = await mfc.poll()
            assert sccm(frame.mass_flow) == pytest.approx(40.0, abs=0.2)
            assert frame.total is not None and frame.total.m_as(f"{SCCM}*min") > 5.0
            assert (await mfc.set_gas("CO2")).gas == "CO2"
            assert (await mfc.set_gas(1)).gas == "Ar"

    run_on_virtual_clock(main)


def test_no_reply_raises_and_the_port_recovers() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, _, mfc):
            sim.faults.force("no_reply")
            with pytest.raises(NoReply):
                await mfc.poll()
            assert (await mfc.poll()).gas == "N2"

    run_on_virtual_clock(main)


def test_garbled_reply_raises_garbled() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, seed=1) as (sim, _, mfc):
            sim.faults.force("garbled")
            with pytest.raises(GarbledReply):
                await mfc.poll()
            assert (await mfc.poll()).gas == "N2"

    run_on_virtual_clock(main)


def test_error_reply_raises_refused() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, _, mfc):
            sim.faults.force("error_reply")
            with pytest.raises(InstrumentRefused) as e:
                await mfc.set_setpoint(Q_(10, SCCM))
            assert e.value.code == "?"

    run_on_virtual_clock(main)


def test_disconnect_raises_port_closed_then_reconnects() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, port, mfc):
            sim.faults.force("disconnect")
            with pytest.raises(PortClosed):
                await mfc.poll()
            await port.reconnect()
            assert (await mfc.poll()).unit_id == "A"
            sim.faults.force("disconnect")
            assert (await retry_safe(port, mfc.poll)).unit_id == "A"

    run_on_virtual_clock(main)


def test_stuck_reading_stops_changing() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, faults=Faults(stuck_for=3)) as (sim, _, mfc):
            first = (await mfc.set_setpoint(Q_(80, SCCM))).mass_flow
            sim.faults.force("stuck")
            for _ in range(3):
                await asyncio.sleep(0.5)
                assert (await mfc.poll()).mass_flow == first
            await asyncio.sleep(0.5)
            assert sccm((await mfc.poll()).mass_flow) > sccm(first) + 40

    run_on_virtual_clock(main)


def test_driver_over_a_pty_device_path() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, pty=True) as (_, port, mfc):
            assert port.url.startswith("/dev/")
            await mfc.set_setpoint(Q_(25, SCCM))
            await asyncio.sleep(10.0)
            assert sccm((await mfc.poll()).mass_flow) == pytest.approx(25.0, abs=0.2)

    run_on_virtual_clock(main)


def test_other_unit_ids_stay_silent() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, unit_id="B") as (_, port, _mfc):
            with pytest.raises(NoReply):
                await AlicatController(port, "A").poll()  # nobody called A on this bus
            assert (await AlicatController(port, "B").poll()).unit_id == "B"

    run_on_virtual_clock(main)


# -- 2. conformance with the manuals' examples ---------------------------------------------
def test_manual_mc_series_data_frame() -> None:
    """MC-Series manual, 'Collecting Flow Data Serially': unit id, absolute pressure,
    temperature, volumetric flow, standard (mass) flow, setpoint, gas."""
    f = parse_frame(b"A +13.60 +24.38 +16.67 +15.44 +15.44 Air\r")
    assert f.pressure == Q_(13.60, "psi") and f.temperature == Q_(24.38, "degC")
    assert f.volumetric_flow == Q_(16.67, "cm**3/min")
    assert f.mass_flow == Q_(15.44, SCCM) and f.setpoint == Q_(15.44, SCCM)
    assert f.gas == "Air" and f.total is None and f.status == frozenset()


def test_manual_frame_with_valve_drive_and_totalizer() -> None:
    """IM manual, 'Data Format', controller: … setpoint, valve drive, totalizer, gas."""
    f = parse_frame(b"A +15.542 +24.57 +16.667 +15.444 +15.444 +81.23 22741.4 N2\r")
    assert f.setpoint == Q_(15.444, SCCM)
    assert f.total == Q_(22741.4, f"{SCCM}*min") and f.gas == "N2"


def test_brief_zero_padded_frame_and_status_codes() -> None:
    """Primer, 'The Alicat Data Frame' (zero-padded fields) and 'Status/Error Codes':
    active codes trail the gas label."""
    f = parse_frame(b"A +014.70 +025.00 +000.00 +000.00 +000.00 N2\r")
    assert f.pressure == Q_(14.70, "psi") and sccm(f.mass_flow) == 0.0
    f = parse_frame(b"A +014.70 +025.00 +130.00 +128.00 +100.00     N2 MOV VOV HLD\r")
    assert f.status == {"MOV", "VOV", "HLD"} and f.gas == "N2"
    f = parse_frame(b"B +014.70 +025.00 +000.00 +000.00 +000.00 9999999.9 Ar OVR\r", "B")
    assert f.status == {"OVR"}
    with pytest.raises(GarbledReply):
        parse_frame(b"B +014.70 +025.00 +000.00 +000.00 +000.00 N2\r", "A")  # other unit


def test_manual_rejected_command() -> None:
    """Primer: a command the device cannot carry out answers `?` (`A ?` with the id)."""
    for raw in (b"?\r", b"A ?\r"):
        with pytest.raises(InstrumentRefused):
            parse_line(raw)
    assert parse_firmware(b"A 10v05.0-R24\r") == "10v05.0-R24"


def manual_sim(**kw: Any) -> tuple[AlicatSimulator, list[float]]:
    t = [0.0]
    kw.setdefault("noise_fraction", 0.0)
    kw.setdefault("pressure_noise_psi", 0.0)
    kw.setdefault("temperature_noise_c", 0.0)
    kw.setdefault("zero_error_fraction", 0.0)
    kw.setdefault("zero_drift_fraction_per_h", 0.0)
    return AlicatSimulator(lambda: t[0], **kw), t


def test_simulator_answers_the_quick_command_reference() -> None:
    """MC-Series manual, 'Quick Serial Command Guide': poll `a`, setpoint `as…`,
    legacy setpoint (64000 = full scale), tare `av`, gas `ag…`; commands are not
    case-sensitive."""
    sim, t = manual_sim(full_scale_sccm=100.0, ambient_psia=14.70, backpressure_psi=0.0)
    assert sim.answer(b"A\r") == b"A +014.70 +025.00 +000.00 +000.00 +000.00 0000000.0 N2\r"
    assert sim.answer(b"a\r") == sim.answer(b"A\r")
    assert sim.answer(b"AS 5.0\r") == b"A +014.70 +025.00 +000.00 +000.00 +005.00 0000000.0 N2\r"
    t[0] = 30.0
    reply = sim.answer(b"A\r") or b""
    assert b" +005.00 +005.00 " in reply  # flow reached the setpoint
    assert sim.answer(b"AG 8\r") == reply  # gas 8 is N2
    assert (sim.answer(b"AG 4\r") or b"").endswith(b" CO2\r")
    assert (sim.answer(b"A32000\r") or b"").split()[5] == b"+050.00"
    assert (sim.answer(b"AV\r") or b"").startswith(b"A ")
    assert sim.answer(b"AX\r") == b"A ?\r"
    assert sim.answer(b"AS 150\r") == b"A ?\r"  # beyond full scale
    assert sim.answer(b"AG 99\r") == b"A ?\r"
    assert sim.answer(b"B\r") is None  # another unit's poll


# -- 3. parser fuzzing ------------------------------------------------------------------
_ALPHABET = "A +-.0123456789N2ArCOMVHLD?\r\n"
_replies = st.one_of(
    st.binary(max_size=60),
    st.text(alphabet=_ALPHABET, max_size=60).map(lambda s: s.encode() + b"\r"),
    st.lists(
        st.one_of(
            st.sampled_from(["A", "N2", "MOV", "HLD", "?", "--"]),
            st.floats(allow_nan=True, allow_infinity=True).map(lambda x: f"{x:+.2f}"),
        ),
        max_size=10,
    ).map(lambda parts: " ".join(parts).encode() + b"\r"),
)


@given(_replies)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_parsers_only_raise_driver_errors(raw: bytes) -> None:
    parsers: list[Callable[[bytes], object]] = [parse_line, parse_frame, parse_firmware]
    for parse in parsers:
        try:
            parse(raw)
        except (GarbledReply, InstrumentRefused) as e:
            assert isinstance(e, DriverError)


def test_gas_lookup() -> None:
    """Primer, gas table: 0 Air, 1 Ar, 2 CH4, 3 CO, 4 CO2, 5 C2H6, 6 H2, 7 He, 8 N2, …"""
    assert [gas_number(g) for g in ("Air", "Ar", "CH4", "CO", "CO2", "H2", "N2", "O2")] == [
        0, 1, 2, 3, 4, 6, 8, 11,
    ]  # fmt: skip
    with pytest.raises(InstrumentRefused):
        gas_number("Unobtainium")
    with pytest.raises(InstrumentRefused):
        gas_number(300)


# -- 4. device limits: refused before a byte is written --------------------------------
def test_mass_flow_limits_write_no_byte(tmp_path: Path) -> None:
    trace = tmp_path / "wire.trace"

    async def main(clock: Clock) -> None:
        async with rig(clock, trace=trace) as (sim, _, mfc):
            dev = MassFlowController(mfc, full_scale=100.0, name="mfc")
            before = sim.requests
            for bad in (-0.001, 100.001, 1e9, math.nan, math.inf):
                with pytest.raises(LimitError):
                    await dev.setpoint.set(bad)
                with pytest.raises(LimitError):
                    await dev.set(bad)
            with pytest.raises(LimitError):
                await dev.gas.set("Unobtainium")
            assert sim.requests == before

    run_on_virtual_clock(main)
    assert not trace.exists() or ">>" not in trace.read_text()


def test_full_scale_accepts_units() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (_, _, mfc):
            dev = MassFlowController(mfc, full_scale="0.5 slpm", name="mfc")
            assert dev.full_scale == pytest.approx(500.0)

    run_on_virtual_clock(main)


def test_device_set_waits_for_flow_on_the_clock() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock, seed=4) as (_, _, mfc):
            dev = MassFlowController(mfc, full_scale=100.0, name="mfc")
            await dev.connect()
            residual = await dev.tare()
            assert abs(residual) < 0.1
            t0, wall = clock.now(), time.perf_counter()
            await dev.set(50.0)
            assert 1.0 < clock.now() - t0 < 6.0  # ~ tau·ln(50) of lab time
            assert time.perf_counter() - wall < 1.5
            reading = await dev.read()
            assert reading["mfc-flow"]["value"] == pytest.approx(50.0, abs=1.0)
            assert reading["mfc-pressure"]["value"] == pytest.approx(101.5, abs=1.5)  # kPa
            assert reading["mfc-temperature"]["value"] == pytest.approx(25.0, abs=0.5)
            desc = await dev.describe()
            assert desc["mfc-flow"]["units"] == "sccm"
            assert desc["mfc-pressure"]["units"] == "kPa"
            await dev.gas.set("He")
            assert (await dev.read_configuration())["mfc-gas"]["value"] == "He"
            await dev.safe_state()
            await asyncio.sleep(5.0)
            assert abs(await dev.flow.get_value()) < 0.2
            assert await dev.setpoint.get_value() == 0.0

    run_on_virtual_clock(main)


def test_safe_state_releases_a_held_valve() -> None:
    async def main(clock: Clock) -> None:
        async with rig(clock) as (sim, _, mfc):
            dev = MassFlowController(mfc, name="mfc")
            await dev.connect()
            await dev.set(60.0)
            assert "HLD" in (await mfc.hold_valve()).status
            await dev.safe_state()
            await asyncio.sleep(5.0)
            frame = await mfc.poll()
            assert "HLD" not in frame.status and sim.true_flow_sccm() < 0.1

    run_on_virtual_clock(main)


# -- 5. simulator physics ----------------------------------------------------------------
def test_flow_is_first_order_and_the_totalizer_integrates_it() -> None:
    sim, t = manual_sim(tau_s=0.7)
    sim.answer(b"AS 80\r")
    t[0] = 0.7
    assert sim.true_flow_sccm() == pytest.approx(80 * (1 - math.exp(-1)), rel=1e-6)
    t[0] = 60.7
    sim.advance()
    # ∫ 80 (1 - e^-t/τ) dt over 60.7 s = 80 (60.7 - τ) scc·s / 60
    expected = 80 * (60.7 - 0.7 * (1 - math.exp(-60.7 / 0.7))) / 60
    assert sim.delivered_scc == pytest.approx(expected, rel=1e-6)
    assert sim.total_scc == pytest.approx(expected, rel=1e-6)
    assert (sim.answer(b"AT\r") or b"").split()[6] == b"0000000.0"  # totalizer reset


def test_tare_offsets_and_over_range_status() -> None:
    sim, t = manual_sim(zero_error_fraction=0.01, seed=5)
    before = sim.indicated_flow_sccm()
    assert before != 0.0  # the sensor's zero error shows at zero flow
    sim.answer(b"AV\r")
    assert sim.indicated_flow_sccm() == pytest.approx(0.0, abs=1e-9)
    # taring while gas flows writes the flow into the offset: the valve then over-delivers
    sim.answer(b"AS 80\r")
    t[0] = 20.0
    sim.answer(b"AV\r")
    sim.answer(b"AS 30\r")
    t[0] = 40.0
    frame = (sim.answer(b"A\r") or b"").decode()
    assert " +030.00 +030.00 " in frame  # it reads its setpoint …
    assert sim.true_flow_sccm() == pytest.approx(110.0, abs=0.5)  # … while 110 sccm flow
    assert "MOV" in frame.split()


def test_hold_and_totalizer_overflow() -> None:
    sim, t = manual_sim(total_max_scc=10.0)
    sim.answer(b"AS 60\r")
    t[0] = 5.0
    held = (sim.answer(b"AHC\r") or b"").decode().split()
    assert held[-1] == "HLD"
    t[0] = 10.0
    assert sim.true_flow_sccm() < 0.5  # held closed
    sim.answer(b"AC\r")
    t[0] = 30.0
    frame = (sim.answer(b"A\r") or b"").decode().split()
    assert "OVR" in frame and frame[6] == "0000010.0"  # frozen at its maximum


def test_noise_is_seeded() -> None:
    def frames(seed: int) -> list[bytes]:
        t = [0.0]
        sim = AlicatSimulator(lambda: t[0], seed=seed)
        sim.answer(b"AS 50\r")
        out = []
        for i in range(5):
            t[0] = 10.0 + i
            out.append(sim.answer(b"A\r") or b"")
        return out

    assert frames(3) == frames(3)
    assert frames(3) != frames(4)
