"""Driver for Alicat mass-flow controllers (MC series), Alicat ASCII serial protocol.

Requests are `<unit id><command>[ args]\\r`; the poll and most commands answer with the
data frame, one CR-terminated line of space-separated fields (Alicat Serial Primer,
'The Alicat Data Frame'):

    A +014.70 +025.00 +000.00 +000.00 +000.00 N2
    id  pressure  temperature  volumetric flow  mass flow  setpoint  [totalizer]  gas  [status]

Pressure in psia, temperature in °C, flows in the device's flow unit (here sccm),
the optional totalizer in scc. Status codes (MOV, VOV, POV, TOV, OVR, HLD, …) trail the
gas label when active. A rejected command answers `?` (or `A ?`). Reply parsers are
pure functions: only `GarbledReply` / `InstrumentRefused` escape them.

Standard flows are pint quantities in atm·cm³/min, pint's own convention for standard
flow (its `slpm` is atm·L/min), so `.to("slpm")` works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devices.errors import GarbledReply, InstrumentRefused
from devices.port import SerialPort, read_until
from ppu.core.units import Q_, Quantity

SCCM = "atm * cm ** 3 / min"  # standard cm³/min
SCC = "atm * cm ** 3"  # standard cm³
CCM = "cm ** 3 / min"  # actual (volumetric) cm³/min

# Alicat gas table, gas numbers 0…29 (Alicat Serial Primer, Appendix 'Gas Select').
GASES = (
    "Air", "Ar", "CH4", "CO", "CO2", "C2H6", "H2", "He", "N2", "N2O",
    "Ne", "O2", "C3H8", "nC4H10", "C2H2", "C2H4", "iC4H10", "Kr", "Xe", "SF6",
    "C-25", "C-10", "C-8", "C-2", "C-75", "A-75", "A-25", "A1025", "Star29", "P-5",
)  # fmt: skip

STATUS_CODES = {
    "ADC": "internal analog-to-digital communication error",
    "EXH": "exhaust valve override active",
    "HLD": "valve drive on hold",
    "LCK": "front panel locked",
    "MOV": "mass flow over range",
    "OPL": "over pressure limit",
    "OVR": "totalizer rolled over or frozen at its maximum",
    "POV": "pressure over range",
    "TMF": "totalizer missed flow (over range while totalizing)",
    "TOV": "temperature over range",
    "VOV": "volumetric flow over range",
}
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?$")
_REJECTED = re.compile(r"^(?:[A-Z] +)?\?$")
_UNIT_ID = re.compile(r"^[A-Z]$")


@dataclass(frozen=True)
class AlicatFrame:
    """One data frame with units."""

    unit_id: str
    pressure: Quantity  # absolute
    temperature: Quantity
    volumetric_flow: Quantity
    mass_flow: Quantity
    setpoint: Quantity
    total: Quantity | None
    gas: str
    status: frozenset[str]


def parse_line(raw: bytes) -> str:
    """One CR-terminated reply → text; `?` / `A ?` (command rejected) raises."""
    if not raw.endswith(b"\r") or b"\r" in raw[:-1] or b"\n" in raw:
        raise GarbledReply("Alicat reply is not one line ending CR", raw)
    try:
        text = raw[:-1].decode("ascii")
    except UnicodeDecodeError:
        raise GarbledReply("Alicat reply is not ASCII", raw) from None
    if not text.isprintable():
        raise GarbledReply("Alicat reply holds control characters", raw)
    text = text.strip()
    if _REJECTED.match(text):
        raise InstrumentRefused("Alicat rejected the command (?)", code="?")
    return text


def _number(token: str, raw: bytes) -> float:
    if not _NUMBER.match(token):
        raise GarbledReply(f"Alicat sent {token!r} where a number belongs", raw)
    return float(token)


def parse_frame(raw: bytes, unit_id: str = "A") -> AlicatFrame:
    """A data frame → AlicatFrame. Fields: id, P, T, volumetric, mass, setpoint,
    [valve drive, totalizer | totalizer], gas, status codes."""
    tokens = parse_line(raw).split()
    if not tokens or tokens[0] != unit_id:
        raise GarbledReply(f"Alicat reply is not a data frame from unit {unit_id}", raw)
    body = tokens[1:]
    status: list[str] = []
    while body and body[-1] in STATUS_CODES:
        status.append(body.pop())
    if len(body) < 6:
        raise GarbledReply("Alicat data frame has too few fields", raw)
    gas = body[-1]
    if gas not in GASES and not re.fullmatch(r"[A-Za-z][A-Za-z0-9+-]{0,7}", gas):
        raise GarbledReply(f"Alicat gas label {gas!r} is not a gas", raw)
    values = [_number(t, raw) for t in body[:-1]]
    if len(values) == 5:
        total = None
    elif len(values) in (6, 7):  # + totalizer, or + valve drive and totalizer
        total = Q_(values[-1], SCC)
    else:
        raise GarbledReply(f"Alicat data frame has {len(values)} numbers, not 5 to 7", raw)
    p, t, vol, mass, sp = values[:5]
    return AlicatFrame(
        unit_id=tokens[0],
        pressure=Q_(p, "psi"),
        temperature=Q_(t, "degC"),
        volumetric_flow=Q_(vol, CCM),
        mass_flow=Q_(mass, SCCM),
        setpoint=Q_(sp, SCCM),
        total=total,
        gas=gas,
        status=frozenset(status),
    )


def parse_firmware(raw: bytes, unit_id: str = "A") -> str:
    """`A 10v05.0-R24` → '10v05.0-R24'."""
    tokens = parse_line(raw).split(maxsplit=1)
    if len(tokens) != 2 or tokens[0] != unit_id or not re.match(r"(GP|\d+v\d+)", tokens[1]):
        raise GarbledReply("Alicat firmware reply is not 'id version'", raw)
    return tokens[1]


def gas_number(gas: int | str) -> int:
    """A gas by number or label → its number in the Alicat table (InstrumentRefused if
    the label is unknown: the controller would answer '?')."""
    if isinstance(gas, int):
        if not 0 <= gas < len(GASES):
            raise InstrumentRefused(f"Alicat gas number {gas} is not in the gas table", code="?")
        return gas
    try:
        return GASES.index(gas)
    except ValueError:
        raise InstrumentRefused(f"Alicat has no gas {gas!r}", code="?") from None


def read_line(s: Any) -> bytes:
    """One reply up to CR; bytes already waiting behind it (a garbled reply with a stray
    CR inside) are taken along so they are not read as the next reply."""
    data = read_until(b"\r")(s)
    waiting = getattr(s, "in_waiting", 0)
    if waiting:
        data += s.read(waiting)
    return data


class AlicatController:
    """One Alicat flow controller (unit id A…Z) on a serial port (default 19200 8N1)."""

    model = "Alicat MC"

    def __init__(self, port: SerialPort, unit_id: str = "A") -> None:
        if not _UNIT_ID.match(unit_id):
            raise ValueError(f"Alicat unit id must be one letter A-Z, not {unit_id!r}")
        self.port = port
        self.unit_id = unit_id

    async def _query(self, command: str) -> bytes:
        return await self.port.query(f"{self.unit_id}{command}\r".encode("ascii"), read_line)

    async def poll(self) -> AlicatFrame:
        return parse_frame(await self._query(""), self.unit_id)

    async def set_setpoint(self, setpoint: Quantity) -> AlicatFrame:
        """`AS 5.0`: new flow setpoint (in the device's flow unit, sccm)."""
        value = float(setpoint.to(SCCM).magnitude)
        return parse_frame(await self._query(f"S {value:.3f}"), self.unit_id)

    async def set_gas(self, gas: int | str) -> AlicatFrame:
        """`AG 8`: select a gas by number or label; checks the frame shows it."""
        number = gas_number(gas)
        frame = parse_frame(await self._query(f"G {number}"), self.unit_id)
        if frame.gas != GASES[number]:
            raise InstrumentRefused(
                f"Alicat still reports gas {frame.gas} after selecting {GASES[number]}",
                code="G",
            )
        return frame

    async def tare_flow(self) -> AlicatFrame:
        """`AV`: the present flow reads zero from now on (do it with no gas flowing)."""
        return parse_frame(await self._query("V"), self.unit_id)

    async def reset_totalizer(self) -> AlicatFrame:
        """`AT`."""
        return parse_frame(await self._query("T"), self.unit_id)

    async def hold_valve(self) -> AlicatFrame:
        """`AHP`: hold the valve where it is."""
        return parse_frame(await self._query("HP"), self.unit_id)

    async def hold_valve_closed(self) -> AlicatFrame:
        """`AHC`: close the valve and hold it."""
        return parse_frame(await self._query("HC"), self.unit_id)

    async def cancel_hold(self) -> AlicatFrame:
        """`AC`: back to closed-loop control."""
        return parse_frame(await self._query("C"), self.unit_id)

    async def identity(self) -> str:
        return f"Alicat controller {self.unit_id}, firmware {await self.firmware()}"

    async def firmware(self) -> str:
        """`AVE`."""
        return parse_firmware(await self._query("VE"), self.unit_id)
