"""Modbus RTU on a `SerialPort`, with minimalmodbus doing the framing and the CRC.

Each exchange is one minimalmodbus call run on the port's thread through `SerialPort.call`
(so it holds the lab clock and lands in the wire trace). minimalmodbus's own exceptions
(all OSError subclasses) are turned into the driver's typed errors here, so nothing else
escapes: a slave's exception reply is InstrumentRefused with the Modbus exception code,
a bad CRC or a malformed frame is GarbledReply, silence is NoReply.

minimalmodbus keeps the RTU silent interval (3.5 characters) with its own wall-clock
sleep between frames; that few-millisecond wait lives inside the library.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import minimalmodbus

from devices.errors import GarbledReply, InstrumentRefused, LimitError, NoReply
from devices.port import SerialPort

T = TypeVar("T")
#: One Modbus transaction, expressed as a call on a minimalmodbus Instrument.
Op = Callable[[minimalmodbus.Instrument], T]

# minimalmodbus names the exception code in its message; map it back to the code.
_EXCEPTION_CODES = {
    "illegal function": "01",
    "illegal data address": "02",
    "illegal data value": "03",
    "device failure": "04",
    "device busy": "06",
    "negative acknowledge": "07",
    "memory parity": "08",
    "gateway path": "0A",
    "gateway target": "0B",
}


def exception_code(error: Exception) -> str:
    """The two-digit Modbus exception code a minimalmodbus SlaveReportedException stands for."""
    text = str(error).lower()
    for words, code in _EXCEPTION_CODES.items():
        if words in text:
            return code
    tail = text.rsplit(" ", 1)[-1]
    return f"{int(tail):02X}" if tail.isdigit() else "??"


def run_op(serial_obj: Any, slave: int, op: Op[T], model: str = "Modbus slave") -> T:
    """Run one transaction on an open serial-like object (blocking); only DriverErrors escape.

    Arguments are validated by the callers before this point, so a ValueError or TypeError
    raised here can only come from decoding the reply: it is a garbled reply.
    """
    instrument = minimalmodbus.Instrument(
        serial_obj, slave, mode=minimalmodbus.MODE_RTU, close_port_after_each_call=False
    )
    try:
        return op(instrument)
    except minimalmodbus.NoResponseError:
        raise NoReply(f"{model} {slave} did not answer") from None
    except minimalmodbus.SlaveReportedException as e:
        code = exception_code(e)
        raise InstrumentRefused(f"{model} {slave} refused: {e} (exception {code})", code) from None
    except minimalmodbus.ModbusException as e:
        raise GarbledReply(f"{model} {slave}: {e}") from None
    except (ValueError, TypeError, IndexError) as e:
        raise GarbledReply(f"{model} {slave}: reply does not decode ({e})") from None


class _OneReply:
    """A serial-like object holding one reply, to decode given bytes with minimalmodbus."""

    # 115200 baud keeps minimalmodbus's silent interval at its floor (1.75 ms).
    baudrate = 115200
    timeout = 0.0
    port = "ppu-parse-reply"
    is_open = True

    def __init__(self, reply: bytes) -> None:
        self._reply = reply
        self.written = b""

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def write(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def read(self, size: int = 1) -> bytes:
        data, self._reply = self._reply[:size], self._reply[size:]
        return data


def parse_reply(raw: bytes, op: Op[T], slave: int = 1) -> T:
    """Decode `raw` as the slave's reply to `op`: the pure parser behind every driver call.

    Runs the same minimalmodbus code path as on the wire, over an in-memory line, so tests
    can feed it manual examples or random bytes. Only GarbledReply / InstrumentRefused
    (and NoReply for an empty reply) come out.
    """
    return run_op(_OneReply(raw), slave, op)


def request_bytes(op: Op[Any], slave: int = 1) -> bytes:
    """The frame `op` puts on the wire (for conformance tests against the manuals)."""
    line = _OneReply(b"")
    with contextlib.suppress(NoReply):
        run_op(line, slave, op)
    return line.written


def to_register(value: float, decimals: int, what: str, signed: bool = True) -> float:
    """Check that `value` fits a 16-bit register at `decimals` decimal places (LimitError,
    before the wire), and round it to what the register can hold."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise LimitError(f"{what} {value!r} is not a number")
    scaled = round(value * 10**decimals)
    low, high = (-32768, 32767) if signed else (0, 65535)
    if not low <= scaled <= high:
        raise LimitError(f"{what} {value:g} does not fit a 16-bit register at {decimals} decimals")
    return scaled / 10**decimals


class ModbusRTU:
    """One slave on a serial line; several slaves may share one SerialPort (RS-485)."""

    def __init__(self, port: SerialPort, slave: int = 1, model: str = "Modbus slave") -> None:
        if not 1 <= slave <= 247:
            raise LimitError(f"Modbus slave address {slave} is outside 1..247")
        self.port = port
        self.slave = slave
        self.model = model

    async def run(self, op: Op[T]) -> T:
        return await self.port.call(lambda s: run_op(s, self.slave, op, self.model))

    async def read_register(self, address: int, decimals: int = 0, signed: bool = True) -> float:
        return await self.run(lambda i: i.read_register(address, decimals, 3, signed))

    async def write_register(
        self, address: int, value: float, decimals: int = 0, signed: bool = True
    ) -> None:
        value = to_register(value, decimals, f"register {address} value", signed)
        await self.run(lambda i: i.write_register(address, value, decimals, 6, signed))

    async def read_bits(self, address: int, count: int, functioncode: int = 1) -> list[int]:
        return await self.run(lambda i: i.read_bits(address, count, functioncode))

    async def write_bit(self, address: int, value: bool) -> None:
        await self.run(lambda i: i.write_bit(address, int(bool(value)), 5))

    async def write_bits(self, address: int, values: list[bool]) -> None:
        bits = [int(bool(v)) for v in values]
        await self.run(lambda i: i.write_bits(address, bits))
