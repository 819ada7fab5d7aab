"""Driver for the Eurotherm 3200 series (3216/3208/3204) temperature controller, Modbus RTU.

Register map from the 3200 Series Engineering Manual (HA028651, Issue 7, section 15.5
"Parameter Modbus Addresses"): integer registers scaled by the display resolution, one
decimal place unless configured otherwise. Framing and CRC are minimalmodbus's (see
devices/modbus_rtu.py); this module only knows what the registers mean.

TG.SP lives in memory rated for about 100,000 writes (the manual's own warning), so it is
written once per move, never streamed; a setpoint ramp is the controller's own SP.RAT.
"""

from __future__ import annotations

from enum import IntEnum

from devices.errors import GarbledReply
from devices.modbus_rtu import ModbusRTU
from devices.port import SerialPort
from ppu.core.units import Q_, Quantity


class Register(IntEnum):
    """Modbus addresses (decimal), HA028651 section 15.5."""

    PV_IN = 1  # process value (temperature), read only
    TG_SP = 2  # target setpoint
    MAN_OP = 3  # manual output value, %
    WRK_OP = 4  # working output, %, read only in auto
    WKG_SP = 5  # working setpoint (ramping towards TG.SP), read only
    PB = 6  # proportional band, engineering units
    TI = 8  # integral time, s (0 = off)
    TD = 9  # derivative time, s (0 = off)
    OP_HI = 30  # output high limit, %
    OP_LO = 31  # output low limit, %
    SP_RAT = 35  # setpoint rate limit, units per minute (0 = no limit)
    STATUS = 75  # instrument status bitmap
    VERSION = 107  # instrument version, read as hex (0x0111 = V1.11)
    SP_HI = 111  # setpoint high limit
    SP_LO = 112  # setpoint low limit
    TYPE_CODE = 122  # instrument type code
    LOOP_MODE = 273  # A-M: 0 auto, 1 manual (2 off on later firmware)


class LoopMode(IntEnum):
    AUTO = 0
    MANUAL = 1
    OFF = 2


class Eurotherm3200:
    """One 3200-series controller on a serial line (default slave address 1)."""

    model = "Eurotherm 3200"

    def __init__(self, port: SerialPort, slave: int = 1, decimals: int = 1) -> None:
        self.port = port
        self.bus = ModbusRTU(port, slave, self.model)
        self.decimals = decimals

    @property
    def slave(self) -> int:
        return self.bus.slave

    async def read(self, register: Register) -> float:
        return await self.bus.read_register(register, self.decimals, signed=True)

    async def write(self, register: Register, value: float) -> None:
        await self.bus.write_register(register, value, self.decimals, signed=True)

    async def _word(self, register: Register) -> int:
        return int(await self.bus.read_register(register, 0, signed=False))

    # -- identity -------------------------------------------------------------------
    async def identity(self) -> str:
        """'Eurotherm 3200 type 0x3216 V1.11' from the type code and the version word."""
        type_code = await self._word(Register.TYPE_CODE)
        version = await self._word(Register.VERSION)
        return f"{self.model} type 0x{type_code:04X} V{version >> 8:X}.{version & 0xFF:02X}"

    # -- temperatures ---------------------------------------------------------------
    async def pv(self) -> Quantity:
        """The measured temperature (PV.IN)."""
        return Q_(await self.read(Register.PV_IN), "degC")

    async def setpoint(self) -> Quantity:
        """The target setpoint TG.SP (where the working setpoint is heading)."""
        return Q_(await self.read(Register.TG_SP), "degC")

    async def set_setpoint(self, setpoint: Quantity) -> None:
        await self.write(Register.TG_SP, float(setpoint.to("degC").magnitude))

    async def working_setpoint(self) -> Quantity:
        """WKG.SP: the setpoint the loop controls to now, ramping at SP.RAT."""
        return Q_(await self.read(Register.WKG_SP), "degC")

    async def setpoint_limits(self) -> tuple[Quantity, Quantity]:
        low = await self.read(Register.SP_LO)
        high = await self.read(Register.SP_HI)
        return Q_(low, "degC"), Q_(high, "degC")

    # -- output ---------------------------------------------------------------------
    async def output(self) -> Quantity:
        """WRK.OP, the working output power in percent (negative = cooling channel)."""
        return Q_(await self.read(Register.WRK_OP), "percent")

    async def set_manual_output(self, output: Quantity) -> None:
        """MAN.OP: the output held while the loop is in manual."""
        await self.write(Register.MAN_OP, float(output.to("percent").magnitude))

    async def loop_mode(self) -> LoopMode:
        value = await self._word(Register.LOOP_MODE)
        try:
            return LoopMode(value)
        except ValueError:
            raise GarbledReply(f"{self.model}: loop mode {value} is not 0, 1 or 2") from None

    async def set_loop_mode(self, mode: LoopMode) -> None:
        await self.bus.write_register(Register.LOOP_MODE, int(mode), 0, signed=False)

    # -- ramp -----------------------------------------------------------------------
    async def ramp_rate(self) -> Quantity:
        """SP.RAT in degC/min; 0 means no rate limit (the setpoint steps)."""
        return Q_(await self.read(Register.SP_RAT), "delta_degC/min")

    async def set_ramp_rate(self, rate: Quantity) -> None:
        await self.write(Register.SP_RAT, float(rate.to("delta_degC/min").magnitude))

    async def status(self) -> int:
        """The instrument status bitmap (B4 manual, B5 sensor break, B13 ramp running)."""
        return await self._word(Register.STATUS)
