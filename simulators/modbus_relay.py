"""A generic Modbus RTU relay / digital I/O module driving solenoid valves.

Protocol: MODBUS Application Protocol Specification V1.1b3, functions 01 Read Coils (6.1),
02 Read Discrete Inputs (6.2), 05 Write Single Coil (6.5: FF00 on, 0000 off, any other
value is an illegal data value) and 0F Write Multiple Coils (6.11); relay k is coil k and
the valve's position switch is discrete input k. Anything else is answered with
exception 01, an address beyond the last relay with 02, a bad quantity with 03.

Physics: the coils are the state. A valve's position (its discrete input) follows its coil
after `actuation_s` of lab time, the solenoid's response; each change of a coil is
counted (relay wear) and reported to `on_change(channel, energised)` at the moment the
command arrives, so a manifold model elsewhere can open the gas path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from simulators.base import Faults
from simulators.modbus_rtu import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    ModbusError,
    ModbusRTUSimulator,
    unpack,
)


class ModbusRelaySimulator(ModbusRTUSimulator):
    """`channels` relays with position feedback; `on_change(channel, energised)` hook."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        seed: int = 0,
        faults: Faults | None = None,
        address: int = 1,
        channels: int = 8,
        actuation_s: float = 0.05,
        on_change: Callable[[int, bool], None] | None = None,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults, address=address)
        self.channels = channels
        self.actuation_s = actuation_s
        self.on_change = on_change
        self.coils = [False] * channels
        self.cycles = [0] * channels  # switching operations per relay
        self._changed_at = [now() - actuation_s] * channels

    # -- physics --------------------------------------------------------------------
    def position(self, channel: int) -> bool:
        """Whether the valve on `channel` has moved to its coil's state (energised side)."""
        if self.now() - self._changed_at[channel] >= self.actuation_s:
            return self.coils[channel]
        return not self.coils[channel]

    def set_coil(self, channel: int, energised: bool) -> None:
        if self.coils[channel] == energised:
            return
        self.coils[channel] = energised
        self.cycles[channel] += 1
        self._changed_at[channel] = self.now()
        if self.on_change is not None:
            self.on_change(channel, energised)

    # -- Modbus ---------------------------------------------------------------------
    def _range(self, data: bytes) -> tuple[int, int]:
        start, count = unpack(">HH", data)
        if not 1 <= count <= 2000:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if start + count > self.channels:
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        return start, count

    @staticmethod
    def _pack_bits(bits: list[bool]) -> bytes:
        """Bit 0 of the first byte is the first coil; the last byte is padded with zeros."""
        out = bytearray((len(bits) + 7) // 8)
        for i, bit in enumerate(bits):
            if bit:
                out[i // 8] |= 1 << (i % 8)
        return bytes([len(out)]) + bytes(out)

    def handle(self, function: int, data: bytes) -> bytes:
        if function == 0x01:
            start, count = self._range(data)
            return self._pack_bits(self.coils[start : start + count])
        if function == 0x02:
            start, count = self._range(data)
            bits = [self.reading(f"in{c}", self.position(c)) for c in range(start, start + count)]
            return self._pack_bits([bool(b) for b in bits])
        if function == 0x05:
            channel, value = unpack(">HH", data)
            if value not in (0xFF00, 0x0000):
                raise ModbusError(ILLEGAL_DATA_VALUE)
            if channel >= self.channels:
                raise ModbusError(ILLEGAL_DATA_ADDRESS)
            self.set_coil(channel, value == 0xFF00)
            return data
        if function == 0x0F:
            if len(data) < 5:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            start, count, nbytes = struct.unpack(">HHB", data[:5])
            if not 1 <= count <= 0x07B0 or nbytes != (count + 7) // 8 or len(data) != 5 + nbytes:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            if start + count > self.channels:
                raise ModbusError(ILLEGAL_DATA_ADDRESS)
            packed = data[5:]
            for i in range(count):
                self.set_coil(start + i, bool(packed[i // 8] >> (i % 8) & 1))
            return data[:4]
        raise ModbusError(ILLEGAL_FUNCTION)
