"""MKS 9xx-series vacuum transducer (902B / 925 / 974B), RS-232/485 protocol twin.

Requests are `@<aaa><cmd>?;FF` or `@<aaa><cmd>!<value>;FF`; replies `@<aaa>ACK<data>;FF`
or `@<aaa>NAK<code>;FF` with the manual's NAK codes (8 zero adjustment at too high
pressure, 9 atmospheric adjustment at too low pressure, 160 unrecognized message,
169 invalid argument, 172 value out of range, 175 command/query character invalid).
Address 254 is answered by any transducer, 255 is executed without a reply.

The true pressure comes from `pressure_pa()`: a rig's model of the volume the gauge sits on
(a manifold, a gas cell); without a rig, a gauge reads a constant `pressure` (Pa, by default
one atmosphere: a gauge left open to the room), or, with `pumped_volume=True`, the small
`PumpedVolume` below (pumped down from atmosphere). The transducer adds its own error: a
seeded gain error (±0.12 % of reading by default), a zero offset that `VAC!` removes and
`ATM!` spans out, and noise. It prints 3 significant digits (PR1–PR3) or 4 (PR4) in its
current unit, and saturates at the ends of its measuring range: below the range it reports
the lower limit, above it the upper limit (the manual excerpts at hand give no other form).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from simulators.base import Faults, InstrumentSimulator

TORR_PA = 101325.0 / 760.0
ATM_PA = 101325.0
# Pascals per unit, for the transducer's unit words.
UNIT_PA = {"TORR": TORR_PA, "MBAR": 100.0, "PASCAL": 1.0}


@dataclass(frozen=True)
class ModelSpec:
    """What the simulator needs to know about one transducer model."""

    model: str
    device_type: str
    low_torr: float
    high_torr: float
    firmware: str = "1.00"


# Measuring ranges as the MKS data sheets give them (combined reading, Torr).
MODEL_SPECS = {
    "925": ModelSpec("925", "MicroPirani", 1e-5, 1000.0),
    "902B": ModelSpec("902B", "Piezo", 0.1, 1000.0),
    "974B": ModelSpec("974B", "QuadMag", 5e-10, 1000.0),
}

_REQUEST = re.compile(r"^@(\d{3})([A-Za-z]+)(\d?)([?!])(.*);FF\Z", re.DOTALL)


def fmt(value: float, digits: int = 3) -> str:
    """`digits` significant digits as the transducer prints them: 1.23E-3, 7.60E+2."""
    mantissa, exponent = f"{value:.{digits - 1}E}".split("E")
    return f"{mantissa}E{int(exponent):+d}"


class ConstantPressure:
    """A pressure that stays put: what a gauge with no rig behind it reads."""

    def __init__(self, pressure_pa: float) -> None:
        if not (math.isfinite(pressure_pa) and pressure_pa >= 0):
            raise ValueError(f"gauge pressure {pressure_pa!r} Pa is not a pressure (>= 0)")
        self.pressure_pa = pressure_pa

    def __call__(self) -> float:
        return self.pressure_pa


class PumpedVolume:
    """A vacuum volume behind a pump valve, with a small leak (`pumped_volume=True`).

    Pumping: V dp/dt = -S (p - p_base) + Q, i.e. an exponential approach to
    p_base + Q/S with time constant V/S. Valve shut: the leak raises p by Q/V per second
    up to atmosphere. Integrated exactly between calls, on the clock given.
    """

    def __init__(
        self,
        now: Callable[[], float],
        *,
        volume_l: float = 2.0,
        pump_speed_l_s: float = 0.2,
        base_pa: float = 5e-4,
        leak_pa_l_s: float = 1e-4,
        start_pa: float = ATM_PA,
        pumping: bool = True,
    ) -> None:
        self.now = now
        self.volume_l = volume_l
        self.pump_speed_l_s = pump_speed_l_s
        self.base_pa = base_pa
        self.leak_pa_l_s = leak_pa_l_s
        self._p = start_pa
        self._t = now()
        self.pumping = pumping

    @property
    def time_constant_s(self) -> float:
        return self.volume_l / self.pump_speed_l_s

    def _advance(self) -> None:
        t = self.now()
        dt = max(0.0, t - self._t)
        self._t = t
        if self.pumping:
            p_end = self.base_pa + self.leak_pa_l_s / self.pump_speed_l_s
            self._p = p_end + (self._p - p_end) * math.exp(-dt / self.time_constant_s)
        else:
            self._p = min(ATM_PA, self._p + self.leak_pa_l_s / self.volume_l * dt)

    def set_pumping(self, on: bool) -> None:
        self._advance()
        self.pumping = on

    def vent(self, to_pa: float = ATM_PA) -> None:
        self._advance()
        self._p = to_pa

    def __call__(self) -> float:
        self._advance()
        return self._p


def gauge_pressure(
    now: Callable[[], float],
    pressure_pa: Callable[[], float] | None,
    pressure: float,
    pumped_volume: bool,
) -> Callable[[], float]:
    """The pressure a gauge simulator reads: a rig's `pressure_pa` when it has one; for a
    lone gauge, a `PumpedVolume` or a constant `pressure` (Pa)."""
    if pressure_pa is not None:
        return pressure_pa
    if pumped_volume:
        return PumpedVolume(now)
    return ConstantPressure(float(pressure))


class MKSGaugeSimulator(InstrumentSimulator):
    request_terminator = b";FF"

    def __init__(
        self,
        now: Callable[[], float],
        pressure_pa: Callable[[], float] | None = None,
        *,
        model: str = "925",
        seed: int = 0,
        faults: Faults | None = None,
        address: int = 253,
        unit: str = "TORR",
        accuracy: float = 0.0012,
        zero_offset_pa: float = 2e-4,
        noise: float = 2e-4,
        noise_floor_pa: float = 2e-5,
        serial_number: str | None = None,
        pressure: float = ATM_PA,
        pumped_volume: bool = False,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults)
        if model not in MODEL_SPECS:
            raise ValueError(f"no MKS model {model!r}; known: {', '.join(MODEL_SPECS)}")
        self.spec = MODEL_SPECS[model]
        # a rig's `pressure_pa` wins; `pressure` (Pa) and `pumped_volume` serve a lone gauge
        self.pressure_pa = gauge_pressure(now, pressure_pa, pressure, pumped_volume)
        self.address = address
        self.unit = unit
        # Calibration state of this transducer, drawn once from the seed.
        self.gain = 1.0 + self.rng.uniform(-accuracy, accuracy)
        self.zero_pa = self.rng.uniform(-zero_offset_pa, zero_offset_pa)
        self.noise = noise
        self.noise_floor_pa = noise_floor_pa
        self.serial_number = serial_number or f"{self.rng.randrange(10**9, 10**10)}"
        self.setpoints_pa = {1: 1.0 * TORR_PA, 2: 1.0 * TORR_PA, 3: 1.0 * TORR_PA}
        self.setpoint_enabled = {1: False, 2: False, 3: False}

    # -- physics ------------------------------------------------------------------------
    @property
    def low_pa(self) -> float:
        return self.spec.low_torr * TORR_PA

    @property
    def high_pa(self) -> float:
        return self.spec.high_torr * TORR_PA

    def indicated_pa(self) -> float:
        """What the sensor makes of the true pressure: gain, zero, noise, saturation."""
        p = self.pressure_pa()
        sigma = math.hypot(self.noise * p, self.noise_floor_pa)
        value = p * self.gain + self.zero_pa + self.rng.gauss(0.0, sigma)
        value = min(max(value, self.low_pa), self.high_pa)
        return self.reading("pressure", value)

    # -- protocol -----------------------------------------------------------------------
    def _frame(self, kind: str, data: str) -> bytes:
        return f"@{self.address:03d}{kind}{data};FF".encode("ascii")

    def _ack(self, data: str = "") -> bytes:
        return self._frame("ACK", data)

    def _nak(self, code: int) -> bytes:
        return self._frame("NAK", str(code))

    def error_reply(self, request: bytes) -> bytes:
        return self._nak(160)

    def answer(self, request: bytes) -> bytes | None:
        try:
            text = request.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        start = text.rfind("@")
        m = _REQUEST.match(text[start:]) if start >= 0 else None
        if not m:
            addr = re.match(r"^@(\d{3})", text[start:]) if start >= 0 else None
            if addr and int(addr.group(1)) not in (self.address, 254):
                return None
            return self._nak(160)
        addr, name, index, kind, arg = m.groups()
        if int(addr) not in (self.address, 254, 255):
            return None  # another transducer on the RS-485 line
        reply = self._dispatch(name.upper(), index, kind, arg)
        return None if int(addr) == 255 else reply

    def _dispatch(self, name: str, index: str, kind: str, arg: str) -> bytes:
        cmd = name + index
        queries = {
            "MD": lambda: self.spec.model,
            "DT": lambda: self.spec.device_type,
            "MF": lambda: "MKS",
            "FV": lambda: self.spec.firmware,
            "SN": lambda: self.serial_number,
            "T": lambda: "O",
            "U": lambda: self.unit,
        }
        if cmd in ("PR1", "PR2", "PR3", "PR4"):
            if kind != "?":
                return self._nak(175)
            digits = 4 if cmd == "PR4" else 3
            return self._ack(fmt(self.indicated_pa() / UNIT_PA[self.unit], digits))
        if name == "SP" and index in ("1", "2", "3"):
            return self._setpoint(int(index), kind, arg)
        if name == "EN" and index in ("1", "2", "3"):
            return self._enable(int(index), kind, arg)
        if cmd == "U" and kind == "!":
            word = arg.strip().upper()
            if word not in UNIT_PA:
                return self._nak(169)
            self.unit = word
            return self._ack(word)
        if cmd == "VAC":
            return self._zero() if kind == "!" else self._nak(175)
        if cmd == "ATM":
            return self._span(arg) if kind == "!" else self._nak(175)
        if cmd in queries:
            return self._ack(queries[cmd]()) if kind == "?" else self._nak(175)
        return self._nak(160)

    def _setpoint(self, relay: int, kind: str, arg: str) -> bytes:
        factor = UNIT_PA[self.unit]
        if kind == "?":
            return self._ack(fmt(self.setpoints_pa[relay] / factor))
        value = _number(arg)
        if value is None:
            return self._nak(169)
        pa = value * factor
        if not self.low_pa * 0.995 <= pa <= self.high_pa * 1.005:
            return self._nak(172)
        self.setpoints_pa[relay] = pa
        return self._ack(fmt(pa / factor))

    def _enable(self, relay: int, kind: str, arg: str) -> bytes:
        if kind == "?":
            return self._ack("ON" if self.setpoint_enabled[relay] else "OFF")
        if arg not in ("ON", "OFF"):  # the manual's example: EN1!of is an invalid argument
            return self._nak(169)
        self.setpoint_enabled[relay] = arg == "ON"
        return self._ack(arg)

    def _zero(self) -> bytes:
        # Zeroing needs vacuum: well within the bottom decades of the range.
        if self.pressure_pa() > 100 * self.low_pa:
            return self._nak(8)
        self.zero_pa = 0.0
        return self._ack()

    def _span(self, arg: str) -> bytes:
        value = _number(arg)
        if value is None:
            return self._nak(169)
        target_pa = value * UNIT_PA[self.unit]
        if not self.low_pa <= target_pa <= self.high_pa:
            return self._nak(172)
        p = self.pressure_pa()
        if p < 0.5 * self.high_pa:
            return self._nak(9)
        self.gain = (target_pa - self.zero_pa) / p
        return self._ack()


def _number(text: str) -> float | None:
    if not re.fullmatch(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([Ee][+-]?[0-9]{1,3})?\s*", text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None
