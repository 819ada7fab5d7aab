"""Driver for MKS 9xx-series vacuum transducers (902B, 925, 974B …), RS-232/485 protocol.

Every message is framed `@<aaa><command>?;FF` (query) or `@<aaa><command>!<value>;FF`
(set), `aaa` being the three-digit address (253 from the factory, 254 answers whatever
its address). Replies are `@<aaa>ACK<data>;FF`, or `@<aaa>NAK<code>;FF` on error
(MKS 902B Operation manual, 'Query and Command Syntax' and 'Response Syntax (ACK/NAK)').
Pressures come back in scientific notation (`1.23E-3`) in the transducer's own unit
(`U?` → TORR, MBAR or PASCAL). Parsers are pure functions: only `GarbledReply` and
`InstrumentRefused` escape them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.errors import GarbledReply, InstrumentRefused, NoReply
from devices.port import SerialPort
from ppu.core.units import Q_, Quantity

TERMINATOR = b";FF"
DEFAULT_ADDRESS = 253
UNIVERSAL_ADDRESS = 254  # every transducer answers, with its own address

# NAK codes from the 901P/902B/910 manuals' NAK table (195 appears in the 972B/974B table).
NAK_CODES = {
    "8": "zero adjustment at too high pressure",
    "9": "atmospheric adjustment at too low pressure",
    "160": "unrecognized message",
    "169": "invalid argument",
    "172": "value out of range",
    "175": "command/query character invalid",
    "180": "protected setting (not in setup mode, locked)",
    "195": "control setpoint enabled (ENC)",
}

# The transducer's unit words and their pint spelling.
UNITS = {"TORR": "torr", "MBAR": "mbar", "PASCAL": "Pa"}


@dataclass(frozen=True)
class GaugeModel:
    """Measuring range of one transducer model (the combined reading, in Torr)."""

    name: str
    sensor: str
    low_torr: float
    high_torr: float


# Measuring ranges as MKS data sheets give them; check the sheet of the unit you own.
MODELS: dict[str, GaugeModel] = {
    "925": GaugeModel("925", "MicroPirani", 1e-5, 1000.0),
    "902B": GaugeModel("902B", "absolute Piezo", 0.1, 1000.0),
    "974B": GaugeModel("974B", "QuadMag (cold cathode + MicroPirani + Piezo)", 5e-10, 1000.0),
}

_REPLY = re.compile(rb"^@([0-9]{3})(ACK|NAK)(.*);FF\Z", re.DOTALL)
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([Ee][+-]?[0-9]{1,3})?$")


def parse_reply(raw: bytes, address: int | None = None) -> str:
    """`@253ACK1.23E-3;FF` → '1.23E-3'; a NAK becomes InstrumentRefused with its code.

    `address` checks that the reply came from the transducer asked (None: any address).
    """
    m = _REPLY.match(raw)
    if not m:
        raise GarbledReply("MKS reply is not @aaaACK…;FF / @aaaNAK…;FF", raw)
    addr, kind, data = m.groups()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise GarbledReply("MKS reply is not ASCII", raw) from None
    if not text.isprintable():
        raise GarbledReply("MKS reply holds control characters", raw)
    if address is not None and address != UNIVERSAL_ADDRESS and int(addr) != address:
        raise GarbledReply(f"MKS reply from address {int(addr)}, not {address}", raw)
    if kind == b"NAK":
        if not re.fullmatch(r"[0-9]{1,4}", text):
            raise GarbledReply("MKS NAK without a numeric code", raw)
        code = str(int(text))
        raise InstrumentRefused(f"MKS NAK{code}: {NAK_CODES.get(code, 'unknown NAK code')}", code)
    return text


def parse_number(data: str) -> float:
    """'1.23E-3' → 0.00123; anything else (also 'inf', 'nan') is a garbled reply."""
    text = data.strip()
    if not _NUMBER.match(text):
        raise GarbledReply(f"MKS sent {data!r} where a number belongs", data.encode())
    value = float(text)
    if not math.isfinite(value):
        raise GarbledReply(f"MKS number {data!r} is not finite", data.encode())
    return value


def parse_unit(data: str) -> str:
    """'TORR' / 'Torr' → 'TORR' (the wire word); the pint unit is UNITS[word]."""
    word = data.strip().upper()
    if word not in UNITS:
        raise GarbledReply(f"MKS unit {data!r} is not TORR, MBAR or PASCAL", data.encode())
    return word


def parse_pressure(data: str, unit_word: str) -> Quantity:
    """A pressure reply in the transducer's current unit → a pint quantity."""
    return Q_(parse_number(data), UNITS[parse_unit(unit_word)])


def format_number(value: float, digits: int = 3) -> str:
    """The transducer's notation: `digits` significant digits, exponent without padding."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be sent to an MKS transducer")
    mantissa, exponent = f"{value:.{digits - 1}E}".split("E")
    return f"{mantissa}E{int(exponent):+d}"


def unit_word(unit: str) -> str:
    """A pint unit ('Pa', 'torr', 'mbar') → the transducer's word for it."""
    for word, pint_unit in UNITS.items():
        if Q_(1.0, unit).units == Q_(1.0, pint_unit).units:
            return word
    raise ValueError(f"MKS transducers report in torr, mbar or Pa, not {unit!r}")


def read_frame(s: Any) -> bytes:
    """A reader for `SerialPort.query`: one `…;FF` frame.

    A frame whose end was damaged on the line never shows its terminator; what did
    arrive before the timeout is a garbled reply, not silence.
    """
    data = s.read_until(TERMINATOR)
    if data.endswith(TERMINATOR):
        return data
    if data:
        raise GarbledReply("MKS frame without its ;FF end", data)
    raise NoReply("no reply")


class MKSGauge:
    """One MKS 9xx transducer on a serial line (RS-485 allows several per line)."""

    def __init__(self, port: SerialPort, address: int = DEFAULT_ADDRESS) -> None:
        if not 1 <= address <= UNIVERSAL_ADDRESS:
            raise ValueError(f"MKS address {address} is outside 1…254")
        self.port = port
        self.address = address
        self._unit_word: str | None = None

    # -- exchanges ------------------------------------------------------------------
    async def _exchange(self, body: str) -> str:
        raw = await self.port.query(f"@{self.address:03d}{body};FF".encode("ascii"), read_frame)
        # Line noise before the frame (a half-sent frame, an echo) is not part of the reply.
        start = raw.rfind(b"@")
        return parse_reply(raw[start:] if start > 0 else raw, self.address)

    async def query(self, command: str) -> str:
        return await self._exchange(f"{command}?")

    async def command(self, command: str, value: str = "") -> str:
        return await self._exchange(f"{command}!{value}")

    # -- identity -------------------------------------------------------------------
    async def identity(self) -> str:
        return f"MKS {await self.model()} gauge, serial number {await self.serial_number()}"

    async def model(self) -> str:
        return await self.query("MD")

    async def serial_number(self) -> str:
        return await self.query("SN")

    async def firmware(self) -> str:
        return await self.query("FV")

    async def status(self) -> str:
        """'O' for OK; other letters name a failed sensor (model dependent)."""
        return await self.query("T")

    # -- unit -----------------------------------------------------------------------
    async def unit(self) -> str:
        """The pint unit the transducer reports in ('torr', 'mbar' or 'Pa')."""
        word = parse_unit(await self.query("U"))
        self._unit_word = word
        return UNITS[word]

    async def set_unit(self, unit: str) -> str:
        """Set the reporting unit (a pint unit or the wire word); returns the pint unit."""
        word = unit.upper() if unit.upper() in UNITS else unit_word(unit)
        echoed = parse_unit(await self.command("U", word))
        self._unit_word = echoed
        return UNITS[echoed]

    async def _unit(self) -> str:
        # The unit lives in the transducer's non-volatile memory; ask once per driver.
        if self._unit_word is None:
            await self.unit()
        assert self._unit_word is not None
        return self._unit_word

    # -- readings -------------------------------------------------------------------
    async def pressure(self, channel: int = 1) -> Quantity:
        """PR1…PR4 (PR4 has four digits on most models) as a quantity."""
        if not 1 <= channel <= 5:
            raise ValueError(f"MKS pressure channel PR{channel} does not exist")
        word = await self._unit()
        return parse_pressure(await self.query(f"PR{channel}"), word)

    async def setpoint(self, relay: int = 1) -> Quantity:
        word = await self._unit()
        return parse_pressure(await self.query(f"SP{relay}"), word)

    async def set_setpoint(self, relay: int, value: Quantity) -> Quantity:
        word = await self._unit()
        text = format_number(float(value.to(UNITS[word]).magnitude))
        return parse_pressure(await self.command(f"SP{relay}", text), word)

    # -- adjustments (not idempotent in effect: never retried blindly) ---------------
    async def zero_adjust(self) -> None:
        """Zero the sensor; the transducer refuses (NAK8) unless it is under vacuum."""
        await self.command("VAC")

    async def atmosphere_adjust(self, value: Quantity) -> None:
        """Span the sensor at atmosphere; refused (NAK9) at too low a pressure."""
        word = await self._unit()
        await self.command("ATM", format_number(float(value.to(UNITS[word]).magnitude)))


ReplyParser = Callable[[bytes], Any]
#: every pure parser of replies, for property tests
PARSERS: tuple[ReplyParser, ...] = (
    lambda raw: parse_reply(raw),
    lambda raw: parse_reply(raw, DEFAULT_ADDRESS),
    lambda raw: parse_number(raw.decode("latin-1")),
    lambda raw: parse_unit(raw.decode("latin-1")),
    lambda raw: parse_pressure(raw.decode("latin-1"), "TORR"),
)
