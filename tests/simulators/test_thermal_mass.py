"""The thermal-mass rig: a heated block stated in physical units (J/K, W/K, W, degC) and
built into the instrument's Eurotherm simulator; heated by the Eurotherm's output or by a
relay channel. Closed form: T(t) = T_room + P/G + (T0 − T_room − P/G)·exp(−t G/C).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from devices.eurotherm import Eurotherm3200, LoopMode
from devices.modbus_relay import ModbusRelayModule
from ppu.core.clock import Clock
from ppu.core.units import Q_
from simulators.eurotherm import Eurotherm3200Simulator
from simulators.modbus_relay import ModbusRelaySimulator
from simulators.thermal_mass import ThermalMassRig
from simulators.world import World
from tests.devices.harness import run_on_virtual_clock, serving

BLOCK = {
    "heat_capacity": 500.0,
    "heat_loss": 1.0,
    "heater_power": 50.0,
    "ambient_temperature": 20.0,
}
TAU_S = 500.0  # C/G
T_FULL_C = 70.0  # T_room + P/G


def heating(t: float, t0_c: float = 20.0, power_w: float = 50.0) -> float:
    t_eq = 20.0 + power_w / 1.0
    return t_eq + (t0_c - t_eq) * math.exp(-t / TAU_S)


@asynccontextmanager
async def block(
    clock: Clock, **rig_options: Any
) -> AsyncIterator[tuple[ThermalMassRig, Eurotherm3200, ModbusRelayModule, Any]]:
    """A Eurotherm and a relay on one thermal-mass rig, built as the runtime builds them."""
    now = clock.monotonic
    rig = ThermalMassRig(now, World(), place="block_1:block", **rig_options)
    sim = Eurotherm3200Simulator(
        now, seed=1, noise_c=0.0, **rig.simulator_options("heater", "eurotherm-3200")
    )
    rig.attach("heater", sim)
    relay = ModbusRelaySimulator(now, seed=2, **rig.simulator_options("valves", "modbus-relay"))
    rig.attach("valves", relay)
    async with AsyncExitStack() as stack:
        ports = [
            await stack.enter_async_context(
                serving(clock, s, baudrate=115200, timeout=0.3, linger=0.01)
            )
            for s in (sim, relay)
        ]
        yield rig, Eurotherm3200(ports[0]), ModbusRelayModule(ports[1]), sim


async def pv(controller: Eurotherm3200) -> float:
    return float((await controller.pv()).m_as("degC"))


def test_the_rig_states_the_block_once_for_the_eurotherm() -> None:
    rig = ThermalMassRig(lambda: 0.0, World(), **BLOCK)
    assert rig.simulator_options("heater", "eurotherm-3200") == {
        "ambient_c": 20.0,
        "heat_capacity_j_per_k": 500.0,
        "loss_w_per_k": 1.0,
        "heater_w": 50.0,
    }
    assert rig.simulator_options("valves", "modbus-relay") == {}  # no relay heater
    assert rig.time_constant_s == TAU_S
    assert rig.steady_temperature_c(50.0) == T_FULL_C


def test_at_full_power_the_block_approaches_ambient_plus_power_over_loss_in_c_over_loss() -> None:
    async def main(clock: Clock) -> None:
        async with block(clock, **BLOCK) as (rig, controller, _, sim):
            assert await pv(controller) == pytest.approx(20.0, abs=0.06)
            await controller.set_loop_mode(LoopMode.MANUAL)
            await controller.set_manual_output(Q_(100, "percent"))
            t0 = clock.monotonic()
            for n_tau in (1, 3, 10):
                await asyncio.sleep(t0 + n_tau * TAU_S - clock.monotonic())
                expected = heating(clock.monotonic() - t0)
                assert rig.temperature_c() == pytest.approx(expected, rel=1e-9)  # advances
                assert sim.temperature_c == rig.temperature_c()
                assert await pv(controller) == pytest.approx(expected, abs=0.06)  # 0.1 °C steps
            assert await pv(controller) == pytest.approx(T_FULL_C, abs=0.06)

    run_on_virtual_clock(main)


def test_a_relay_switched_heater_heats_the_block_the_eurotherm_only_reads() -> None:
    """heater_channel: the coil switches heater_power; the Eurotherm's own output (even 100 %
    in auto towards 300 °C) heats nothing."""

    async def main(clock: Clock) -> None:
        async with block(clock, heater_channel=5, **BLOCK) as (rig, controller, relay, sim):
            assert sim.heater_w == 0.0
            await controller.set_setpoint(Q_(300, "degC"))  # its PID drives a heater not there
            await asyncio.sleep(TAU_S)
            assert await pv(controller) == pytest.approx(20.0, abs=0.06)
            await relay.set_coil(5, True)
            t_on = clock.monotonic()
            await asyncio.sleep(TAU_S)
            hot = heating(clock.monotonic() - t_on)
            assert rig.temperature_c() == pytest.approx(hot, rel=1e-9)
            assert await pv(controller) == pytest.approx(hot, abs=0.06)
            await relay.set_coil(5, False)
            t_off = clock.monotonic()
            await asyncio.sleep(2 * TAU_S)
            cooled = 20.0 + (hot - 20.0) * math.exp(-(clock.monotonic() - t_off) / TAU_S)
            assert rig.temperature_c() == pytest.approx(cooled, rel=1e-6)
            assert await pv(controller) == pytest.approx(cooled, abs=0.06)
            assert rig.heater_on is False

    run_on_virtual_clock(main)


def test_without_a_controller_the_rig_keeps_the_temperature_itself() -> None:
    t = [0.0]
    rig = ThermalMassRig(lambda: t[0], World(), heater_channel=0, **BLOCK)
    relay = ModbusRelaySimulator(lambda: t[0], **rig.simulator_options("valves", "modbus-relay"))
    rig.attach("valves", relay)
    relay.set_coil(0, True)
    t[0] = 2 * TAU_S
    assert rig.temperature_c() == pytest.approx(heating(2 * TAU_S), rel=1e-12)
    relay.set_coil(0, False)
    t[0] = 3 * TAU_S
    assert rig.temperature_c() == pytest.approx(20 + (heating(2 * TAU_S) - 20) / math.e, rel=1e-12)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"heat_capacity": 0.0}, "heat_capacity"),
        ({"heat_loss": -1.0}, "heat_loss"),
        ({"heater_power": -5.0}, "heater_power"),
        ({"ambient_temperature": -300.0}, "ambient_temperature"),
        ({"heater_channel": 1.5}, "heater_channel"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ThermalMassRig(lambda: 0.0, World(), **options)
