"""Driver for the New Era NE-1000 syringe pump (Basic Mode RS-232 protocol).

Bytes ↔ typed commands with units; no ophyd here. Reply parsing is a pure function so
it can be fed arbitrary bytes in tests: only `GarbledReply` / `InstrumentRefused` escape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from devices.errors import GarbledReply, InstrumentRefused
from devices.port import SerialPort, read_until
from ppu.core.units import Q_, Quantity

STX, ETX = b"\x02", b"\x03"
_REPLY = re.compile(rb"^\x02(\d\d)(A\?[A-Z]|[IWSPTUX])(.*)\x03$", re.DOTALL)
_ERRORS = {
    "?": "command not recognised",
    "?NA": "command not applicable now",
    "?OOR": "value out of range",
    "?COM": "invalid communications packet",
    "?IGN": "command ignored",
}
_ALARMS = {
    "R": "pump was reset (power interrupted)",
    "S": "pump motor stalled",
    "T": "safe-mode communications time out",
    "E": "pumping program error",
    "O": "pumping program phase out of range",
}
# rate units on the wire and their pint spelling
RATE_UNITS = {"MM": "mL/min", "MH": "mL/h", "UM": "uL/min", "UH": "uL/h"}
_VOLUME_UNITS = {"ML": "mL", "UL": "uL"}


class PumpState(StrEnum):
    INFUSING = "I"
    WITHDRAWING = "W"
    STOPPED = "S"
    PAUSED = "P"
    PAUSE_PHASE = "T"
    USER_WAIT = "U"
    PURGING = "X"


@dataclass(frozen=True)
class PumpReply:
    address: int
    state: PumpState
    data: str


def parse_reply(raw: bytes) -> PumpReply:
    """One framed reply → typed reply; alarms and error codes become exceptions."""
    m = _REPLY.match(raw)
    if not m:
        raise GarbledReply("NE-1000 reply is not STX aa prompt data ETX", raw)
    addr, prompt, data = m.groups()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise GarbledReply("NE-1000 reply is not ASCII", raw) from None
    if not text.isprintable():
        raise GarbledReply("NE-1000 reply holds control characters", raw)
    if prompt.startswith(b"A?"):
        code = prompt[2:].decode()
        raise InstrumentRefused(f"NE-1000 alarm: {_ALARMS.get(code, code)}", code=f"A?{code}")
    if text.startswith("?"):
        raise InstrumentRefused(f"NE-1000 error: {_ERRORS.get(text, text)}", code=text)
    return PumpReply(int(addr), PumpState(prompt.decode()), text)


def _number(text: str, raw: str) -> float:
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", text):
        raise GarbledReply(f"NE-1000 sent {text!r} where a number belongs", raw.encode())
    return float(text)


def parse_quantity_reply(data: str, units: dict[str, str]) -> Quantity:
    """'5.000MM' → 5 mL/min; '10.00ML' → 10 mL."""
    for code, unit in units.items():
        if data.endswith(code):
            return Q_(_number(data[: -len(code)], data), unit)
    raise GarbledReply(f"NE-1000 value {data!r} has no known unit", data.encode())


def parse_dispensed(data: str) -> tuple[Quantity, Quantity]:
    """'I1.250W0.000ML' → (infused, withdrawn)."""
    m = re.fullmatch(r"I([\d.]+)W([\d.]+)(ML|UL)", data)
    if not m:
        raise GarbledReply(f"NE-1000 dispensed reply {data!r} is not I…W…unit", data.encode())
    unit = _VOLUME_UNITS[m.group(3)]
    return Q_(_number(m.group(1), data), unit), Q_(_number(m.group(2), data), unit)


def fmt4(x: float) -> str:
    """At most 4 digits and a decimal point, as the pump requires."""
    if x >= 1000:
        return f"{x:.0f}"
    for decimals in (3, 2, 1, 0):
        text = f"{x:.{decimals}f}"
        if len(text.replace(".", "")) <= 4:
            return text
    return f"{x:.0f}"


def rate_command(rate: Quantity) -> str:
    """Pick the unit that keeps the most significant digits within the pump's 4."""
    best: tuple[float, str] | None = None
    for code, unit in RATE_UNITS.items():
        v = rate.to(unit).magnitude
        if v >= 10000 or v <= 0:
            continue
        text = fmt4(v)
        err = abs(float(text) - v) / v
        if best is None or err < best[0]:
            best = (err, f"RAT {text} {code}")
    if best is None:
        raise InstrumentRefused(f"rate {rate:~P} cannot be written in 4 digits", code="?OOR")
    return best[1]


class NE1000:
    """One NE-1000 pump on a serial port (default address 00)."""

    model = "NE-1000"

    def __init__(self, port: SerialPort, address: int = 0) -> None:
        self.port = port
        self.address = address

    async def command(self, text: str) -> PumpReply:
        raw = await self.port.query(f"{self.address:02d}{text}\r".encode(), read_until(ETX))
        return parse_reply(raw[raw.rfind(STX) :] if STX in raw else raw)

    async def identity(self) -> str:
        return (await self.command("VER")).data

    async def state(self) -> PumpState:
        # An empty command is not in the Basic Mode set; DIS is a harmless query.
        return (await self.command("DIS")).state

    async def diameter(self) -> Quantity:
        return Q_(_number((await self.command("DIA")).data, "DIA"), "mm")

    async def set_diameter(self, diameter: Quantity) -> None:
        await self.command(f"DIA {fmt4(diameter.to('mm').magnitude)}")

    async def rate(self) -> Quantity:
        return parse_quantity_reply((await self.command("RAT")).data, RATE_UNITS)

    async def set_rate(self, rate: Quantity) -> None:
        await self.command(rate_command(rate))

    async def target_volume(self) -> Quantity:
        return parse_quantity_reply((await self.command("VOL")).data, _VOLUME_UNITS)

    async def set_target_volume(self, volume: Quantity) -> None:
        unit = (await self.target_volume()).units
        await self.command(f"VOL {fmt4(volume.to(unit).magnitude)}")

    async def set_direction(self, direction: str) -> None:
        await self.command(f"DIR {direction}")

    async def run(self) -> PumpReply:
        return await self.command("RUN")

    async def stop(self) -> PumpReply:
        return await self.command("STP")

    async def dispensed(self) -> tuple[PumpState, Quantity, Quantity]:
        reply = await self.command("DIS")
        infused, withdrawn = parse_dispensed(reply.data)
        return reply.state, infused, withdrawn

    async def clear_dispensed(self) -> None:
        await self.command("CLD INF")
        await self.command("CLD WDR")
