"""Alicat MC-series mass-flow controller, Alicat ASCII serial protocol.

Requests are `<unit id><command>[ args]\\r` (unit id `A`…`Z`, not case-sensitive); a
unit that is not addressed stays silent. A poll (`A\\r`) and most commands answer with
the data frame, one line ending CR:

    A +014.70 +025.00 +050.00 +050.00 +050.00 0001234.5 N2 [status codes]
    id pressure temperature vol.flow mass.flow setpoint totalizer gas

in psia, °C, ccm, sccm, sccm, scc. Status codes (MOV, VOV, POV, TOV, OVR, HLD, …) are
appended when active. An unknown command answers `A ?`.

Commands: poll, `S <float>` setpoint, `<int>` setpoint as 0…64000 of full scale,
`G <n>` gas by number, `V` tare flow, `T` reset totalizer, `HP`/`HC`/`C` hold the valve
at its position / closed / cancel hold, `VE` firmware.

Physics: the controller drives its *indicated* mass flow to the setpoint; the true flow
follows with a first-order lag (`tau_s`). The indicated flow is the true flow plus the
sensor's zero error (seeded, drifting slowly) minus the tare offset: taring at zero flow
removes the zero error, taring while gas flows writes that flow into the offset. A zero
setpoint closes the valve. The totalizer integrates the indicated flow over the clock and
freezes at its maximum (OVR). Pressure rises slightly with flow above what the controller
delivers into (`ambient_psia`, or `downstream_pa()` when a rig gives the cell's pressure),
temperature sits near ambient, volumetric flow is mass flow at the measured pressure and
temperature. The flow does not depend on the downstream pressure (the supply is taken to be
far above it).

For a rig that integrates what flows into a volume: `flow_state()` gives the lag's present
state, and `on_retarget()` is called whenever the valve's goal changes (setpoint, tare,
hold, zero drift), so between two calls the true flow is one exact exponential.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from simulators.base import Faults, InstrumentSimulator

# Alicat gas table (gas numbers 0…29), as the device labels them in the data frame.
GASES = (
    "Air", "Ar", "CH4", "CO", "CO2", "C2H6", "H2", "He", "N2", "N2O",
    "Ne", "O2", "C3H8", "nC4H10", "C2H2", "C2H4", "iC4H10", "Kr", "Xe", "SF6",
    "C-25", "C-10", "C-8", "C-2", "C-75", "A-75", "A-25", "A1025", "Star29", "P-5",
)  # fmt: skip
STD_T_C = 25.0  # Alicat's default standard conditions for mass flow
STD_P_PSIA = 14.696
PSI_PA = 6894.757293168361  # one lbf/in² in Pa
_REQUEST = re.compile(r"^([A-Za-z])([A-Za-z]*)\s*(.*?)\s*$")


class AlicatSimulator(InstrumentSimulator):
    request_terminator = b"\r"

    def __init__(
        self,
        now: Callable[[], float],
        *,
        seed: int = 0,
        faults: Faults | None = None,
        unit_id: str = "A",
        full_scale_sccm: float = 100.0,
        tau_s: float = 0.7,
        gas: str = "N2",
        ambient_psia: float = 14.70,
        backpressure_psi: float = 0.4,
        pressure_full_scale_psia: float = 160.0,
        temperature_c: float = 25.0,
        noise_fraction: float = 2e-4,
        pressure_noise_psi: float = 0.005,
        temperature_noise_c: float = 0.01,
        zero_error_fraction: float = 3e-3,
        zero_drift_fraction_per_h: float = 1e-3,
        max_open_fraction: float = 1.25,
        totalizer: bool = True,
        total_max_scc: float = 9999999.9,
        firmware: str = "10v05.0-R24",
        downstream_pa: Callable[[], float] | None = None,
        on_retarget: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults)
        self.unit_id = unit_id.upper()
        self.full_scale = full_scale_sccm
        self.tau_s = tau_s
        self.gas_number = GASES.index(gas)
        self.ambient_psia = ambient_psia
        self.backpressure_psi = backpressure_psi
        self.pressure_full_scale = pressure_full_scale_psia
        self.temperature_c = temperature_c
        self.noise = noise_fraction * full_scale_sccm
        self.pressure_noise = pressure_noise_psi
        self.temperature_noise = temperature_noise_c
        self.zero_error = self.rng.gauss(0.0, zero_error_fraction * full_scale_sccm)
        self.zero_drift_per_s = (
            self.rng.choice((-1, 1)) * zero_drift_fraction_per_h * full_scale_sccm / 3600.0
        )
        self.max_flow = max_open_fraction * full_scale_sccm  # valve wide open
        self.has_totalizer = totalizer
        self.total_max = total_max_scc  # what the totalizer can show; then it freezes (OVR)
        self.firmware = firmware
        self.downstream_pa = downstream_pa  # the pressure it delivers into, if a rig knows it
        self.on_retarget = on_retarget
        self.setpoint = 0.0  # sccm, indicated units
        self.tare_offset = 0.0
        self.hold: str | None = None  # None, "HP" (hold position) or "HC" (hold closed)
        self.total_scc = 0.0  # the totalizer (indicated flow integrated)
        self.total_frozen = False
        self.delivered_scc = 0.0  # what truly flowed through (for the rest of the lab)
        t = now()
        self._t_start = t
        self._last = t
        self._flow0 = 0.0  # true flow at _last
        self._target = 0.0  # true flow the valve is heading to

    # -- physics ------------------------------------------------------------------------
    def _zero(self, t: float) -> float:
        """The flow sensor's zero error at time `t` (it drifts slowly)."""
        return self.zero_error + self.zero_drift_per_s * (t - self._t_start)

    def _offset(self, t: float) -> float:
        """Indicated minus true flow: the sensor's zero error minus the tare."""
        return self._zero(t) - self.tare_offset

    def _true_flow(self, t: float) -> float:
        lag = math.exp(-max(0.0, t - self._last) / self.tau_s)
        return self._target + (self._flow0 - self._target) * lag

    def advance(self) -> None:
        """Integrate the flow since the last request (exact for the first-order lag)."""
        t = self.now()
        dt = t - self._last
        if dt <= 0:
            return
        lag = math.exp(-dt / self.tau_s)
        moved = self._target * dt + (self._flow0 - self._target) * self.tau_s * (1 - lag)
        self.delivered_scc += moved / 60.0
        if self.has_totalizer and not self.total_frozen:
            indicated = moved + self._offset(self._last) * dt
            self.total_scc += max(0.0, indicated) / 60.0
            if self.total_scc > self.total_max:
                self.total_scc, self.total_frozen = self.total_max, True
        self._flow0 = self._true_flow(t)
        self._last = t

    def _retarget(self) -> None:
        """The valve's new goal after a setpoint, tare or hold change (call after advance)."""
        if self.hold == "HC" or (self.hold is None and self.setpoint <= 0):
            self._target = 0.0
        elif self.hold == "HP":
            self._target = self._flow0
        else:
            wanted = self.setpoint - self._offset(self._last)
            self._target = min(max(wanted, 0.0), self.max_flow)
        if self.on_retarget is not None:
            self.on_retarget()

    def true_flow_sccm(self) -> float:
        self.advance()
        return self._flow0

    def indicated_flow_sccm(self) -> float:
        self.advance()
        return self._flow0 + self._offset(self._last)

    def flow_state(self) -> tuple[float, float, float]:
        """(true flow now, the flow it is heading to, lag time constant): sccm, sccm, s.

        Until the next `on_retarget()` the true flow is
        target + (now_flow − target)·exp(−(t − now)/tau)."""
        self.advance()
        return self._flow0, self._target, self.tau_s

    def pressure_psia(self) -> float:
        if self.downstream_pa is not None:
            base = self.downstream_pa() / PSI_PA
        else:
            base = self.ambient_psia
        return base + self.backpressure_psi * self._flow0 / self.full_scale

    # -- protocol -----------------------------------------------------------------------
    def _decimals(self) -> int:
        return max(0, 5 - len(str(int(self.full_scale))))

    def _frame(self) -> bytes:
        self.advance()
        self._retarget()  # a drifting zero moves the flow the valve aims at
        status: list[str] = []
        mass = self.indicated_flow_sccm()
        pressure = self.pressure_psia()
        temp = self.temperature_c
        to_vol = (temp + 273.15) / (STD_T_C + 273.15) * STD_P_PSIA / pressure
        vol = mass * to_vol
        # Over range is the sensor's own signal (true flow + its zero error), whatever the
        # tare offset makes the display say.
        sensed = self._flow0 + self._zero(self._last)
        if abs(sensed) > self.full_scale:
            status.append("MOV")
        if abs(sensed * to_vol) > self.full_scale:
            status.append("VOV")
        if pressure > self.pressure_full_scale:
            status.append("POV")
        n = self.noise
        mass = self.reading("mass", mass + self.rng.gauss(0.0, n))
        vol = self.reading("vol", vol + self.rng.gauss(0.0, n))
        pressure = self.reading("pressure", pressure + self.rng.gauss(0.0, self.pressure_noise))
        temp = self.reading("temperature", temp + self.rng.gauss(0.0, self.temperature_noise))
        d = self._decimals()
        w = len(str(int(self.full_scale))) + d + 2
        fields = [
            self.unit_id,
            f"{pressure:+07.2f}",
            f"{temp:+07.2f}",
            f"{vol:+0{w}.{d}f}",
            f"{mass:+0{w}.{d}f}",
            f"{self.setpoint:+0{w}.{d}f}",
        ]
        if self.has_totalizer:
            fields.append(f"{self.total_scc:09.1f}")
            if self.total_frozen:
                status.append("OVR")
        fields.append(GASES[self.gas_number])
        if self.hold:
            status.append("HLD")
        return (" ".join(fields + status) + "\r").encode("ascii")

    def _unknown(self) -> bytes:
        return f"{self.unit_id} ?\r".encode("ascii")

    def error_reply(self, request: bytes) -> bytes:
        return self._unknown()

    def answer(self, request: bytes) -> bytes | None:
        try:
            text = request.decode("ascii").strip("\r\n")
        except UnicodeDecodeError:
            return None  # noise on the bus: not addressed to anyone
        m = _REQUEST.match(text)
        if not m or m.group(1).upper() != self.unit_id:
            return None  # another unit on the bus
        self.advance()
        cmd, arg = m.group(2).upper(), m.group(3)
        if cmd == "" and arg == "":
            return self._frame()
        if cmd == "" and re.fullmatch(r"\d{1,5}", arg):
            value = int(arg)  # legacy setpoint: 64000 = full scale
            if value > 64000:
                return self._unknown()
            return self._set_setpoint(value / 64000 * self.full_scale)
        if cmd == "S" and arg:
            try:
                value = float(arg)
            except ValueError:
                return self._unknown()
            if not math.isfinite(value) or not 0 <= value <= self.full_scale:
                return self._unknown()
            return self._set_setpoint(value)
        if cmd == "G" and re.fullmatch(r"\d{1,3}", arg):
            number = int(arg)
            if number >= len(GASES):
                return self._unknown()
            self.gas_number = number
            return self._frame()
        if arg:
            return self._unknown()
        if cmd == "V":
            self.tare_offset += self.indicated_flow_sccm()  # whatever flows now reads zero
            self._retarget()
            return self._frame()
        if cmd == "T" and self.has_totalizer:
            self.total_scc, self.total_frozen = 0.0, False
            return self._frame()
        if cmd in ("HP", "HC"):
            self.hold = cmd
            self._retarget()
            return self._frame()
        if cmd == "C":
            self.hold = None
            self._retarget()
            return self._frame()
        if cmd == "VE":
            return f"{self.unit_id} {self.firmware}\r".encode("ascii")
        return self._unknown()

    def _set_setpoint(self, value: float) -> bytes:
        self.setpoint = value
        self._retarget()
        return self._frame()
