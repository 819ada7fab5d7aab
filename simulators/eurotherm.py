"""Eurotherm 3200 series temperature controller on a small furnace, Modbus RTU slave.

Protocol from the 3200 Series Engineering Manual (HA028651, Issue 7, chapter 15): function
codes 03/04 (read n words), 06 (write a word), 16 (write n words) and 08 (loopback);
parameters at the decimal addresses of section 15.5, as signed 16-bit integers scaled by
the display resolution (one decimal place here). Exception replies: 01 function not
supported, 02 no parameter at that address, 03 value out of range or parameter read only.

Physics, advanced from the clock before every request:
- the furnace is one thermal mass C heated by at most `heater_w` and losing heat to the
  room through a conductance G: C dT/dt = P·u − G (T − T_room), solved exactly over each
  controller cycle with the output held (a first-order lag of time constant C/G);
- the heater's power limit caps the heating rate; cooling is passive only;
- `external_heat_w()`, if given, is heat from elsewhere (a heater a relay switches, the
  controller only reading the temperature), added to P·u; whoever changes it advances
  this simulator first, so each cycle is still exact;
- the working setpoint ramps towards TG.SP at SP.RAT (°C/min, 0 = step), starting from
  the PV when TG.SP changes, as the controller's setpoint rate limit does;
- in auto a PID (Eurotherm form, 100/PB·(e + ∫e/Ti − Td·dPV/dt)) sets the output once
  per `cycle_s`, within OP.LO..OP.HI, without integral wind-up; in manual the output is
  MAN.OP; in off it is 0;
- `setpoint_c`, if given, is a controller that has held that setpoint for hours (a
  thermostatted manifold): it starts there, at rest.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.base import Faults
from simulators.modbus_rtu import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    ModbusError,
    ModbusRTUSimulator,
    unpack,
)

AUTO, MANUAL, OFF = 0, 1, 2


@dataclass
class _Param:
    get: Callable[[], float]
    set: Callable[[float], None] | None = None
    scaled: bool = True  # engineering value × 10**decimals on the wire (else a raw word)


class Eurotherm3200Simulator(ModbusRTUSimulator):
    """A 3216 on a furnace: thermal mass, heater power limit, PID loop, setpoint ramp."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        seed: int = 0,
        faults: Faults | None = None,
        address: int = 1,
        ambient_c: float = 22.0,
        heat_capacity_j_per_k: float = 2000.0,
        loss_w_per_k: float = 2.0,
        heater_w: float = 1000.0,
        noise_c: float = 0.03,
        cycle_s: float = 1.0,
        decimals: int = 1,
        external_heat_w: Callable[[], float] | None = None,
        setpoint_c: float | None = None,
    ) -> None:
        super().__init__(now, seed=seed, faults=faults, address=address)
        self.ambient_c = ambient_c
        self.heat_capacity = heat_capacity_j_per_k
        self.loss = loss_w_per_k
        self.heater_w = heater_w
        self.external_heat_w = external_heat_w
        self.noise_c = noise_c
        self.cycle_s = cycle_s
        self.decimals = decimals
        # physical state
        self.temperature_c = ambient_c
        self.output_pct = 0.0  # working output
        # controller parameters (factory-like defaults)
        self.target_sp = ambient_c
        self.working_sp = ambient_c
        self.sp_rate = 0.0  # °C/min, 0 = no limit
        self.sp_hi, self.sp_lo = 1000.0, -200.0
        self.range_hi, self.range_lo = 1372.0, -200.0  # type K thermocouple
        self.op_hi, self.op_lo = 100.0, 0.0  # heat only
        self.pb, self.ti, self.td = 20.0, 300.0, 30.0
        self.mode = AUTO
        self.manual_op = 0.0
        self.version = 0x0111
        self.type_code = 0x3216  # the manual does not list the codes; the model number here
        self._integral = 0.0  # ∫e dt, °C·s
        self._last = now()
        self._params = self._parameter_table()
        if setpoint_c is not None:
            self._hold_from_the_start(setpoint_c)

    def _hold_from_the_start(self, setpoint_c: float) -> None:
        """Powered on long ago at `setpoint_c` (a thermostatted manifold): at rest there,
        the output what holds it, the integral what gives that output."""
        self.target_sp = self.working_sp = self.temperature_c = setpoint_c
        power = (setpoint_c - self.ambient_c) * self.loss
        self.output_pct = min(self.op_hi, max(self.op_lo, power / self.heater_w * 100.0))
        self._integral = self.output_pct / (100.0 / self.pb) * self.ti if self.ti > 0 else 0.0

    # -- physics --------------------------------------------------------------------
    @property
    def time_constant_s(self) -> float:
        return self.heat_capacity / self.loss

    def _equilibrium_c(self, output_pct: float) -> float:
        power = self.heater_w * max(0.0, output_pct) / 100
        if self.external_heat_w is not None:
            power += self.external_heat_w()
        return self.ambient_c + power / self.loss

    def _heat(self, dt: float, output_pct: float) -> None:
        """Exact first-order step with the output held for `dt` seconds."""
        t_eq = self._equilibrium_c(output_pct)
        self.temperature_c = t_eq + (self.temperature_c - t_eq) * math.exp(
            -dt / self.time_constant_s
        )

    def _ramp(self, dt: float) -> None:
        gap = self.target_sp - self.working_sp
        if self.sp_rate <= 0:
            self.working_sp = self.target_sp
            return
        step = self.sp_rate / 60 * dt
        self.working_sp = (
            self.target_sp if abs(gap) <= step else self.working_sp + math.copysign(step, gap)
        )

    def _pid(self, dt: float, previous_pv: float) -> float:
        error = self.working_sp - self.temperature_c
        gain = 100.0 / self.pb
        derivative = -(self.temperature_c - previous_pv) / dt * self.td if dt > 0 else 0.0
        integral = self._integral + error * dt if self.ti > 0 else 0.0
        raw = gain * (error + (integral / self.ti if self.ti > 0 else 0.0) + derivative)
        out = min(self.op_hi, max(self.op_lo, raw))
        # Integrate only while the output is free, or when the error pulls it back in.
        if out == raw or (raw > self.op_hi and error < 0) or (raw < self.op_lo and error > 0):
            self._integral = integral
        return out

    def advance(self) -> None:
        t = self.now()
        dt_total, self._last = max(0.0, t - self._last), t
        if self.mode != AUTO:
            self._ramp(dt_total)
            self.output_pct = self.manual_op if self.mode == MANUAL else 0.0
            self._heat(dt_total, self.output_pct)
            return
        while dt_total > 0:
            dt = min(self.cycle_s, dt_total)
            dt_total -= dt
            previous, previous_op = self.temperature_c, self.output_pct
            self._heat(dt, self.output_pct)
            self._ramp(dt)
            self.output_pct = self._pid(dt, previous)
            if (
                self.working_sp == self.target_sp
                and abs(self.temperature_c - previous) < 1e-7
                and abs(self.output_pct - previous_op) < 1e-7
            ):
                # At rest: what is left of the motion is below a millionth of a degree.
                self._heat(dt_total, self.output_pct)
                break

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_params", None)  # closures over self: rebuilt on restore
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._params = self._parameter_table()

    # -- parameters -----------------------------------------------------------------
    def _parameter_table(self) -> dict[int, _Param]:
        return {
            1: _Param(self._pv),
            2: _Param(lambda: self.target_sp, self._set_target),
            3: _Param(lambda: self.manual_op, self._set_manual_op),
            4: _Param(lambda: self.output_pct),
            5: _Param(lambda: self.working_sp),
            6: _Param(lambda: self.pb, self._checked("pb", 0.1, 9999.0)),
            8: _Param(lambda: self.ti, self._checked("ti", 0.0, 9999.0), scaled=False),
            9: _Param(lambda: self.td, self._checked("td", 0.0, 9999.0), scaled=False),
            11: _Param(lambda: self.range_lo),
            12: _Param(lambda: self.range_hi),
            30: _Param(lambda: self.op_hi, self._set_op_hi),
            31: _Param(lambda: self.op_lo, self._set_op_lo),
            35: _Param(lambda: self.sp_rate, self._checked("sp_rate", 0.0, 3000.0)),
            39: _Param(lambda: self.temperature_c - self.working_sp),
            75: _Param(self._status, scaled=False),
            107: _Param(lambda: self.version, scaled=False),
            111: _Param(lambda: self.sp_hi, self._set_sp_hi),
            112: _Param(lambda: self.sp_lo, self._set_sp_lo),
            122: _Param(lambda: self.type_code, scaled=False),
            131: _Param(lambda: self.address, scaled=False),
            199: _Param(lambda: 0, scaled=False),  # instrument mode: operating
            273: _Param(lambda: self.mode, self._set_mode, scaled=False),
        }

    def _pv(self) -> float:
        measured = self.temperature_c + self.rng.gauss(0.0, self.noise_c)
        return self.reading("pv", measured)

    def _status(self) -> int:
        bits = 0
        if self.mode == MANUAL:
            bits |= 1 << 4
        if self.working_sp != self.target_sp:
            bits |= 1 << 13  # timer/ramp running
        return bits

    def _checked(self, name: str, low: float, high: float) -> Callable[[float], None]:
        def write(value: float) -> None:
            if not low <= value <= high:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            setattr(self, name, value)

        return write

    def _set_target(self, value: float) -> None:
        if not self.sp_lo <= value <= self.sp_hi:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if self.sp_rate > 0 and value != self.target_sp:
            self.working_sp = self.temperature_c  # the ramp starts from the PV
        self.target_sp = value
        if self.sp_rate <= 0:
            self.working_sp = value

    def _set_manual_op(self, value: float) -> None:
        if not self.op_lo <= value <= self.op_hi:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        self.manual_op = value
        if self.mode == MANUAL:
            self.output_pct = value

    def _set_op_hi(self, value: float) -> None:
        if not self.op_lo < value <= 100.0:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        self.op_hi = value

    def _set_op_lo(self, value: float) -> None:
        if not -100.0 <= value < self.op_hi:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        self.op_lo = value

    def _set_sp_hi(self, value: float) -> None:
        if not self.sp_lo < value <= self.range_hi:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        self.sp_hi = value

    def _set_sp_lo(self, value: float) -> None:
        if not self.range_lo <= value < self.sp_hi:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        self.sp_lo = value

    def _set_mode(self, value: float) -> None:
        mode = int(value)
        if mode not in (AUTO, MANUAL, OFF):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if mode == MANUAL and self.mode != MANUAL:
            self.manual_op = self.output_pct  # bumpless transfer to manual
        if mode == AUTO and self.mode != AUTO:
            # bumpless transfer to auto: the integral takes over the present output
            error = self.working_sp - self.temperature_c
            self._integral = (self.output_pct * self.pb / 100 - error) * self.ti
        self.mode = mode
        self.output_pct = {AUTO: self.output_pct, MANUAL: self.manual_op, OFF: 0.0}[mode]

    # -- Modbus ---------------------------------------------------------------------
    def _encode(self, address: int) -> int:
        param = self._params.get(address)
        if param is None:
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        value = param.get()
        if param.scaled:
            return max(-32768, min(32767, round(value * 10**self.decimals))) & 0xFFFF
        return max(0, min(65535, int(value)))

    def _write(self, address: int, raw: int) -> None:
        param = self._params.get(address)
        if param is None:
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        if param.set is None:
            raise ModbusError(ILLEGAL_DATA_VALUE)  # read-only parameter
        signed = raw - 0x10000 if raw >= 0x8000 else raw
        param.set(signed / 10**self.decimals if param.scaled else raw)

    def handle(self, function: int, data: bytes) -> bytes:
        if function in (0x03, 0x04):
            start, count = unpack(">HH", data)
            if not 1 <= count <= 125:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            words = [self._encode(a) for a in range(start, start + count)]
            return bytes([2 * count]) + struct.pack(f">{count}H", *words)
        if function == 0x06:
            address, raw = unpack(">HH", data)
            self._write(address, raw)
            return data
        if function == 0x10:
            if len(data) < 5:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            start, count, nbytes = struct.unpack(">HHB", data[:5])
            if not 1 <= count <= 123 or nbytes != 2 * count or len(data) != 5 + nbytes:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            values = struct.unpack(f">{count}H", data[5:])
            saved = self._snapshot()
            try:
                for offset, raw in enumerate(values):
                    self._write(start + offset, raw)
            except ModbusError:
                self._restore(saved)  # all or nothing
                raise
            return data[:4]
        if function == 0x08:
            (sub,) = struct.unpack(">H", data[:2]) if len(data) >= 2 else (None,)
            if sub != 0:
                raise ModbusError(ILLEGAL_FUNCTION)
            return data  # return query data: the loopback test
        raise ModbusError(ILLEGAL_FUNCTION)

    _STATE = (
        "target_sp", "working_sp", "manual_op", "output_pct", "pb", "ti", "td",
        "op_hi", "op_lo", "sp_rate", "sp_hi", "sp_lo", "mode", "_integral",
    )  # fmt: skip

    def _snapshot(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self._STATE}

    def _restore(self, saved: dict[str, float]) -> None:
        for k, v in saved.items():
            setattr(self, k, v)
