"""Driver for a generic Modbus RTU relay / digital I/O module (8 relays, 8 inputs).

The common DIN-rail boards (Waveshare "Modbus RTU Relay", the many R4D/R8 clones) map
relay k to coil k (0-based) and input k to discrete input k, with the standard functions of
the MODBUS Application Protocol Specification V1.1b3: 01 Read Coils (6.1), 02 Read
Discrete Inputs (6.2), 05 Write Single Coil (6.5, FF00 = on, 0000 = off) and 0F Write
Multiple Coils (6.11). Framing and CRC are minimalmodbus's (devices/modbus_rtu.py).

Writing a coil sets an absolute state, so every exchange here may be repeated safely.
"""

from __future__ import annotations

from collections.abc import Sequence

from devices.errors import LimitError
from devices.modbus_rtu import ModbusRTU
from devices.port import SerialPort


class ModbusRelayModule:
    """`channels` relays at coils 0..channels-1, feedback inputs at discrete inputs 0.."""

    model = "Modbus relay module"

    def __init__(self, port: SerialPort, slave: int = 1, channels: int = 8) -> None:
        if not 1 <= channels <= 2000:
            raise LimitError(f"{channels} channels: a module has 1..2000 coils")
        self.port = port
        self.bus = ModbusRTU(port, slave, self.model)
        self.channels = channels

    def check_channel(self, channel: int) -> None:
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise LimitError(f"relay channel {channel!r} is not an integer")
        if not 0 <= channel < self.channels:
            raise LimitError(f"relay channel {channel} is outside 0..{self.channels - 1}")

    async def identity(self) -> str:
        """Relay boards carry no identity registers: reading the coils proves it answers."""
        on = sum(await self.coils())
        return f"Modbus relay module, {self.channels} channels, {on} energised"

    async def coils(self) -> list[bool]:
        """All relay states (01 Read Coils)."""
        bits = await self.bus.read_bits(0, self.channels, functioncode=1)
        return [bool(b) for b in bits]

    async def coil(self, channel: int) -> bool:
        self.check_channel(channel)
        (bit,) = await self.bus.read_bits(channel, 1, functioncode=1)
        return bool(bit)

    async def set_coil(self, channel: int, on: bool) -> None:
        """Energise or release one relay (05 Write Single Coil)."""
        self.check_channel(channel)
        if not isinstance(on, bool):
            raise LimitError(f"relay state {on!r} is not True or False")
        await self.bus.write_bit(channel, on)

    async def set_coils(self, states: Sequence[bool]) -> None:
        """Set every relay at once (0F Write Multiple Coils)."""
        if len(states) != self.channels or not all(isinstance(s, bool) for s in states):
            raise LimitError(f"need {self.channels} True/False states, got {list(states)!r}")
        await self.bus.write_bits(0, list(states))

    async def inputs(self) -> list[bool]:
        """All digital inputs (02 Read Discrete Inputs), e.g. valve position switches."""
        bits = await self.bus.read_bits(0, self.channels, functioncode=2)
        return [bool(b) for b in bits]

    async def all_off(self) -> None:
        await self.set_coils([False] * self.channels)
