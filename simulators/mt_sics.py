"""Mettler Toledo balance speaking MT-SICS level 0/1 (S, SI, Z, T, TA, TAC, I4, @).

Requests and replies are ASCII lines ending CR LF. A weight reply is
`ID Status WeightValue Unit`: the value right-aligned in 10 characters, the sign
directly before the first digit (`S S     100.00 g`). Command-specific refusals are
`ID I` (not executable now, e.g. not stable), `ID +` / `ID -` (over/under the range);
general errors are `ES` (syntax), `ET` (transmission), `EL` (logical).

Physics: the indicated load follows the true load on the pan with a first-order lag
(time constant `settle_tau_s`); the balance calls the reading stable once the remaining
transient is inside `stability_band_g`. On top come seeded Gaussian noise of about the
readability, a slow linear drift of the zero, the zero and tare offsets the user sets,
and the load cell's range (overload above capacity, underload below the zero range).
The load is whatever another part of the lab puts on the pan: a `load_g()` callable,
and/or masses added with `place()` / `remove()`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from simulators.base import Faults, InstrumentSimulator

CRLF = b"\r\n"
_COMMAND = re.compile(r"^([A-Z@][A-Z0-9]*)(?: (.*))?$")


class MTSICSSimulator(InstrumentSimulator):
    """An analytical balance (default: 220 g capacity, 0.1 mg readability)."""

    request_terminator = b"\n"

    def __init__(
        self,
        now: Callable[[], float],
        *,
        seed: int = 0,
        faults: Faults | None = None,
        load_g: Callable[[], float] | None = None,
        capacity_g: float = 220.0,
        readability_g: float = 1e-4,
        settle_tau_s: float = 2.0,
        stability_band_g: float | None = None,
        noise_g: float | None = None,
        drift_g_per_h: float = 2e-4,
        zero_range_fraction: float = 0.02,
        underload_g: float | None = None,
        serial_number: str = "B123456789",
        unit: str = "g",
    ) -> None:
        super().__init__(now, seed=seed, faults=faults)
        if not 1e-6 <= readability_g <= 1.0:
            raise ValueError("readability must be between 1 µg and 1 g")
        self.capacity_g = capacity_g
        self.readability_g = readability_g
        self.decimals = max(0, round(-math.log10(readability_g)))
        self.settle_tau_s = settle_tau_s
        self.stability_band_g = (
            stability_band_g if stability_band_g is not None else (2 * readability_g)
        )
        self.noise_g = noise_g if noise_g is not None else 0.5 * readability_g
        self.drift_g_per_h = drift_g_per_h
        self.zero_range_g = zero_range_fraction * capacity_g
        self.underload_g = underload_g if underload_g is not None else 0.05 * capacity_g
        self.serial_number = serial_number
        self.unit = unit
        self.load_g = load_g
        self.placed_g = 0.0  # masses put on the pan with place()
        self.zero_g = 0.0  # raw reading the user zeroed at (0 = the power-on zero)
        self.tare_g = 0.0
        t = now()
        self._t_start = t
        # first-order response of the indicated load: y(t) = target + (y0 - target) e^-(t-t0)/tau
        self._target = self._true_load()
        self._y0 = self._target
        self._t0 = t

    # -- the pan ------------------------------------------------------------------------
    def place(self, mass_g: float) -> None:
        """Put `mass_g` on the pan now (another simulated instrument or a robot does this)."""
        self._track()
        self.placed_g += mass_g
        self._track()

    def remove(self, mass_g: float | None = None) -> None:
        """Take `mass_g` (default: everything placed) off the pan now."""
        self._track()
        self.placed_g = 0.0 if mass_g is None else self.placed_g - mass_g
        self._track()

    def _true_load(self) -> float:
        return (self.load_g() if self.load_g else 0.0) + self.placed_g

    # -- physics ------------------------------------------------------------------------
    def _indicated(self, t: float) -> float:
        """The noise-free response of the weighing cell at time `t` (power-on zero = 0)."""
        lag = math.exp(-max(0.0, t - self._t0) / self.settle_tau_s)
        return self._target + (self._y0 - self._target) * lag

    def _track(self) -> None:
        """Restart the settling transient when the load on the pan changed."""
        t = self.now()
        load = self._true_load()
        if load != self._target:
            self._y0 = self._indicated(t)
            self._t0 = t
            self._target = load

    def settled(self) -> bool:
        self._track()
        return abs(self._indicated(self.now()) - self._target) <= self.stability_band_g

    def raw_g(self, noisy: bool = True) -> float:
        """Reading of the cell relative to the power-on zero: load, drift and noise."""
        t = self.now()
        drift = self.drift_g_per_h * (t - self._t_start) / 3600.0
        noise = self.rng.gauss(0.0, self.noise_g) if noisy and self.noise_g > 0 else 0.0
        return self._indicated(t) + drift + noise

    def _round(self, value: float) -> float:
        return round(value / self.readability_g) * self.readability_g

    def net_g(self, noisy: bool = True) -> float:
        return self._round(self.raw_g(noisy) - self.zero_g - self.tare_g)

    def _range(self) -> str | None:
        """'+' above capacity, '-' below the underload limit, else None (power-on zero)."""
        raw = self.raw_g(noisy=False)
        if raw > self.capacity_g + 9 * self.readability_g:
            return "+"
        if raw < -self.underload_g:
            return "-"
        return None

    # -- protocol -----------------------------------------------------------------------
    def _line(self, text: str) -> bytes:
        return text.encode("ascii") + CRLF

    def _weight(self, ident: str, status: str, value: float) -> bytes:
        text = f"{value:.{self.decimals}f}"
        if text.lstrip("-").strip("0.") == "":
            text = text.lstrip("-")  # no "-0.0000"
        return self._line(f"{ident} {status} {text:>10} {self.unit}")

    def error_reply(self, request: bytes) -> bytes:
        return self._line("EL")

    def answer(self, request: bytes) -> bytes | None:
        self._track()
        if not request.endswith(CRLF):
            return self._line("ET")  # a line without its CR: a broken transmission
        try:
            text = request[:-2].decode("ascii")
        except UnicodeDecodeError:
            return self._line("ET")
        if not text.isprintable():
            return self._line("ET")
        m = _COMMAND.match(text)
        if not m:
            return self._line("ES")
        cmd, arg = m.group(1), m.group(2)
        handler = {
            "S": self._cmd_s,
            "SI": self._cmd_si,
            "Z": self._cmd_z,
            "T": self._cmd_t,
            "TA": self._cmd_ta,
            "TAC": self._cmd_tac,
            "I4": self._cmd_i4,
            "@": self._cmd_reset,
        }.get(cmd)
        if handler is None or arg is not None:
            return self._line("ES")  # unknown command, or parameters it does not take
        return handler()

    def _cmd_s(self) -> bytes:
        out = self._range()
        if out:
            return self._line(f"S {out}")
        if not self.settled():
            return self._line("S I")  # timeout as stability was not reached
        return self._weight("S", "S", self.reading("net_g", self.net_g()))

    def _cmd_si(self) -> bytes:
        out = self._range()
        if out:
            return self._line(f"S {out}")
        status = "S" if self.settled() else "D"
        return self._weight("S", status, self.reading("net_g", self.net_g()))

    def _cmd_z(self) -> bytes:
        if not self.settled():
            return self._line("Z I")
        raw = self.raw_g(noisy=False)
        if raw > self.zero_range_g:
            return self._line("Z +")
        if raw < -self.zero_range_g:
            return self._line("Z -")
        self.zero_g = self._round(raw)
        self.tare_g = 0.0  # a new zero clears the tare memory
        return self._line("Z A")

    def _cmd_t(self) -> bytes:
        if not self.settled():
            return self._line("T I")
        out = self._range()
        if out == "+":
            return self._line("T +")
        gross = self._round(self.raw_g(noisy=False) - self.zero_g)
        if out == "-" or gross < 0:
            return self._line("T -")
        self.tare_g = gross
        return self._weight("T", "S", self.tare_g)

    def _cmd_ta(self) -> bytes:
        return self._weight("TA", "A", self.tare_g)

    def _cmd_tac(self) -> bytes:
        self.tare_g = 0.0
        return self._line("TAC A")

    def _cmd_i4(self) -> bytes:
        return self._line(f'I4 A "{self.serial_number}"')

    def _cmd_reset(self) -> bytes:
        """Back to the state after switching on, without a new zero; tare memory cleared."""
        self.tare_g = 0.0
        return self._cmd_i4()
