"""A lab's own instrument and kernel, outside the ppu package: what a plugin author writes.

A hotplate with a made-up ASCII protocol (`SET 60.0` → `OK`, `T?` → `T 59.87`), its
driver, its ophyd-async device, its protocol simulator, the instrument model that ties them
together, and a kernel that bakes a sample on it. Only `from ppu import …` is used.
"""

from __future__ import annotations

import asyncio
import math
import re

import bluesky.plan_stubs as bps
from ophyd_async.core import AsyncStatus, StandardReadable, soft_signal_r_and_setter

from ppu import (
    Q_,
    GarbledReply,
    In,
    InstrumentModel,
    InstrumentRefused,
    InstrumentSimulator,
    LimitError,
    SerialPort,
    call,
    kernel,
    parse_quantity,
    read_until,
    retry_safe,
)

# -- driver: bytes <-> typed commands -------------------------------------------------------


class HotplateDriver:
    def __init__(self, port: SerialPort, address: int = 1) -> None:
        self.port = port
        self.address = address

    async def _ask(self, text: str) -> str:
        reply = await self.port.query(f"{self.address}:{text}\r".encode(), read_until(b"\r"))
        line = reply.decode("ascii", "replace").strip()
        if line.startswith("ERR"):
            raise InstrumentRefused(f"hotplate refused {text!r}: {line}", code=line)
        return line

    async def identity(self) -> str:
        return await self._ask("ID?")

    async def temperature(self) -> float:
        line = await self._ask("T?")
        m = re.fullmatch(r"T (-?\d+\.\d+)", line)
        if m is None:
            raise GarbledReply("not a temperature reply", line.encode())
        return float(m.group(1))

    async def set_setpoint(self, celsius: float) -> None:
        if await self._ask(f"SET {celsius:.1f}") != "OK":
            raise GarbledReply("no OK after SET")


# -- device: signals with units and hard limits -------------------------------------------


class Hotplate(StandardReadable):
    def __init__(
        self, driver: HotplateDriver, *, max_temperature: object = "200 degC", name: str = ""
    ) -> None:
        self.driver = driver
        self.max_c = float(parse_quantity(max_temperature, "degC").m_as("degC"))
        with self.add_children_as_readables():
            self.temperature, _ = soft_signal_r_and_setter(
                float, units="degC", precision=2, getter=self._read
            )
        super().__init__(name=name)

    async def _read(self) -> float:
        return await retry_safe(self.driver.port, self.driver.temperature)

    @AsyncStatus.wrap
    async def set(self, celsius: float) -> None:
        """Heat to `celsius`; done within 1 K of it (TimeoutError after an hour)."""
        if not 0 <= celsius <= self.max_c:
            raise LimitError(f"{self.name}: {celsius:g} degC is outside 0 … {self.max_c:g} degC")
        await retry_safe(self.driver.port, lambda: self.driver.set_setpoint(celsius))
        for _ in range(720):
            if abs(await self._read() - celsius) <= 1.0:
                return
            await asyncio.sleep(5.0)
        raise TimeoutError(f"{self.name}: did not reach {celsius:g} degC within an hour")

    async def safe_state(self) -> None:
        await retry_safe(self.driver.port, lambda: self.driver.set_setpoint(0.0))


# -- simulator: the same protocol, physics on the injected clock ---------------------------


class HotplateSimulator(InstrumentSimulator):
    request_terminator = b"\r"

    def __init__(self, now, *, seed=0, faults=None, address: int = 1, tau_s: float = 120.0):
        super().__init__(now, seed=seed, faults=faults)
        self.address = address
        self.tau_s = tau_s
        self.setpoint = 0.0
        self._t0, self._c0 = now(), 22.0

    def celsius(self) -> float:
        """First-order approach to the setpoint (22 degC when off)."""
        target = max(self.setpoint, 22.0)
        dt = self.now() - self._t0
        return target + (self._c0 - target) * math.exp(-dt / self.tau_s)

    def answer(self, request: bytes) -> bytes | None:
        text = request.decode("ascii", "replace").strip()
        head, _, body = text.partition(":")
        if head != str(self.address):
            return None
        if body == "ID?":
            return b"HOTPLATE HP-1 SN42\r"
        if body == "T?":
            return f"T {self.reading('t', self.celsius()):.2f}\r".encode()
        if body.startswith("SET "):
            self._c0, self._t0 = self.celsius(), self.now()
            self.setpoint = float(body[4:])
            return b"OK\r"
        return self.error_reply(request)

    def error_reply(self, request: bytes) -> bytes:
        return b"ERR 1\r"


HOTPLATE = InstrumentModel(
    name="acme-hotplate",
    driver=HotplateDriver,
    device=Hotplate,
    simulator=HotplateSimulator,
    limits={"max_temperature": "degC"},
    driver_options=("address",),
    to_simulator={"address": "address"},
    doc="ACME HP-1 hotplate (ASCII)",
)


# -- kernel: a bluesky plan over the device -------------------------------------------------


@kernel(role="hotplate", rerun_safe=True, outputs={"reached": "degC", "dose": "K*min"})
def bake(
    instrument,
    ctx,
    temperature=In("degC", ge="30 degC", le="150 degC", default="60 degC"),
    time=In("min", ge="1 min", le="120 min", default="10 min"),
):
    """Heat, hold, read what was reached; `dose` is the time above room temperature."""
    plate = instrument.plate
    yield from bps.mv(plate, temperature.m_as("degC"))
    yield from bps.sleep(time.m_as("s"))
    reached = yield from bps.rd(plate.temperature)
    yield from call(plate.safe_state)  # heater off; no need to wait for it to cool
    dose = (reached - 22.0) * time.m_as("min")
    return {"reached": Q_(reached, "degC"), "dose": Q_(dose, "K*min")}
