"""Pfeiffer TPG 261 / 262 gauge controller with linear capacitance gauges: a protocol twin.

The mnemonics protocol of the TPG 261/262 operating instructions (BG 5195 BEN / A, 2011-05,
section 5): a mnemonic `PR1<CR>[<LF>]` is acknowledged `<ACK><CR><LF>` (or refused
`<NAK><CR><LF>`, the ERROR word then set: 0001 syntax, 0010 inadmissible parameter,
0100 no hardware); `<ENQ>` returns the data of the last mnemonic (again on every `<ENQ>`),
or the ERROR word when there was none; `<ETX>` clears the input; spaces are ignored.
Simulated: PR1, PR2, PRX, UNI, TID, PNR, FSR, OFC, OFD, ERR, RES. The continuous output
mode (COM) is not: it is refused as a syntax error.

Each channel holds a capacitance diaphragm gauge (TID `CMR`), or nothing (`noSEn`, read as
status 5 and 2.0000E-2 mbar, as the manual prints it). A gauge reads the true pressure of
the volume it sits on (`pressure_pa()`, from a rig) independently of the gas, with its own
seeded errors: a gain within ±`accuracy` of reading, a zero offset within ±`zero_offset`
of its full scale (removed by `OFC,2`, which averages ten readings under vacuum), noise of
`noise` × full scale, and the A/D converter's steps of `resolution` × full scale. The
controller scales a gauge's signal by the full scale its FSR says (a wrong FSR reads
wrong, as on the real controller) and prints five significant digits; below 1e-4 of full
scale it reports underrange, above 1.1 × full scale overrange (the value held there).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from simulators.base import Faults, InstrumentSimulator
from simulators.mks import ATM_PA, gauge_pressure

ACK, NAK, ENQ, ETX = b"\x06", b"\x15", b"\x05", b"\x03"
EOL = b"\r\n"
UNIT_PA = {0: 100.0, 1: 101325.0 / 760.0, 2: 1.0}  # UNI code → Pa per unit
FULL_SCALE_MBAR = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 2000.0, 5000.0, 10000.0, 50000.0)
_UNIT_WORDS = {"mbar": 100.0, "bar": 1e5, "hpa": 100.0, "pa": 1.0, "kpa": 1e3, "torr": 133.322}
_OFFSET_SAMPLES = 10  # readings OFC,2 averages into a gauge's offset
UNDERRANGE = 1e-4  # of full scale
OVERRANGE = 1.1  # of full scale
SYNTAX, PARAMETER, NO_HARDWARE = "0001", "0010", "0100"


def full_scale_pa(text: str | float) -> float:
    """'1000 mbar' → 1e5 Pa (a bare number is in mbar, as FSR's table)."""
    if isinstance(text, int | float):
        return float(text) * 100.0
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([A-Za-z]+)\s*", str(text))
    if not m or m.group(2).lower() not in _UNIT_WORDS:
        raise ValueError(f"full scale {text!r} is not a pressure such as '1000 mbar'")
    return float(m.group(1)) * _UNIT_WORDS[m.group(2).lower()]


def fmt(value: float) -> str:
    """The controller's exponential format, sx.xxxxEsxx: +1.2345E+02."""
    mantissa, exponent = f"{value:+.4E}".split("E")
    return f"{mantissa}E{int(exponent):+03d}"


@dataclass
class CapacitanceGauge:
    """One linear gauge on a channel, with the calibration errors drawn for it."""

    full_scale_pa: float
    gain: float
    zero_pa: float
    noise_pa: float
    step_pa: float
    offset_pa: float = 0.0  # what the controller subtracts once OFC has measured it
    offset_on: bool = False

    def signal_pa(self, true_pa: float, gauss: Callable[[float, float], float]) -> float:
        """What the gauge's output says, before the controller's offset correction."""
        raw = true_pa * self.gain + self.zero_pa + gauss(0.0, self.noise_pa)
        return round(raw / self.step_pa) * self.step_pa if self.step_pa > 0 else raw


class TPGSimulator(InstrumentSimulator):
    """A TPG 262 (two channels; a 261 has one) reading capacitance gauges."""

    def __init__(
        self,
        now: Callable[[], float],
        pressure_pa: Callable[[], float] | None = None,
        *,
        seed: int = 0,
        faults: Faults | None = None,
        full_scale: list[str] | tuple[str, ...] = ("1000 mbar",),
        channels: int | None = None,
        unit: str = "mbar",
        accuracy: float = 0.002,
        zero_offset: float = 1e-4,
        noise: float = 1.5e-5,
        resolution: float = 3e-5,
        firmware: str = "302-510-A",
        pressure: float = ATM_PA,
        pumped_volume: bool = False,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults)
        channels = len(full_scale) if channels is None else channels  # 1: a TPG 261
        if channels not in (1, 2):
            raise ValueError(f"a TPG 26x has 1 or 2 channels, not {channels}")
        if not 1 <= len(full_scale) <= channels:
            raise ValueError(f"{len(full_scale)} gauges on a controller of {channels} channels")
        if unit.lower() not in ("mbar", "torr", "pa"):
            raise ValueError(f"a TPG reports in mbar, torr or Pa, not {unit!r}")
        self.pressure_pa = gauge_pressure(now, pressure_pa, pressure, pumped_volume)
        self.channels = channels
        self.firmware = firmware
        self.unit = {"mbar": 0, "torr": 1, "pa": 2}[unit.lower()]
        self.gauges: list[CapacitanceGauge | None] = [None] * channels
        self.fsr: list[int] = [5] * channels  # the factory's 1000 mbar
        for i, text in enumerate(full_scale):
            fs = full_scale_pa(text)
            self.gauges[i] = CapacitanceGauge(
                full_scale_pa=fs,
                gain=1.0 + self.rng.uniform(-accuracy, accuracy),
                zero_pa=self.rng.uniform(-zero_offset, zero_offset) * fs,
                noise_pa=noise * fs,
                step_pa=resolution * fs,
            )
            # the controller was set up for the gauge it reads (a lab file's full_scale)
            self.fsr[i] = min(
                range(len(FULL_SCALE_MBAR)), key=lambda c: abs(FULL_SCALE_MBAR[c] * 100 - fs)
            )
        self.error = "0000"
        self._pending: tuple[str, list[str]] | None = None

    # -- physics --------------------------------------------------------------------------
    def measure(self, channel: int) -> tuple[int, float]:
        """(status, value in Pa) as the controller reports channel `channel` now."""
        gauge = self.gauges[channel - 1]
        if gauge is None:
            return 5, 2.0e-2 * 100.0  # no sensor: 5,2.0000E-2 mbar (p. 70)
        true_pa = max(self.pressure_pa(), 0.0)
        signal = gauge.signal_pa(true_pa, self.rng.gauss)
        # the controller scales the gauge's 0…10 V by the full scale it was told
        scale = FULL_SCALE_MBAR[self.fsr[channel - 1]] * 100.0 / gauge.full_scale_pa
        value = signal * scale - (gauge.offset_pa if gauge.offset_on else 0.0)
        value = self.reading(f"p{channel}", value)
        fs = FULL_SCALE_MBAR[self.fsr[channel - 1]] * 100.0
        if value > OVERRANGE * fs:
            return 2, OVERRANGE * fs
        if value < UNDERRANGE * fs:
            return 1, value
        return 0, value

    def _measure_offset(self, channel: int) -> None:
        gauge = self.gauges[channel - 1]
        if gauge is None:
            return
        gauge.offset_on = False
        scale = FULL_SCALE_MBAR[self.fsr[channel - 1]] * 100.0 / gauge.full_scale_pa
        samples = [
            gauge.signal_pa(max(self.pressure_pa(), 0.0), self.rng.gauss) * scale
            for _ in range(_OFFSET_SAMPLES)
        ]
        gauge.offset_pa = sum(samples) / len(samples)
        gauge.offset_on = True

    # -- framing: a mnemonic line, or a lone <ENQ> / <ETX> ----------------------------------
    async def read_request(self, reader: Any) -> bytes:
        first = await reader.readexactly(1)
        if first in (ENQ, ETX, b"\n"):
            return first
        line = first if first == b"\r" else first + await reader.readuntil(b"\r")
        # the optional <LF>: take it with its line when it came along, so the line is done
        if bytes(getattr(reader, "_buffer", b""))[:1] == b"\n":
            line += await reader.readexactly(1)
        return line

    # -- protocol ---------------------------------------------------------------------------
    def error_reply(self, request: bytes) -> bytes:
        self.error = SYNTAX
        return NAK + EOL

    def _nak(self, word: str) -> bytes:
        self.error = word
        self._pending = None
        return NAK + EOL

    def answer(self, request: bytes) -> bytes | None:
        if request == ENQ:
            return self._data() + EOL
        if request == ETX:
            self._pending = None
            return None
        try:
            text = request.decode("ascii")
        except UnicodeDecodeError:
            return self._nak(SYNTAX)
        text = text.replace(" ", "").rstrip("\r\n")
        if not text:
            return None
        m = re.fullmatch(r"([A-Z]{2}[A-Z0-9])((?:,[^,]*)*)", text)
        if not m:
            return self._nak(SYNTAX)
        mnemonic, rest = m.group(1), m.group(2)
        args = rest[1:].split(",") if rest else []
        handler = self._SETTERS.get(mnemonic)
        if handler is None and mnemonic not in self._QUERIES:
            return self._nak(SYNTAX)
        if mnemonic == "PR2" and self.channels < 2:
            return self._nak(NO_HARDWARE)
        if args:
            if handler is None:
                return self._nak(SYNTAX)
            word = handler(self, args)
            if word is not None:
                return self._nak(word)
        self._pending = (mnemonic, args)
        return ACK + EOL

    # setting mnemonics: None when applied, else the ERROR word
    def _set_unit(self, args: list[str]) -> str | None:
        if len(args) != 1 or args[0] not in ("0", "1", "2"):
            return PARAMETER
        self.unit = int(args[0])
        return None

    def _set_fsr(self, args: list[str]) -> str | None:
        if len(args) != self.channels or not all(re.fullmatch(r"[0-9]", a) for a in args):
            return PARAMETER
        self.fsr = [int(a) for a in args]
        return None

    def _set_ofc(self, args: list[str]) -> str | None:
        if len(args) != self.channels or not all(a in ("0", "1", "2") for a in args):
            return PARAMETER
        for i, a in enumerate(args):
            gauge = self.gauges[i]
            if gauge is None:
                continue
            if a == "2":
                self._measure_offset(i + 1)
            else:
                gauge.offset_on = a == "1"
        return None

    def _set_res(self, args: list[str]) -> str | None:
        return None if args == ["1"] else PARAMETER

    _SETTERS: ClassVar[dict[str, Callable[[TPGSimulator, list[str]], str | None]]] = {
        "UNI": _set_unit,
        "FSR": _set_fsr,
        "OFC": _set_ofc,
        "RES": _set_res,
    }
    _QUERIES = frozenset({"PR1", "PR2", "PRX", "TID", "PNR", "ERR", "OFD"})

    def _data(self) -> bytes:
        if self._pending is None:
            word, self.error = self.error, "0000"
            return word.encode()
        mnemonic, _ = self._pending
        per_unit = UNIT_PA[self.unit]
        if mnemonic in ("PR1", "PR2"):
            status, pa = self.measure(int(mnemonic[2]))
            return f"{status},{fmt(pa / per_unit)}".encode()
        if mnemonic == "PRX":
            parts = []
            for channel in range(1, self.channels + 1):
                status, pa = self.measure(channel)
                parts.append(f"{status},{fmt(pa / per_unit)}")
            return ",".join(parts).encode()
        if mnemonic == "UNI":
            return str(self.unit).encode()
        if mnemonic == "TID":
            return ",".join("CMR" if g else "noSEn" for g in self.gauges).encode()
        if mnemonic == "PNR":
            return self.firmware.encode()
        if mnemonic == "FSR":
            return ",".join(str(c) for c in self.fsr).encode()
        if mnemonic == "OFC":
            return ",".join(
                "0" if g is None else ("1" if g.offset_on else "0") for g in self.gauges
            ).encode()
        if mnemonic == "OFD":
            return ",".join(
                fmt((g.offset_pa if g is not None and g.offset_on else 0.0) / per_unit)
                for g in self.gauges
            ).encode()
        if mnemonic == "ERR":
            word, self.error = self.error, "0000"
            return word.encode()
        if mnemonic == "RES":
            return b"0"
        raise AssertionError(mnemonic)
