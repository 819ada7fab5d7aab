"""Solenoid valves on a Modbus relay module, as ophyd-async devices.

`SolenoidValve.set(True)` opens one valve and completes after its actuation time (and,
with position feedback, once the input confirms it moved). `ValveBank` groups the valves
of a manifold and enforces interlocks: groups of valves that must never be open together
(say the vacuum line and the dosing gas). A refused command never reaches the relay.
The safe state of every valve is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence

from ophyd_async.core import AsyncStatus, StandardReadable, soft_signal_r_and_setter
from ophyd_async.core import StandardReadableFormat as Format

from devices.errors import InstrumentRefused, LimitError
from devices.modbus_relay import ModbusRelayModule
from devices.retry import retry_safe
from ppu.core.units import Quantity, parse_quantity

#: Called with (valve, open) before a valve moves; raises LimitError to refuse.
Interlock = Callable[["SolenoidValve", bool], Awaitable[None]]


class SolenoidValve(StandardReadable):
    """One valve on relay `channel`. Normally closed: energised = open (unless
    `normally_open`, where energised = closed)."""

    def __init__(
        self,
        relay: ModbusRelayModule,
        channel: int,
        *,
        normally_open: bool = False,
        feedback: bool = False,
        actuation_time: Quantity | str = "0.1 s",
        interlock: Interlock | None = None,
        name: str = "",
    ) -> None:
        relay.check_channel(channel)
        self.relay = relay
        self.channel = channel
        self.normally_open = normally_open
        self.feedback = feedback
        self.actuation_time = parse_quantity(actuation_time, "s")
        self.interlock = interlock
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.open, self._set_open = soft_signal_r_and_setter(bool, getter=self._read_open)
        super().__init__(name=name)

    def coil_for(self, open_: bool) -> bool:
        return open_ != self.normally_open

    async def _read_open(self) -> bool:
        port = self.relay.port
        if self.feedback:
            inputs = await retry_safe(port, self.relay.inputs)
            return inputs[self.channel] != self.normally_open
        return await retry_safe(port, lambda: self.relay.coil(self.channel)) != self.normally_open

    @AsyncStatus.wrap
    async def set(self, open_: bool) -> None:
        """Open (True) or close (False); done once the valve has had time to move."""
        if not isinstance(open_, bool):
            raise LimitError(f"{self.name}: valve state {open_!r} is not True or False")
        if self.interlock is not None:
            await self.interlock(self, open_)
        await self._drive(open_)

    async def _drive(self, open_: bool) -> None:
        coil = self.coil_for(open_)
        await retry_safe(self.relay.port, lambda: self.relay.set_coil(self.channel, coil))
        await asyncio.sleep(float(self.actuation_time.to("s").magnitude))
        if self.feedback:
            actual = await self._read_open()
            self._set_open(actual)
            if actual != open_:
                state = "open" if open_ else "closed"
                raise InstrumentRefused(f"{self.name}: valve did not report {state}", "feedback")
        else:
            self._set_open(open_)

    async def safe_state(self) -> None:
        """Closed. Interlocks never stop a valve from closing."""
        await self._drive(False)


class ValveBank(StandardReadable):
    """The valves of one manifold on one relay module, with interlocks between them."""

    def __init__(
        self,
        relay: ModbusRelayModule,
        valves: Mapping[str, int],
        *,
        interlocks: Sequence[Collection[str]] = (),
        normally_open: Collection[str] = (),
        feedback: bool = False,
        actuation_time: Quantity | str = "0.1 s",
        name: str = "",
    ) -> None:
        unknown = {v for group in interlocks for v in group} - set(valves)
        unknown |= set(normally_open) - set(valves)
        if unknown:
            raise LimitError(f"{name}: interlocks name unknown valves {sorted(unknown)}")
        if len(set(valves.values())) != len(valves):
            raise LimitError(f"{name}: two valves share a relay channel")
        self.relay = relay
        self.interlocks = [frozenset(g) for g in interlocks]
        self.valves: dict[str, SolenoidValve] = {}
        with self.add_children_as_readables():
            for valve_name, channel in valves.items():
                if not valve_name.isidentifier() or hasattr(self, valve_name):
                    raise LimitError(f"{name}: {valve_name!r} cannot name a valve")
                valve = SolenoidValve(
                    relay,
                    channel,
                    normally_open=valve_name in normally_open,
                    feedback=feedback,
                    actuation_time=actuation_time,
                    interlock=self.check_interlocks,
                )
                setattr(self, valve_name, valve)
                self.valves[valve_name] = valve
        super().__init__(name=name)

    def __getitem__(self, valve_name: str) -> SolenoidValve:
        return self.valves[valve_name]

    def _name_of(self, valve: SolenoidValve) -> str:
        return next(n for n, v in self.valves.items() if v is valve)

    async def open_valves(self) -> set[str]:
        """Which valves are open now, from the relay's own coil states."""
        coils = await retry_safe(self.relay.port, self.relay.coils)
        return {n for n, v in self.valves.items() if coils[v.channel] != v.normally_open}

    async def check_interlocks(self, valve: SolenoidValve, open_: bool) -> None:
        """Refuse to open a valve while another valve of one of its groups is open.

        The relay's coils are read fresh (a read is harmless) so a state set by anyone
        else still counts; a refused command writes nothing.
        """
        if not open_:
            return
        name = self._name_of(valve)
        groups = [g for g in self.interlocks if name in g]
        if not groups:
            return
        already = await self.open_valves()
        for group in groups:
            clash = sorted((group - {name}) & already)
            if clash:
                raise LimitError(
                    f"{self.name}: opening {name} while {', '.join(clash)} is open "
                    f"breaks interlock {sorted(group)}"
                )

    async def set_open(self, states: Mapping[str, bool]) -> None:
        """Move several valves: closings first, then openings, each through its interlock."""
        unknown = set(states) - set(self.valves)
        if unknown:
            raise LimitError(f"{self.name}: no valves named {sorted(unknown)}")
        if any(not isinstance(v, bool) for v in states.values()):
            raise LimitError(f"{self.name}: valve states must be True or False: {dict(states)}")
        if self.interlocks and any(states.values()):
            final = (await self.open_valves() - {n for n, o in states.items() if not o}) | {
                n for n, o in states.items() if o
            }
            for group in self.interlocks:
                if len(group & final) > 1:
                    raise LimitError(
                        f"{self.name}: {sorted(group & final)} open together breaks "
                        f"interlock {sorted(group)}"
                    )
        for name, open_ in sorted(states.items(), key=lambda kv: kv[1]):
            await self.valves[name].set(open_)

    async def safe_state(self) -> None:
        """Every valve closed."""
        for valve in self.valves.values():
            await valve.safe_state()
