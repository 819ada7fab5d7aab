"""Driver for Mettler Toledo balances over MT-SICS (level 0/1: S, SI, Z, T, TA, TAC, I4, @).

Bytes ↔ typed commands; no ophyd here. Commands and replies are ASCII lines ending CR LF
(MT-SICS Reference Manual, 2 'Command formats'). A weight reply is
`ID Status WeightValue Unit` with Status S (stable) or D (dynamic); `ID I`, `ID +`,
`ID -` are the command-specific refusals and `ES`/`ET`/`EL` the general errors
(2.3 'Error messages'). Reply parsers are pure functions: only `GarbledReply` and
`InstrumentRefused` (and its subclasses below) escape them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.errors import GarbledReply, InstrumentRefused
from devices.port import SerialPort, read_until
from ppu.core.units import Q_, Quantity

CRLF = b"\r\n"

# MT-SICS unit texts and their pint spelling
UNITS = {"g": "g", "mg": "mg", "ug": "ug", "kg": "kg", "ct": "carat", "oz": "oz", "lb": "lb"}


class NotExecutable(InstrumentRefused):
    """`ID I`: the balance cannot do it now (busy, or no stability within its timeout)."""


class OutOfRange(InstrumentRefused):
    """`ID +` / `ID -`: over or under the weighing, zeroing or taring range."""


class Overload(OutOfRange):
    """`ID +`."""


class Underload(OutOfRange):
    """`ID -`."""


class TransmissionError(InstrumentRefused):
    """`ET`: the balance received a damaged command; sending it again is safe."""

    transient = True


_GENERAL_ERRORS: dict[str, tuple[type[InstrumentRefused], str]] = {
    "ES": (InstrumentRefused, "syntax error: command not recognised"),
    "ET": (TransmissionError, "transmission error: command received damaged"),
    "EL": (InstrumentRefused, "logical error: command cannot be executed"),
}
_RANGE_MEANING = {
    "S": ("balance in overload range", "balance in underload range"),
    "Z": ("upper limit of zero setting range exceeded", "lower limit of zero setting range"),
    "T": ("upper limit of taring range exceeded", "lower limit of taring range exceeded"),
}
_WEIGHT = re.compile(r"^(S|T|TA) ([SDA]) +(-?\d+(?:\.\d+)?) ([A-Za-z]{1,3})$")
_REFUSAL = re.compile(r"^([A-Z][A-Z0-9]*|@) ([I+-])$")
_SERIAL = re.compile(r'^I4 A "([\x20-\x21\x23-\x7e]{1,20})"$')


@dataclass(frozen=True)
class Weight:
    """One weight reply: the net value and whether the balance called it stable."""

    value: Quantity
    stable: bool


def parse_line(raw: bytes) -> str:
    """One CR LF terminated reply → its text; general errors (ES, ET, EL) raise."""
    if not raw.endswith(CRLF) or b"\n" in raw[:-1] or b"\r" in raw[:-2]:
        raise GarbledReply("MT-SICS reply is not one line ending CR LF", raw)
    try:
        text = raw[:-2].decode("ascii")
    except UnicodeDecodeError:
        raise GarbledReply("MT-SICS reply is not ASCII", raw) from None
    if not text.isprintable():
        raise GarbledReply("MT-SICS reply holds control characters", raw)
    if text in _GENERAL_ERRORS:
        cls, meaning = _GENERAL_ERRORS[text]
        raise cls(f"MT-SICS {text}: {meaning}", code=text)
    return text


def _refusal(text: str, ident: str, raw: bytes) -> None:
    """Raise the typed error for `ID I`, `ID +`, `ID -` replies to command `ident`."""
    m = _REFUSAL.match(text)
    if not m:
        return
    if m.group(1) != ident:
        raise GarbledReply(f"MT-SICS reply {text!r} does not answer {ident}", raw)
    code = m.group(2)
    if code == "I":
        raise NotExecutable(
            f"MT-SICS {ident} I: command not executable now (busy, or not stable in time)",
            code=text,
        )
    over, under = _RANGE_MEANING.get(ident, ("above range", "below range"))
    if code == "+":
        raise Overload(f"MT-SICS {ident} +: {over}", code=text)
    raise Underload(f"MT-SICS {ident} -: {under}", code=text)


def parse_weight(raw: bytes, ident: str = "S") -> Weight:
    """`S S     100.00 g` → 100 g stable; `S D ...` dynamic; `T S ...`, `TA A ...` likewise."""
    text = parse_line(raw)
    _refusal(text, ident, raw)
    m = _WEIGHT.match(text)
    if not m:
        raise GarbledReply(f"MT-SICS reply is not '{ident} status value unit'", raw)
    rid, status, value, unit = m.groups()
    allowed = {"S": "SD", "T": "S", "TA": "A"}[rid]
    if rid != ident or status not in allowed:
        raise GarbledReply(f"MT-SICS reply {text!r} does not answer {ident}", raw)
    if unit not in UNITS:
        raise GarbledReply(f"MT-SICS weight unit {unit!r} is unknown", raw)
    return Weight(Q_(float(value), UNITS[unit]), stable=status in "SA")


def parse_ack(raw: bytes, ident: str) -> None:
    """`Z A`, `TAC A`: the command was carried out."""
    text = parse_line(raw)
    _refusal(text, ident, raw)
    if text != f"{ident} A":
        raise GarbledReply(f"MT-SICS reply is not '{ident} A'", raw)


def parse_serial_number(raw: bytes) -> str:
    """`I4 A "B123456789"` → 'B123456789' (also the reply to `@`)."""
    text = parse_line(raw)
    _refusal(text, "I4", raw)
    m = _SERIAL.match(text)
    if not m:
        raise GarbledReply('MT-SICS reply is not I4 A "serial number"', raw)
    return m.group(1)


def read_line(s: Any) -> bytes:
    """One reply up to LF; bytes already waiting behind it are taken along (a garbled
    reply with a stray LF inside), so they are not read as the next reply."""
    data = read_until(b"\n")(s)
    waiting = getattr(s, "in_waiting", 0)
    if waiting:
        data += s.read(waiting)
    return data


class MTSICSBalance:
    """One MT-SICS balance on a serial port (default 9600 8N1, CR LF)."""

    model = "Mettler Toledo MT-SICS"

    def __init__(self, port: SerialPort) -> None:
        self.port = port

    async def _query(self, command: str, parse: Callable[[bytes], Any]) -> Any:
        raw = await self.port.query(command.encode("ascii") + CRLF, read_line)
        return parse(raw)

    async def stable_weight(self) -> Weight:
        """`S`: the next stable net weight; NotExecutable when not stable in time."""
        return await self._query("S", parse_weight)

    async def weight_immediately(self) -> Weight:
        """`SI`: the net weight now, stable or not."""
        return await self._query("SI", parse_weight)

    async def zero(self) -> None:
        """`Z`: set zero (needs stability; clears the tare)."""
        await self._query("Z", lambda raw: parse_ack(raw, "Z"))

    async def tare(self) -> Quantity:
        """`T`: tare the stable weight on the pan; returns the tare weight."""
        w = await self._query("T", lambda raw: parse_weight(raw, "T"))
        return w.value

    async def tare_value(self) -> Quantity:
        """`TA`: the tare weight in memory."""
        w = await self._query("TA", lambda raw: parse_weight(raw, "TA"))
        return w.value

    async def clear_tare(self) -> None:
        """`TAC`: clear the tare memory."""
        await self._query("TAC", lambda raw: parse_ack(raw, "TAC"))

    async def identity(self) -> str:
        return f"Mettler Toledo MT-SICS balance, serial number {await self.serial_number()}"

    async def serial_number(self) -> str:
        """`I4`."""
        return await self._query("I4", parse_serial_number)

    async def reset(self) -> str:
        """`@`: back to the power-on state (no new zero, tare cleared); answers I4."""
        return await self._query("@", parse_serial_number)
