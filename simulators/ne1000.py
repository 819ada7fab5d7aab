"""New Era NE-1000 syringe pump, Basic Mode RS-232 protocol.

Requests are `[address]COMMAND[ data]\\r`; replies are `STX aa P data ETX` where `aa` is
the two-digit address and `P` the prompt (I infusing, W withdrawing, S stopped, P paused),
`A?x` an alarm, and `?`, `?NA`, `?OOR`, `?COM` errors after the prompt.
The plunger moves at the set rate from the moment of RUN until the target volume is
dispensed or the syringe is empty (stall alarm); the dispensed volume is integrated on
the clock at each request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from simulators.base import Faults, InstrumentSimulator

STX, ETX = b"\x02", b"\x03"
# NE-1000 rate units: mL/min, mL/h, µL/min, µL/h, as factors to mL/min.
RATE_UNITS = {"MM": 1.0, "MH": 1 / 60, "UM": 1e-3, "UH": 1e-3 / 60}
MAX_PLUNGER_MM_PER_MIN = 50.0
MIN_PLUNGER_MM_PER_MIN = 1e-4
_REQUEST = re.compile(r"^\s*(\d{0,2})\s*([A-Z]{3})\s*(.*?)\s*$")


def fmt4(x: float) -> str:
    """The pump's number format: at most 4 digits and a decimal point."""
    if x >= 1000:
        return f"{x:.0f}"
    for decimals in (3, 2, 1, 0):
        text = f"{x:.{decimals}f}"
        if len(text.replace(".", "")) <= 4:
            return text
    return f"{x:.0f}"


class NE1000Simulator(InstrumentSimulator):
    request_terminator = b"\r"

    def __init__(
        self,
        now: Callable[[], float],
        *,
        seed: int = 0,
        faults: Faults | None = None,
        address: int = 0,
        syringe_ml: float = 60.0,
        initial_ml: float | None = None,
        on_dispense: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults)
        self.address = address
        self.syringe_ml = syringe_ml
        # liquid in the syringe: full by default; a draw-then-deliver station starts empty
        self.loaded_ml = syringe_ml if initial_ml is None else initial_ml
        self.diameter_mm = 26.59
        self.rate_ml_min = 1.0
        self.rate_unit = "MM"
        self.target_ml = 0.0  # 0: no volume limit
        self.direction = "INF"
        self.infused_ml = 0.0
        self.withdrawn_ml = 0.0
        self.state = "S"  # S stopped, I/W moving, P paused
        self.alarm: str | None = None
        self._phase_ml = 0.0  # moved in the current run
        self._last = now()
        self.on_dispense = on_dispense

    # -- physics ------------------------------------------------------------------------
    def _area_mm2(self) -> float:
        return math.pi * (self.diameter_mm / 2) ** 2

    def max_rate_ml_min(self) -> float:
        return self._area_mm2() * MAX_PLUNGER_MM_PER_MIN / 1000

    def min_rate_ml_min(self) -> float:
        return self._area_mm2() * MIN_PLUNGER_MM_PER_MIN / 1000

    def advance(self) -> None:
        t = self.now()
        dt_min = max(0.0, t - self._last) / 60
        self._last = t
        if self.state not in ("I", "W"):
            return
        step = self.rate_ml_min * dt_min
        if self.target_ml > 0:
            left = self.target_ml - self._phase_ml
            if step >= left - 1e-9 * max(1.0, self.target_ml):
                step = left
                self.state = "S"
        if self.state == "I" or (self.state == "S" and self.direction == "INF"):
            if step > self.loaded_ml:
                step = self.loaded_ml
                self.state, self.alarm = "S", "S"  # plunger at the end: stall
            self.loaded_ml -= step
            self.infused_ml += step
            if self.on_dispense and step > 0:
                self.on_dispense(step)
        else:
            room = self.syringe_ml - self.loaded_ml
            if step > room:
                step = room
                self.state, self.alarm = "S", "S"
            self.loaded_ml += step
            self.withdrawn_ml += step
        self._phase_ml += step

    # -- protocol -----------------------------------------------------------------------
    def _reply(self, data: str = "", prompt: str | None = None) -> bytes:
        if self.alarm:
            prompt, self.alarm = f"A?{self.alarm}", None
        p = prompt if prompt is not None else self.state
        return STX + f"{self.address:02d}{p}{data}".encode() + ETX

    def error_reply(self, request: bytes) -> bytes:
        return STX + f"{self.address:02d}{self.state}?".encode() + ETX

    def answer(self, request: bytes) -> bytes | None:
        self.advance()
        try:
            text = request.decode("ascii").strip("\r\n")
        except UnicodeDecodeError:
            return self._reply("?COM")
        m = _REQUEST.match(text)
        if not m:
            return self._reply("?")
        addr, cmd, arg = m.groups()
        if addr and int(addr) != self.address:
            return None  # another pump on the network
        handler = getattr(self, f"_cmd_{cmd.lower()}", None)
        if handler is None:
            return self._reply("?")
        return handler(arg)

    def _moving(self) -> bool:
        return self.state in ("I", "W")

    def _cmd_ver(self, arg: str) -> bytes:
        return self._reply("NE1000V3.928")

    def _cmd_dia(self, arg: str) -> bytes:
        if not arg:
            return self._reply(fmt4(self.diameter_mm))
        if self._moving():
            return self._reply("?NA")
        value = _number(arg)
        if value is None:
            return self._reply("?")
        if not 0.1 <= value <= 50.0:
            return self._reply("?OOR")
        self.diameter_mm = value
        return self._reply()

    def _cmd_rat(self, arg: str) -> bytes:
        if not arg:
            shown = self.rate_ml_min / RATE_UNITS[self.rate_unit]
            return self._reply(fmt4(shown) + self.rate_unit)
        parts = arg.split()
        value = _number(parts[0])
        unit = parts[1] if len(parts) > 1 else self.rate_unit
        if value is None or unit not in RATE_UNITS or len(parts) > 2:
            return self._reply("?")
        rate = value * RATE_UNITS[unit]
        if not self.min_rate_ml_min() <= rate <= self.max_rate_ml_min():
            return self._reply("?OOR")
        self.rate_ml_min, self.rate_unit = rate, unit
        return self._reply()

    def _volume_unit(self) -> str:
        return "ML" if self.diameter_mm > 14.0 else "UL"

    def _cmd_vol(self, arg: str) -> bytes:
        unit = self._volume_unit()
        factor = 1.0 if unit == "ML" else 1e-3
        if not arg:
            return self._reply(fmt4(self.target_ml / factor) + unit)
        if arg in ("ML", "UL"):
            return self._reply() if arg == unit else self._reply("?NA")
        value = _number(arg)
        if value is None:
            return self._reply("?")
        if not 0 <= value * factor <= 9999:
            return self._reply("?OOR")
        self.target_ml = value * factor
        return self._reply()

    def _cmd_dir(self, arg: str) -> bytes:
        if not arg:
            return self._reply(self.direction)
        if self._moving():
            return self._reply("?NA")
        if arg == "REV":
            arg = "WDR" if self.direction == "INF" else "INF"
        if arg not in ("INF", "WDR"):
            return self._reply("?")
        self.direction = arg
        return self._reply()

    def _cmd_run(self, arg: str) -> bytes:
        if self._moving():
            return self._reply()
        if self.state != "P":
            self._phase_ml = 0.0
        self.state = "I" if self.direction == "INF" else "W"
        self._last = self.now()
        return self._reply()

    def _cmd_stp(self, arg: str) -> bytes:
        self.state = "P" if self._moving() else "S"
        return self._reply()

    def _cmd_dis(self, arg: str) -> bytes:
        unit = self._volume_unit()
        factor = 1.0 if unit == "ML" else 1e-3
        infused = self.reading("infused", self.infused_ml)  # a stuck counter stays put
        withdrawn = self.reading("withdrawn", self.withdrawn_ml)
        data = f"I{fmt4(infused / factor)}W{fmt4(withdrawn / factor)}{unit}"
        return self._reply(data)

    def _cmd_cld(self, arg: str) -> bytes:
        if arg == "INF":
            self.infused_ml = 0.0
        elif arg == "WDR":
            self.withdrawn_ml = 0.0
        else:
            return self._reply("?")
        return self._reply()


def _number(text: str) -> float | None:
    if not re.fullmatch(r"\d{0,4}(\.\d{0,4})?", text) or len(text.replace(".", "")) > 4:
        return None
    try:
        return float(text)
    except ValueError:
        return None
