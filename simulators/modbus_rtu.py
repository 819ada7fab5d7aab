"""A Modbus RTU slave, as the serial-line specification describes it, for instrument twins.

Written from the specifications, not from any driver: "MODBUS over Serial Line
Specification and Implementation Guide V1.02" (RTU framing, section 2.5.1; CRC-16,
section 6.2.2 and appendix B) and "MODBUS Application Protocol Specification V1.1b3"
(function codes, section 6; exception responses, section 7).

A frame is `address, function, data, CRC-lo, CRC-hi`. A frame with a bad CRC or for
another address is discarded without a word; a broadcast (address 0) is executed but
never answered. Subclasses implement `handle(function, data)` and raise `ModbusError`
for an exception response.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

from simulators.base import Faults, InstrumentSimulator

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
SERVER_DEVICE_FAILURE = 0x04

# Request length after address and function code, for functions whose length is fixed.
_FIXED_DATA_LENGTH = {0x01: 4, 0x02: 4, 0x03: 4, 0x04: 4, 0x05: 4, 0x06: 4, 0x08: 4, 0x07: 0}
# Functions whose request carries a byte count at this offset of the data.
_BYTE_COUNT_AT = {0x0F: 4, 0x10: 4}


def crc16(frame: bytes) -> bytes:
    """Modbus CRC-16 (polynomial 0xA001 reflected, start 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


class ModbusError(Exception):
    """An exception response with this code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"Modbus exception {code:02X}")
        self.code = code


def unpack(fmt: str, data: bytes) -> tuple[int, ...]:
    """struct.unpack for a request's data field; a wrong length is an illegal data value."""
    if len(data) != struct.calcsize(fmt):
        raise ModbusError(ILLEGAL_DATA_VALUE)
    return struct.unpack(fmt, data)


class ModbusRTUSimulator(InstrumentSimulator):
    """The RTU framing, addressing, CRC and exception replies every Modbus twin shares."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        seed: int = 0,
        faults: Faults | None = None,
        address: int = 1,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults)
        self.address = address

    # -- framing ----------------------------------------------------------------------
    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        """One RTU frame: its length follows from the function code (RTU has no terminator;
        a real slave also watches the 3.5-character silence, which a byte stream lacks)."""
        head = await reader.readexactly(2)
        function = head[1]
        if function in _FIXED_DATA_LENGTH:
            return head + await reader.readexactly(_FIXED_DATA_LENGTH[function] + 2)
        if function in _BYTE_COUNT_AT:
            fixed = await reader.readexactly(_BYTE_COUNT_AT[function] + 1)
            return head + fixed + await reader.readexactly(fixed[-1] + 2)
        # Unknown function: the frame is whatever else arrived in the same burst.
        return head + await reader.read(256)

    def frame(self, pdu: bytes, address: int | None = None) -> bytes:
        body = bytes([self.address if address is None else address]) + pdu
        return body + crc16(body)

    def error_reply(self, request: bytes) -> bytes:
        function = request[1] if len(request) > 1 else 0
        return self.frame(bytes([(function | 0x80) & 0xFF, SERVER_DEVICE_FAILURE]))

    def answer(self, request: bytes) -> bytes | None:
        if len(request) < 4 or crc16(request[:-2]) != request[-2:]:
            return None  # a damaged frame is discarded, not answered
        address, function, data = request[0], request[1], request[2:-2]
        if address not in (0, self.address):
            return None  # another slave on the line
        self.advance()
        try:
            pdu = bytes([function]) + self.handle(function, data)
        except ModbusError as e:
            pdu = bytes([function | 0x80, e.code])
        if address == 0:
            return None
        return self.frame(pdu)

    # -- per instrument -----------------------------------------------------------------
    def advance(self) -> None:
        """Bring the physical state up to `self.now()` (before each request)."""

    def handle(self, function: int, data: bytes) -> bytes:
        """The reply's data field (after the function code) for one request."""
        raise ModbusError(ILLEGAL_FUNCTION)
