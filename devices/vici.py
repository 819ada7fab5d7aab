"""Driver for the VICI Valco Universal Electric Actuator (EUH/EUD/EUT), serial interface.

Commands are ASCII lines ended by CR, optionally prefixed by the actuator's ID
(`ID` set to 0-9 or A-Z; then every command must carry it, e.g. `1GO3`). Queries answer
one CR-terminated line: `CP` → `CP03` (multiposition) or `CPA` (two-position), and with
`LG1` the longer form of the older microelectric actuators, `Position is  = 3`.
Action and set commands (`GOnn`, `CWnn`, `CCnn`, `HM`, `NPnn`) answer nothing in the
factory response mode (`IFM0`); a line that does come back is the actuator objecting.
Parsers are pure functions: only `GarbledReply` and `InstrumentRefused` escape them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from devices.errors import GarbledReply, InstrumentRefused, NoReply
from devices.port import SerialPort

CR = b"\r"
TWO_POSITION = {"A": 1, "B": 2}
MAX_POSITIONS = 40  # NP accepts even numbers 2…40

_POSITION = re.compile(
    r"^(?:[0-9A-Z]?CP\s*=?\s*|Position\s+is\s*=\s*)([0-9]{1,2}|[AB])$", re.IGNORECASE
)


def parse_line(raw: bytes) -> str:
    """One reply line (CR stripped) as text; the actuator's complaint as InstrumentRefused."""
    line = raw[:-1] if raw.endswith(CR) else raw
    line = line.lstrip(b"\n").rstrip(b"\n")
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        raise GarbledReply("VICI reply is not ASCII", raw) from None
    if not text.isprintable():
        raise GarbledReply("VICI reply holds control characters", raw)
    if text.lower().startswith("bad command"):
        raise InstrumentRefused(f"VICI actuator: {text}", code="Bad command")
    return text


def parse_position(text: str) -> int:
    """'CP03', 'CPA', 'Position is  = 3' → 3, 1, 3 (A is 1, B is 2)."""
    m = _POSITION.match(text.strip())
    if not m:
        raise GarbledReply(f"VICI position reply {text!r} is not CPnn", text.encode())
    value = m.group(1).upper()
    if value in TWO_POSITION:
        return TWO_POSITION[value]
    position = int(value)
    if not 1 <= position <= 96:  # with an SO offset positions run up to 96
        raise GarbledReply(f"VICI position {position} does not exist", text.encode())
    return position


def parse_setting(text: str, name: str) -> str:
    """'NP10' / 'NP = 10' → '10' for the echoed setting `name`."""
    m = re.match(rf"^[0-9A-Z]?{name}\s*=?\s*(\S+)$", text.strip(), re.IGNORECASE)
    if not m:
        raise GarbledReply(f"VICI reply {text!r} is not {name}…", text.encode())
    return m.group(1)


def parse_count(text: str, name: str) -> int:
    value = parse_setting(text, name)
    if not re.fullmatch(r"[0-9]{1,5}", value):
        raise GarbledReply(f"VICI {name} value {value!r} is not a count", text.encode())
    return int(value)


def read_line(s: Any) -> bytes:
    """A reader for `SerialPort.query`: one CR-terminated line, or NoReply."""
    data = s.read_until(CR)
    if not data.endswith(CR):
        err = NoReply(f"no complete reply (got {data!r})")
        err.partial = data  # type: ignore[attr-defined]
        raise err
    return data


def read_quiet(window: float) -> Callable[[Any], bytes]:
    """A reader for commands that answer nothing: wait `window` s for an objection."""

    def read(s: Any) -> bytes:
        old = s.timeout
        s.timeout = window
        try:
            return s.read_until(CR)
        finally:
            s.timeout = old

    return read


def read_lines(window: float) -> Callable[[Any], bytes]:
    """A reader for a reply of unknown length (VR): one line, then more until quiet."""

    def read(s: Any) -> bytes:
        data = read_line(s)
        old = s.timeout
        s.timeout = window
        try:
            while more := s.read_until(CR):
                data += more
                if not more.endswith(CR):
                    break
        finally:
            s.timeout = old
        return data

    return read


class VICIActuator:
    """One universal electric actuator on a serial line (optionally addressed by ID)."""

    def __init__(
        self, port: SerialPort, device_id: str | None = None, *, quiet_window: float = 0.05
    ) -> None:
        if device_id is not None and not re.fullmatch(r"[0-9A-Z]", device_id):
            raise ValueError(f"VICI ID {device_id!r} must be one character 0-9 or A-Z")
        self.port = port
        self.device_id = device_id
        self.quiet_window = quiet_window

    def frame(self, command: str) -> bytes:
        return f"{self.device_id or ''}{command}\r".encode("ascii")

    # -- exchanges ------------------------------------------------------------------
    async def query(self, command: str) -> str:
        return parse_line(await self.port.query(self.frame(command), read_line))

    async def action(self, command: str) -> None:
        """Send a command that answers nothing (IFM0) or echoes itself (IFM1); any other
        line that comes back within `quiet_window` is an objection."""
        raw = await self.port.query(self.frame(command), read_quiet(self.quiet_window))
        if not raw:
            return
        if not raw.endswith(CR):
            raise GarbledReply("VICI reply without its CR", raw)
        text = parse_line(raw)  # 'Bad command' raises here
        if text.upper() in (command.upper(), f"{self.device_id}{command}".upper()):
            return  # IFM1: the actuator echoes what it accepted
        raise GarbledReply(f"VICI answered {text!r} to {command!r}, which answers nothing", raw)

    # -- queries --------------------------------------------------------------------
    async def position(self) -> int:
        return parse_position(await self.query("CP"))

    async def num_positions(self) -> int:
        return parse_count(await self.query("NP"), "NP")

    async def mode(self) -> int:
        """1 two-position with stops, 2 two-position without stops, 3 multiposition."""
        return parse_count(await self.query("AM"), "AM")

    async def identity(self) -> str:
        return f"VICI universal actuator, firmware {await self.firmware()}"

    async def firmware(self) -> str:
        raw = await self.port.query(self.frame("VR"), read_lines(self.quiet_window))
        return " / ".join(parse_line(line + CR) for line in raw.split(CR) if line.strip())

    # -- moves (absolute targets: repeating one is harmless) ------------------------------
    async def go(self, position: int) -> None:
        """Shortest route (or the SM direction) to `position`."""
        await self.action(f"GO{position}")

    async def clockwise(self, position: int | None = None) -> None:
        await self.action("CW" if position is None else f"CW{position}")

    async def counterclockwise(self, position: int | None = None) -> None:
        await self.action("CC" if position is None else f"CC{position}")

    async def home(self) -> None:
        await self.action("HM")

    async def set_num_positions(self, n: int) -> None:
        if not (2 <= n <= MAX_POSITIONS and n % 2 == 0):
            raise ValueError(f"NP must be an even number 2…{MAX_POSITIONS}, not {n}")
        await self.action(f"NP{n}")


#: every pure parser of replies, for property tests
PARSERS: tuple[Callable[[bytes], Any], ...] = (
    parse_line,
    lambda raw: parse_position(raw.decode("latin-1")),
    lambda raw: parse_count(raw.decode("latin-1"), "NP"),
    lambda raw: parse_setting(raw.decode("latin-1"), "SM"),
)
