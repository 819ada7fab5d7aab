"""Driver for Pfeiffer Vacuum TPG 261 / TPG 262 gauge controllers (one or two gauges), over
RS-232, here reading linear capacitance gauges (CMR) as a sorption analyzer's manometer.

The mnemonics protocol, from the TPG 261/262 operating instructions (BG 5195 BEN / A,
2011-05, section 5 "Computer interface"; the TPG 262 manual BG 805 196 BE is the same):

* the host sends a three-letter mnemonic and its parameters, `PR1<CR>[<LF>]`; the
  controller acknowledges it, `<ACK><CR><LF>` (or refuses it, `<NAK><CR><LF>`); the host
  then sends `<ENQ>` and receives the data, `0,+1.2345E+02<CR><LF>` (p. 67, 70);
  `<ENQ>` with no valid request before it returns the ERROR word; `<ETX>` clears the
  controller's input buffer;
* `PR1`/`PR2`: status and pressure of gauge 1/2, `x,sx.xxxxEsxx` in the current unit,
  status 0 okay, 1 underrange, 2 overrange, 3 sensor error, 4 sensor off, 5 no sensor,
  6 identification error; `PRX` both gauges in one reply (p. 70–71);
* `UNI[,x]`: the pressure unit, 0 mbar, 1 Torr, 2 Pascal; `TID`: the gauges'
  identification (`CMR` for a capacitance gauge, `noSEn` where none is connected); `PNR`:
  the firmware version (`302-510-A` in BG 805 196 BE);
* `FSR[,x,x]`: the full scale of each linear gauge, which the user sets: 0 0.01 mbar,
  1 0.1 mbar, 2 1 mbar, 3 10 mbar, 4 100 mbar, 5 1000 mbar, 6 2 bar, 7 5 bar, 8 10 bar,
  9 50 bar (p. 78); `OFC[,x,x]`: offset correction of linear gauges, 0 off, 1 on, 2 auto
  (the controller measures the offset now, under vacuum, and subtracts it); `OFD`: the
  offsets (p. 79);
* `ERR`: the error word after a NAK, `0000` none, `1000` controller error, `0100` no
  hardware, `0010` inadmissible parameter, `0001` syntax error, cancelled when read
  (INFICON VGC50x manual tina96e1-b, p. 72, the same protocol family).

A capacitance gauge measures force per area on a diaphragm: its reading does not depend on
the gas, unlike a Pirani's. Parsers are pure functions: only `GarbledReply` and
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

ACK, NAK, ENQ, ETX = b"\x06", b"\x15", b"\x05", b"\x03"
EOL = b"\r\n"

#: UNI codes and their pint units
UNITS = {0: "mbar", 1: "torr", 2: "Pa"}
#: PRn status codes (p. 70), as words
STATUS = {
    0: "OK",
    1: "UNDER",
    2: "OVER",
    3: "SENSOR_ERROR",
    4: "SENSOR_OFF",
    5: "NO_SENSOR",
    6: "ID_ERROR",
}
#: FSR codes (p. 78): full scale of a linear gauge, mbar
FULL_SCALE_MBAR = {
    0: 0.01,
    1: 0.1,
    2: 1.0,
    3: 10.0,
    4: 100.0,
    5: 1000.0,
    6: 2000.0,
    7: 5000.0,
    8: 10000.0,
    9: 50000.0,
}
#: the ERROR word (p. 72 of tina96e1-b)
ERROR_WORDS = {
    "0000": "no error",
    "1000": "controller error (see its display)",
    "0100": "no hardware",
    "0010": "inadmissible parameter",
    "0001": "syntax error",
}
#: OFC modes (p. 79)
OFFSET_MODES = {"off": 0, "on": 1, "auto": 2}

# sx.xxxxEsxx; the manual's own example ("5,2.0000E-2") drops the sign and a digit
_MEASUREMENT = re.compile(r"^([0-9]),([+-]?[0-9]\.[0-9]{4}E[+-]?[0-9]{1,2})$")
_NUMBER = re.compile(r"^[+-]?[0-9]\.[0-9]{4}E[+-]?[0-9]{1,2}$")


@dataclass(frozen=True)
class GaugeReading:
    """One gauge's answer: its status word and the pressure it prints (a quantity)."""

    channel: int
    status: str
    pressure: Quantity

    @property
    def ok(self) -> bool:
        return self.status == "OK"


# -- pure parsers -------------------------------------------------------------------------
def _text(raw: bytes) -> str:
    if not raw.endswith(EOL):
        raise GarbledReply("TPG line without its <CR><LF> end", raw)
    body = raw[: -len(EOL)]
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise GarbledReply("TPG reply is not ASCII", raw) from None
    if not text.isprintable():
        raise GarbledReply("TPG reply holds control characters", raw)
    return text


def parse_acknowledge(raw: bytes) -> bool:
    """`<ACK><CR><LF>` → True, `<NAK><CR><LF>` → False; anything else is garbled."""
    if raw == ACK + EOL:
        return True
    if raw == NAK + EOL:
        return False
    raise GarbledReply("TPG acknowledgement is neither <ACK> nor <NAK>", raw)


def parse_data(raw: bytes) -> str:
    """The data line after `<ENQ>` (its <CR><LF> removed)."""
    return _text(raw)


def parse_number(text: str) -> float:
    """'+1.2345E+02' → 123.45: the controller's exponential format, nothing else."""
    if not _NUMBER.match(text):
        raise GarbledReply(f"TPG sent {text!r} where a number sx.xxxxEsxx belongs", text.encode())
    value = float(text)
    if not math.isfinite(value):
        raise GarbledReply(f"TPG number {text!r} is not finite", text.encode())
    return value


def parse_measurement(text: str, unit: str, channel: int = 1) -> GaugeReading:
    """'0,+1.2345E+02' in the controller's unit → a reading (status word, quantity)."""
    m = _MEASUREMENT.match(text)
    if not m:
        raise GarbledReply(f"TPG measurement {text!r} is not x,sx.xxxxEsxx", text.encode())
    code = int(m.group(1))
    if code not in STATUS:
        raise GarbledReply(f"TPG status {code} is not one the manual lists", text.encode())
    return GaugeReading(channel, STATUS[code], Q_(parse_number(m.group(2)), unit))


def parse_measurements(text: str, unit: str) -> list[GaugeReading]:
    """PRX: 'x,sx.xxxxEsxx,y,sy.yyyyEsyy' → one reading per gauge."""
    parts = text.split(",")
    if len(parts) < 2 or len(parts) % 2:
        raise GarbledReply(f"TPG PRX reply {text!r} is not status,value pairs", text.encode())
    return [
        parse_measurement(f"{parts[i]},{parts[i + 1]}", unit, i // 2 + 1)
        for i in range(0, len(parts), 2)
    ]


def parse_unit(text: str) -> str:
    """'1' → 'torr' (the pint unit of the UNI code)."""
    if not re.fullmatch(r"[0-9]", text) or int(text) not in UNITS:
        raise GarbledReply(f"TPG unit code {text!r} is not 0, 1 or 2", text.encode())
    return UNITS[int(text)]


def parse_full_scales(text: str) -> list[Quantity]:
    """FSR: '5,2' → [1000 mbar, 1 mbar]."""
    out = []
    for part in text.split(","):
        if not re.fullmatch(r"[0-9]", part):
            raise GarbledReply(f"TPG full-scale code {part!r} is not 0…9", text.encode())
        out.append(Q_(FULL_SCALE_MBAR[int(part)], "mbar"))
    return out


def parse_error_word(text: str) -> str:
    if text not in ERROR_WORDS:
        raise GarbledReply(f"TPG error word {text!r} is not one the manual lists", text.encode())
    return text


def unit_code(unit: str) -> int:
    """A pint pressure unit → its UNI code."""
    for code, name in UNITS.items():
        if Q_(1.0, unit).units == Q_(1.0, name).units:
            return code
    raise ValueError(f"a TPG reports in mbar, torr or Pa, not {unit!r}")


def full_scale_code(full_scale: Quantity) -> int:
    """A full scale → its FSR code; one the controller does not list is a ValueError."""
    mbar = float(full_scale.m_as("mbar"))
    for code, value in FULL_SCALE_MBAR.items():
        if math.isclose(mbar, value, rel_tol=1e-6):
            return code
    allowed = ", ".join(f"{v:g} mbar" for v in FULL_SCALE_MBAR.values())
    raise ValueError(f"a TPG 26x takes a full scale of {allowed}, not {full_scale:~P}")


def read_line(s: Any) -> bytes:
    """A reader: one `…<CR><LF>` line. Bytes without the end are garbled, none is silence."""
    data = s.read_until(EOL)
    if data.endswith(EOL):
        return data
    if data:
        raise GarbledReply("TPG line without its <CR><LF> end", data)
    err = NoReply("no reply")
    err.partial = data  # type: ignore[attr-defined]
    raise err


# -- the driver ---------------------------------------------------------------------------
class TPGController:
    """A TPG 261 (one gauge) or 262 (two) on a serial line."""

    def __init__(self, port: SerialPort) -> None:
        self.port = port
        self._unit: str | None = None

    # -- exchanges ------------------------------------------------------------------
    async def exchange(self, mnemonic: str) -> str:
        """Send a mnemonic, take its acknowledgement, ask for the data with <ENQ> and
        return it, all in one exchange on the port. A <NAK> is followed by `ERR` and
        raised as InstrumentRefused with the error word as its code."""

        def both(s: Any) -> str | None:
            s.write(mnemonic.encode("ascii") + EOL)
            if not parse_acknowledge(read_line(s)):
                return None
            s.write(ENQ)
            return parse_data(read_line(s))

        data = await self.port.call(both)
        if data is None:
            word = await self._error_word()
            raise InstrumentRefused(
                f"TPG refused {mnemonic!r}: {ERROR_WORDS.get(word, 'unknown error')}", word
            )
        return data

    async def _error_word(self) -> str:
        def both(s: Any) -> str:
            s.write(b"ERR" + EOL)
            if not parse_acknowledge(read_line(s)):
                raise GarbledReply("TPG refused ERR itself")
            s.write(ENQ)
            return parse_error_word(parse_data(read_line(s)))

        try:
            return await self.port.call(both)
        except (NoReply, GarbledReply):
            return "????"

    # -- identity -------------------------------------------------------------------
    async def firmware(self) -> str:
        return await self.exchange("PNR")

    async def gauges(self) -> list[str]:
        """What is on each channel: 'CMR' (a capacitance gauge), 'noSEn' (none), …"""
        return [g.strip() for g in (await self.exchange("TID")).split(",")]

    async def identity(self) -> str:
        kinds = ", ".join(await self.gauges())
        return f"Pfeiffer TPG 26x, firmware {await self.firmware()}, gauges {kinds}"

    # -- unit -----------------------------------------------------------------------
    async def unit(self) -> str:
        """The pint unit readings come in ('mbar', 'torr' or 'Pa')."""
        self._unit = parse_unit(await self.exchange("UNI"))
        return self._unit

    async def set_unit(self, unit: str) -> str:
        self._unit = parse_unit(await self.exchange(f"UNI,{unit_code(unit)}"))
        return self._unit

    async def _current_unit(self) -> str:
        # the unit lives in the controller's memory: ask once per driver
        if self._unit is None:
            await self.unit()
        assert self._unit is not None
        return self._unit

    # -- readings -------------------------------------------------------------------
    async def pressure(self, channel: int = 1) -> GaugeReading:
        if channel not in (1, 2):
            raise ValueError(f"a TPG 26x has gauges 1 and 2, not {channel}")
        unit = await self._current_unit()
        return parse_measurement(await self.exchange(f"PR{channel}"), unit, channel)

    async def pressures(self) -> list[GaugeReading]:
        """Both gauges in one exchange (PRX)."""
        unit = await self._current_unit()
        return parse_measurements(await self.exchange("PRX"), unit)

    # -- linear gauges ----------------------------------------------------------------
    async def full_scales(self) -> list[Quantity]:
        return parse_full_scales(await self.exchange("FSR"))

    async def set_full_scales(self, full_scales: list[Quantity]) -> list[Quantity]:
        codes = ",".join(str(full_scale_code(q)) for q in full_scales)
        return parse_full_scales(await self.exchange(f"FSR,{codes}"))

    async def offset_correction(self) -> list[str]:
        names = {v: k for k, v in OFFSET_MODES.items()}
        out = []
        for part in (await self.exchange("OFC")).split(","):
            if not re.fullmatch(r"[0-2]", part):
                raise GarbledReply(f"TPG offset mode {part!r} is not 0, 1 or 2", part.encode())
            out.append(names[int(part)])
        return out

    async def set_offset_correction(self, modes: list[str]) -> list[str]:
        """'auto' measures a gauge's offset now (it must be under vacuum) and subtracts it
        from then on; not idempotent in effect, so never retried blindly."""
        codes = ",".join(str(OFFSET_MODES[m]) for m in modes)
        await self.exchange(f"OFC,{codes}")
        return await self.offset_correction()

    async def offsets(self) -> list[Quantity]:
        unit = await self._current_unit()
        return [Q_(parse_number(p), unit) for p in (await self.exchange("OFD")).split(",")]


ReplyParser = Callable[[bytes], Any]
#: every pure parser of replies, for property tests
PARSERS: tuple[ReplyParser, ...] = (
    parse_acknowledge,
    parse_data,
    lambda raw: parse_measurement(raw.decode("latin-1"), "mbar"),
    lambda raw: parse_measurements(raw.decode("latin-1"), "mbar"),
    lambda raw: parse_unit(raw.decode("latin-1")),
    lambda raw: parse_full_scales(raw.decode("latin-1")),
    lambda raw: parse_error_word(raw.decode("latin-1")),
    lambda raw: parse_number(raw.decode("latin-1")),
)
