"""VICI Valco Universal Electric Actuator (EUH/EUD/EUT) driving a multiposition valve.

Serial protocol from the actuator manual's 'Optional Serial Interface' section: commands
are CR-terminated lines, prefixed by the ID when one is set (`ID3`, cleared by `*ID*`);
queries answer one CR-terminated line (`CP` → `CP03`, `NP` → `NP10`, `AM` → `AM3`,
`SM` → `SMA`); with `LG1` the answer takes the older microelectric form
(`Position is  = 3`, `NP = 10`). Action commands (`GOnn`, `CWnn`, `CCnn`, `HM`, `TO`)
and settings answer nothing in the factory response mode `IFM0`; with `IFM1` they echo
the command. What the actuator cannot do gets `Bad command`.

Physics: the rotor steps one position per `step_time_s`, the way `SM` says (A shortest
route, F towards higher numbers, R towards lower). `CP` keeps reporting the position the
move started from until the rotor arrives. A `stuck` fault (base class) holds the rotor
for as many requests as the fault lasts: the move then takes longer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from simulators.base import Faults, InstrumentSimulator

LETTERS = {1: "A", 2: "B"}
# Command names, longest first so that a prefix never shadows a longer name.
_COMMANDS = ("CNT", "IFM", "AM", "CC", "CP", "CW", "GO", "HM", "LG", "NP", "SM", "TO", "VR")


@dataclass
class Move:
    start: int
    direction: int  # +1 towards higher numbers (CW), -1 towards lower (CC)
    steps: int
    target: int
    elapsed_s: float = 0.0  # time the rotor has actually turned


class VICISimulator(InstrumentSimulator):
    request_terminator = b"\r"

    def __init__(
        self,
        now: Callable[[], float],
        *,
        seed: int = 0,
        faults: Faults | None = None,
        positions: int = 10,
        step_time_s: float = 0.15,
        device_id: str | None = None,
        firmware: str = "EUH-CE 1.00",
        legacy_replies: bool = False,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults)
        self.n_positions = positions
        self.mode = 3  # multiposition
        self.step_time_s = step_time_s
        self.device_id = device_id
        self.firmware = firmware
        self.lg = 1 if legacy_replies else 0
        self.ifm = 0
        self.direction_mode = "A"
        self.position = 1
        self.counter = 0
        self.move: Move | None = None
        self._last = now()

    # -- physics ------------------------------------------------------------------------
    @property
    def moving(self) -> bool:
        return self.move is not None

    def advance(self) -> None:
        """Turn the rotor for the time since the last request, unless it is stuck."""
        t = self.now()
        dt = max(0.0, t - self._last)
        self._last = t
        if self.move is None or self._stuck_left > 0:
            return
        self.move.elapsed_s += dt
        if self.move.elapsed_s >= self.move.steps * self.step_time_s - 1e-9:
            self.position = self.move.target
            self.counter += self.move.steps
            self.move = None

    def rotor_position(self) -> int:
        """The last position the rotor has passed (mid-move), else where it rests."""
        if self.move is None:
            return self.position
        done = min(self.move.steps, math.floor(self.move.elapsed_s / self.step_time_s + 1e-9))
        return (self.move.start - 1 + self.move.direction * done) % self.n_positions + 1

    def _start_move(self, target: int, direction: int | None) -> None:
        here = self.rotor_position()
        if self.move is not None:
            # Re-targeted in flight: the rotor continues from where it is.
            self.counter += math.floor(self.move.elapsed_s / self.step_time_s + 1e-9)
            self.position = here
            self.move = None
        if target == here:
            return
        n = self.n_positions
        forward = (target - here) % n
        if direction is None:
            direction = {"F": 1, "R": -1}.get(self.direction_mode, 1 if forward <= n / 2 else -1)
        steps = forward if direction > 0 else n - forward
        self.move = Move(start=here, direction=direction, steps=steps, target=target)

    # -- protocol -----------------------------------------------------------------------
    def error_reply(self, request: bytes) -> bytes:
        return b"Bad command\r"

    def _line(self, text: str) -> bytes:
        return text.encode("ascii") + b"\r"

    def _show(self, name: str, value: str) -> bytes:
        return self._line(f"{name} = {value}" if self.lg else f"{name}{value}")

    def _done(self, request: str) -> bytes | None:
        """Action commands answer nothing in IFM0; with IFM1/2 they echo."""
        return self._line(request) if self.ifm else None

    def answer(self, request: bytes) -> bytes | None:
        self.advance()
        try:
            text = request.decode("ascii").strip("\r\n ")
        except UnicodeDecodeError:
            return self.error_reply(request)
        if self.device_id is not None:
            if text[:1] not in (self.device_id, "*"):
                return None  # addressed to another actuator
            text = text[1:]
        upper = text.upper()
        if upper in ("*ID*", "ID*"):
            self.device_id = None
            return self._done(text)
        if upper.startswith("ID"):
            return self._cmd_id(upper[2:])
        for name in _COMMANDS:
            if upper.startswith(name):
                handler = getattr(self, f"_cmd_{name.lower()}")
                return handler(upper[len(name) :], upper)
        return self.error_reply(request)

    def _two_position(self) -> bool:
        return self.mode in (1, 2)

    def _position_text(self, position: int) -> str:
        return LETTERS[position] if self._two_position() else f"{position:02d}"

    def _parse_target(self, arg: str) -> int | None:
        if self._two_position():
            return {"A": 1, "B": 2}.get(arg)
        if not arg.isdigit():
            return None
        n = int(arg)
        return n if 1 <= n <= self.n_positions else None

    # -- queries --------------------------------------------------------------------
    def _cmd_cp(self, arg: str, text: str) -> bytes:
        if arg:
            return self.error_reply(b"")
        # Until the rotor arrives the actuator reports where the move started.
        shown = self.move.start if self.move is not None else self.position
        shown = int(self.reading("position", shown))
        if self.lg:
            return self._line(f"Position is  = {self._position_text(shown).lstrip('0')}")
        return self._line(f"CP{self._position_text(shown)}")

    def _cmd_vr(self, arg: str, text: str) -> bytes:
        return self._line(self.firmware if arg != "2" else f"{self.firmware} serial")

    def _cmd_cnt(self, arg: str, text: str) -> bytes | None:
        if not arg:
            return self._show("CNT", str(self.counter))
        if not arg.isdigit() or int(arg) > 65535:
            return self.error_reply(b"")
        self.counter = int(arg)
        return self._done(text)

    def _cmd_np(self, arg: str, text: str) -> bytes | None:
        if not arg:
            return self._show("NP", str(self.n_positions))
        n = int(arg) if arg.isdigit() else 0
        if self.mode == 1 or self.moving or not (2 <= n <= 40 and n % 2 == 0):
            return self.error_reply(b"")
        self.n_positions = n
        if self.position > n:
            self.position = 1
        return self._done(text)

    def _cmd_am(self, arg: str, text: str) -> bytes | None:
        if not arg:
            return self._show("AM", str(self.mode))
        if arg not in ("1", "2", "3") or self.moving:
            return self.error_reply(b"")
        self.mode = int(arg)
        if self._two_position():
            self.n_positions = 2
            self.position = min(self.position, 2)
        return self._done(text)

    def _cmd_sm(self, arg: str, text: str) -> bytes | None:
        if not arg:
            return self._show("SM", self.direction_mode)
        if arg not in ("F", "R", "A"):
            return self.error_reply(b"")
        self.direction_mode = arg
        return self._done(text)

    def _cmd_ifm(self, arg: str, text: str) -> bytes | None:
        if not arg:
            return self._show("IFM", str(self.ifm))
        if arg not in ("0", "1", "2"):
            return self.error_reply(b"")
        self.ifm = int(arg)
        return self._done(text)

    def _cmd_lg(self, arg: str, text: str) -> bytes | None:
        if not arg:
            return self._show("LG", str(self.lg))
        if arg not in ("0", "1"):
            return self.error_reply(b"")
        self.lg = int(arg)
        return self._done(text)

    def _cmd_id(self, arg: str) -> bytes | None:
        if not arg:
            return self._show("ID", self.device_id or "not used")
        if not re.fullmatch(r"[0-9A-Z]", arg):
            return self.error_reply(b"")
        self.device_id = arg
        return self._done(f"ID{arg}")

    # -- moves ----------------------------------------------------------------------
    def _cmd_go(self, arg: str, text: str) -> bytes | None:
        if not arg:  # GO alone: toggle (two-position) or one step on
            target = self.rotor_position() % self.n_positions + 1
            self._start_move(target, None if self._two_position() else 1)
            return self._done(text)
        target = self._parse_target(arg)
        if target is None:
            return self.error_reply(b"")
        self._start_move(target, None)
        return self._done(text)

    def _directional(self, arg: str, text: str, direction: int) -> bytes | None:
        if self._two_position():
            if arg:
                return self.error_reply(b"")
            self._start_move(1 if direction > 0 else 2, direction)
            return self._done(text)
        if not arg:
            target = (self.rotor_position() - 1 + direction) % self.n_positions + 1
        else:
            parsed = self._parse_target(arg)
            if parsed is None:
                return self.error_reply(b"")
            target = parsed
        self._start_move(target, direction)
        return self._done(text)

    def _cmd_cw(self, arg: str, text: str) -> bytes | None:
        return self._directional(arg, text, +1)

    def _cmd_cc(self, arg: str, text: str) -> bytes | None:
        return self._directional(arg, text, -1)

    def _cmd_hm(self, arg: str, text: str) -> bytes | None:
        if arg or self._two_position():
            return self.error_reply(b"")
        self._start_move(1, None)
        return self._done(text)

    def _cmd_to(self, arg: str, text: str) -> bytes | None:
        if arg or not self._two_position():
            return self.error_reply(b"")
        self._start_move(2 if self.rotor_position() == 1 else 1, None)
        return self._done(text)
