"""The gas-cell rig: MFCs fill a closed cell, a vent relaxes it, a gauge reads it, a heater
warms it. The physics against closed forms, driven through the wire protocols (Alicat,
MKS, Modbus relay and Eurotherm drivers over sockets, on the virtual clock) where that is
practical, and through the simulators' `respond()` (the same path, without sockets) where a
test needs many events.
"""

from __future__ import annotations

import asyncio
import math
import pickle
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from devices.alicat import SCCM, AlicatController
from devices.eurotherm import Eurotherm3200
from devices.mks import MKSGauge
from devices.modbus_relay import ModbusRelayModule
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.alicat import PSI_PA, AlicatSimulator
from simulators.eurotherm import Eurotherm3200Simulator
from simulators.gas_cell import MOL_PER_SCC, GasCellRig, R
from simulators.mks import MKSGaugeSimulator
from simulators.modbus_relay import ModbusRelaySimulator
from simulators.world import Portion, World
from tests.devices.harness import run_on_virtual_clock, serving

T25_K = 298.15
EXACT_MFC = {"zero_error_fraction": 0.0, "zero_drift_fraction_per_h": 0.0}  # true = setpoint
EXACT_GAUGE = {"accuracy": 0.0, "zero_offset_pa": 0.0, "noise": 0.0, "noise_floor_pa": 0.0}


def lag_scc(sccm: float, t: float, tau: float = 0.7) -> float:
    """scc delivered by t after a step from 0 to `sccm` at 0, through a first-order lag."""
    return sccm / 60 * (t - tau * (1 - math.exp(-t / tau)))


def build(rig: GasCellRig, name: str, driver: str, cls: type, now: Any, **options: Any) -> Any:
    """A device's simulator as the runtime builds it: the rig's options, then `attach`."""
    sim = cls(now, seed=len(name), **options, **rig.simulator_options(name, driver))
    rig.attach(name, sim)
    return sim


@dataclass
class Cell:
    rig: GasCellRig
    mfc: AlicatController
    gauge: MKSGauge
    relay: ModbusRelayModule
    heater: Eurotherm3200 | None
    sims: dict[str, Any]

    async def pa(self) -> float:
        return float((await self.gauge.pressure(4)).m_as("Pa"))


@asynccontextmanager
async def cell(clock: Clock, *, heated: bool = False, **rig_options: Any) -> AsyncIterator[Cell]:
    """One MFC, a gauge, a relay (and a Eurotherm if `heated`) on one gas-cell rig, each
    served on its own socket with its real driver."""
    now = clock.monotonic
    rig = GasCellRig(now, World(), place="cell_1:cell", **rig_options)
    sims: dict[str, Any] = {
        "mfc": build(rig, "mfc", "alicat", AlicatSimulator, now, **EXACT_MFC),
        "gauge": build(rig, "gauge", "mks-9xx", MKSGaugeSimulator, now, **EXACT_GAUGE),
        "valves": build(rig, "valves", "modbus-relay", ModbusRelaySimulator, now),
    }
    if heated:
        sims["heater"] = build(
            rig, "heater", "eurotherm-3200", Eurotherm3200Simulator, now, noise_c=0.0
        )
    async with AsyncExitStack() as stack:

        async def port(name: str, baudrate: int) -> Any:
            return await stack.enter_async_context(
                serving(clock, sims[name], baudrate=baudrate, timeout=0.3, linger=0.01)
            )

        gauge = MKSGauge(await port("gauge", 9600))
        await gauge.set_unit("Pa")
        heater = Eurotherm3200(await port("heater", 115200)) if heated else None
        yield Cell(
            rig,
            AlicatController(await port("mfc", 19200)),
            gauge,
            ModbusRelayModule(await port("valves", 115200)),
            heater,
            sims,
        )


async def sleep_until(clock: Clock, t: float) -> None:
    await asyncio.sleep(max(0.0, t - clock.monotonic()))


def test_one_mfc_fills_a_sealed_cell_at_the_ideal_gas_rate() -> None:
    """Δp = Δn R T / V, Δn the standard flow (25 °C, 14.696 psia) integrated through the
    MFC's first-order lag."""
    v_m3, p0 = 1e-3, 1000.0

    async def main(clock: Clock) -> None:
        async with cell(clock, volume=1000.0, initial_pressure=p0, temperature=25.0) as c:
            assert await c.pa() == pytest.approx(p0, rel=1e-3)
            t0 = clock.monotonic()
            await c.mfc.set_setpoint(Q_(10, SCCM))
            readings = []
            for minutes in (1, 5, 10):
                await sleep_until(clock, t0 + 60 * minutes)
                t = clock.monotonic() - t0
                expected = p0 + lag_scc(10, t) * MOL_PER_SCC * R * T25_K / v_m3
                assert c.rig.pressure_pa() == pytest.approx(expected, rel=1e-9)
                assert await c.pa() == pytest.approx(expected, rel=1e-3)  # PR4: 4 digits
                readings.append((t, c.rig.pressure_pa()))
            # at steady flow the rate is F R T / V
            (ta, pa), (tb, pb) = readings[1], readings[2]
            rate = 10 / 60 * MOL_PER_SCC * R * T25_K / v_m3
            assert (pb - pa) / (tb - ta) == pytest.approx(rate, rel=1e-9)
            # every mole the MFC truly delivered is in the cell, none vented
            mfc_sim = c.sims["mfc"]
            assert c.rig.delivered_mol == pytest.approx(
                mfc_sim.delivered_scc * MOL_PER_SCC, rel=1e-12
            )
            assert c.rig.vented_mol == 0.0
            # the MFC reads the cell's pressure as its own, plus its small backpressure
            frame = await c.mfc.poll()
            psia = c.rig.pressure_pa() / PSI_PA + 0.4 * 10 / 100
            assert frame.pressure.m_as("psi") == pytest.approx(psia, abs=0.03)

    run_on_virtual_clock(main)


@pytest.mark.parametrize("p0", [120e3, 2e3], ids=["from above", "from below"])
def test_an_open_vent_relaxes_the_cell_to_ambient_with_time_constant_v_over_c(p0: float) -> None:
    p_amb, volume_ml, conductance_ml_s = 101325.0, 50.0, 2.5
    tau = volume_ml / conductance_ml_s  # 20 s

    async def main(clock: Clock) -> None:
        opts = {"volume": volume_ml, "vent_conductance": conductance_ml_s, "vent_channel": 3}
        async with cell(clock, initial_pressure=p0, ambient_pressure=p_amb, **opts) as c:
            assert c.rig.vent_time_constant_s == pytest.approx(tau)
            t0 = clock.monotonic()
            await sleep_until(clock, t0 + 100.0)
            assert c.rig.pressure_pa() == pytest.approx(p0, rel=1e-12)  # sealed: it keeps
            await c.relay.set_coil(3, True)
            t_open = clock.monotonic()
            for n_tau in (1, 2, 5):
                await sleep_until(clock, t_open + n_tau * tau)
                t = clock.monotonic() - t_open
                expected = p_amb + (p0 - p_amb) * math.exp(-t / tau)
                assert c.rig.pressure_pa() == pytest.approx(expected, rel=1e-9)
                assert await c.pa() == pytest.approx(expected, rel=1.5e-3)
            await c.relay.set_coil(3, False)
            held = c.rig.pressure_pa()
            await sleep_until(clock, clock.monotonic() + 3600.0)
            assert c.rig.pressure_pa() == pytest.approx(held, rel=1e-12)  # shut again

    run_on_virtual_clock(main)


def test_flow_into_a_vented_cell_holds_it_above_ambient_by_flow_over_conductance() -> None:
    """Steady state of dn/dt = F − (C/V)(n − n_amb): p = p_amb + F R T / C."""

    async def main(clock: Clock) -> None:
        async with cell(clock, volume=50.0, vent_conductance=5.0, vent_channel=0) as c:
            await c.relay.set_coil(0, True)
            await c.mfc.set_setpoint(Q_(20, SCCM))
            await sleep_until(clock, clock.monotonic() + 600.0)  # 60 time constants
            excess = 20 / 60 * MOL_PER_SCC * R * T25_K / 5e-6
            assert excess == pytest.approx(6754, rel=1e-3)
            assert c.rig.pressure_pa() == pytest.approx(101325.0 + excess, rel=1e-9)
            assert await c.pa() == pytest.approx(101325.0 + excess, rel=1e-3)
            # what came in went out
            assert c.rig.vented_mol == pytest.approx(
                c.rig.delivered_mol - excess * 50e-6 / (R * T25_K), rel=1e-9
            )

    run_on_virtual_clock(main)


# -- exactness between events: against an independent fine-step integration -------------
class HandClock:
    """A clock a test moves by hand (picklable, unlike a lambda)."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


def send(sim: Any, request: bytes) -> bytes | None:
    reply, _ = sim.respond(request)
    return reply


def coil(channel: int, on: bool) -> bytes:
    from simulators.modbus_rtu import crc16

    body = bytes([1, 5, 0, channel, 0xFF if on else 0, 0])
    return body + crc16(body)


EVENTS: list[tuple[float, str, bytes]] = [
    (0.0, "mfc", b"AS 50\r"),
    (0.3, "valves", coil(0, True)),
    (1.1, "mfc", b"AS 20\r"),
    (2.0, "valves", coil(0, False)),
    (2.5, "mfc", b"AS 80\r"),
    (3.2, "valves", coil(0, True)),
    (3.6, "mfc", b"AS 0\r"),
]


def scripted(
    tau_s: float, reads_every: float | None, mfc_reads_cell: bool = True
) -> tuple[GasCellRig, dict[str, Any], Any]:
    clock = HandClock()
    rig = GasCellRig(clock.now, World(), volume=10.0, vent_conductance=5.0, vent_channel=0)
    sims = {
        "mfc": build(rig, "mfc", "alicat", AlicatSimulator, clock.now, tau_s=tau_s, **EXACT_MFC),
        "valves": build(rig, "valves", "modbus-relay", ModbusRelaySimulator, clock.now),
    }
    if not mfc_reads_cell:  # then only `on_retarget` tells the rig of a new flow
        sims["mfc"].downstream_pa = None
    times = [e[0] for e in EVENTS] + [5.0]
    for (t, name, request), t_next in zip(EVENTS, times[1:], strict=True):
        clock.t = t
        assert send(sims[name], request) is not None
        while reads_every and clock.t + reads_every < t_next:
            clock.t += reads_every
            rig.pressure_pa()
    clock.t = 5.0
    return rig, sims, clock


@pytest.mark.parametrize("tau_s", [0.7, 2.0], ids=["lag faster than vent", "lag equals vent"])
@pytest.mark.parametrize("mfc_reads_cell", [True, False], ids=["mfc reads cell", "mfc alone"])
def test_the_amount_in_the_cell_is_exact_between_events(tau_s: float, mfc_reads_cell: bool) -> None:
    """Setpoint steps and vent switching at odd times; the rig, read only at the events,
    agrees with an RK4 integration of dn/dt = F(t) − k(n − n_amb) at 1 ms steps (F from an
    identical MFC), and with itself read every 10 ms."""
    rig, _, _ = scripted(tau_s, None, mfc_reads_cell)
    often, _, _ = scripted(tau_s, 0.01)
    # the reference: an identical MFC driven at the same times, sampled on a fine grid
    clock = HandClock()
    twin = AlicatSimulator(clock.now, seed=len("mfc"), tau_s=tau_s, **EXACT_MFC)
    v = 10e-6
    n_amb = 101325.0 * v / (R * T25_K)
    k_open = 5.0 / 10.0
    n, vent, h = n_amb, False, 1e-3

    def flow_mol_s(t: float) -> float:
        clock.t = t
        return twin.true_flow_sccm() / 60 * MOL_PER_SCC

    steps = round(5.0 / h)
    events = {round(t / h): (name, req) for t, name, req in EVENTS}
    for i in range(steps):
        if i in events:
            name, req = events[i]
            clock.t = i * h
            if name == "mfc":
                send(twin, req)
            else:
                vent = req[4] == 0xFF
        k = k_open if vent else 0.0

        def f(t: float, y: float, k: float = k) -> float:
            return flow_mol_s(t) - k * (y - n_amb)

        t = i * h
        k1 = f(t, n)
        k2 = f(t + h / 2, n + h / 2 * k1)
        k3 = f(t + h / 2, n + h / 2 * k2)
        k4 = f(t + h, n + h * k3)
        n += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    assert rig.amount_mol() == pytest.approx(n, rel=1e-9)
    assert often.amount_mol() == pytest.approx(rig.amount_mol(), rel=1e-12)
    assert rig.delivered_mol == pytest.approx(twin.delivered_scc * MOL_PER_SCC, rel=1e-12)
    assert rig.amount_mol() == pytest.approx(n_amb + rig.delivered_mol - rig.vented_mol)


def test_the_rig_and_its_simulators_survive_a_snapshot() -> None:
    rig, sims, clock = scripted(0.7, None)
    copy_rig, copy_sims, copy_clock = pickle.loads(pickle.dumps((rig, sims, clock)))
    for s, c in ((sims, clock), (copy_sims, copy_clock)):
        send(s["mfc"], b"AS 30\r")
        send(s["valves"], coil(0, False))
        c.t = 65.0
    assert copy_rig.pressure_pa() == rig.pressure_pa()
    assert copy_rig.pressure_pa() > 101325.0


# -- the heated cell ---------------------------------------------------------------------
def test_a_heated_cell_reads_the_eurotherms_temperature() -> None:
    """Sealed, the pressure follows the Eurotherm's process temperature: p ∝ T (kelvin);
    the rig built the Eurotherm with its thermal options, the room at `temperature`."""
    p0 = 50e3

    async def main(clock: Clock) -> None:
        opts = {"heat_capacity": 500.0, "heat_loss": 1.0, "heater_power": 200.0}
        async with cell(clock, heated=True, volume=100.0, initial_pressure=p0, **opts) as c:
            sim = c.sims["heater"]
            assert (sim.heat_capacity, sim.loss, sim.heater_w, sim.ambient_c) == (
                500.0,
                1.0,
                200.0,
                25.0,
            )
            assert c.heater is not None
            await c.heater.set_setpoint(Q_(100, "degC"))
            await sleep_until(clock, clock.monotonic() + 3 * 3600.0)
            pv = float((await c.heater.pv()).m_as("degC"))
            assert pv == pytest.approx(100.0, abs=0.3)
            t_k = sim.temperature_c + 273.15
            assert c.rig.pressure_pa() == pytest.approx(p0 * t_k / T25_K, rel=1e-9)
            assert await c.pa() == pytest.approx(p0 * 373.15 / T25_K, rel=3e-3)

    run_on_virtual_clock(main)


def test_a_relay_heater_warms_a_cell_with_no_controller() -> None:
    """No Eurotherm: the rig keeps the cell's temperature itself, T_room + P/G (1 − e^{−t/τ})."""
    clock = HandClock()
    rig = GasCellRig(
        clock.now, World(), heater_channel=1, heat_capacity=100.0, heat_loss=0.5, heater_power=25.0
    )
    relay = build(rig, "valves", "modbus-relay", ModbusRelaySimulator, clock.now)
    p0 = rig.pressure_pa()
    assert send(relay, coil(1, True)) is not None
    tau = 100.0 / 0.5
    clock.t = tau
    t_k = T25_K + 25.0 / 0.5 * (1 - math.exp(-1))
    assert rig.temperature_k() == pytest.approx(t_k, rel=1e-12)
    assert rig.pressure_pa() == pytest.approx(p0 * t_k / T25_K, rel=1e-12)
    assert not rig.vent_open  # channel 1 is the heater, not the vent (channel 0)


def test_taking_the_sample_out_opens_the_cell_to_the_room() -> None:
    clock = HandClock()
    world = World()
    world.put("c:cell", Portion("pellet", 0.2))
    rig = GasCellRig(clock.now, world, place="c:cell", initial_pressure=500.0)
    assert rig.pressure_pa() == pytest.approx(500.0)
    world.take("c:cell")
    assert rig.pressure_pa() == pytest.approx(101325.0)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"volume": 0.0}, "volume"),
        ({"vent_conductance": -1.0}, "vent_conductance"),
        ({"initial_pressure": float("nan")}, "initial_pressure"),
        ({"vent_channel": 2, "heater_channel": 2}, "both vent and heater"),
        ({"heat_loss": 0.0}, "heat_loss"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        GasCellRig(lambda: 0.0, World(), **options)
