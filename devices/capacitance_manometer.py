"""A capacitance manometer as an ophyd-async device: the gauges of one controller on one
volume, read together, the finest one in range reported.

A capacitance diaphragm gauge measures pressure as force on a diaphragm, whatever the gas,
linearly from its full scale down to about 1e-4 of it, with an accuracy that is a fraction
of the reading (±0.2 % for a CMR-class gauge) and steps of a fraction of its full scale. A
sorption analyzer needs both ends: 1 bar for a CO2 isotherm, hundredths of a pascal for
the first N2 doses on a microporous solid. So two gauges share the manifold, and the
device reports the finer one until its reading passes `switch_at` of its full scale (MKS's
"95 % rule" for combined manometers: 946 manual, p/n 100018121 Rev A, section 8.4.2).

What the lab file declares (full scales, accuracy, resolution) is checked against what
the controller says (its gauges, its FSR) before the first reading is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from ophyd_async.core import StandardReadable, soft_signal_r_and_setter
from ophyd_async.core import StandardReadableFormat as Format

from devices.errors import DriverError
from devices.pfeiffer_tpg import GaugeReading, TPGController, full_scale_code
from devices.retry import retry_safe
from ppu.core.units import Q_, parse_quantity, unit_text


class GaugeMismatch(DriverError):
    """The controller's gauges are not the ones the lab file declares."""


class GaugeFault(DriverError):
    """A gauge the controller reports as failed, off or missing."""


@dataclass(frozen=True)
class Gauge:
    """One gauge as the kernels see it, in the device's unit."""

    channel: int
    full_scale: float
    accuracy: float  # ± limit, fraction of reading
    step: float  # the A/D converter's step

    @property
    def high(self) -> float:
        """Above this it reports overrange (1.1 × full scale)."""
        return 1.1 * self.full_scale


class CapacitanceManometer(StandardReadable):
    """`pressure` (hinted) in `unit`; `gauge_channel` says which gauge it came from,
    `range_status` whether it is inside that gauge's range (OK, UNDER, OVER)."""

    def __init__(
        self,
        driver: TPGController,
        *,
        full_scale: Sequence[str] = ("1000 mbar",),
        unit: str = "Pa",
        accuracy: float = 0.002,
        resolution: float = 3e-5,
        switch_at: float = 0.95,
        name: str = "",
    ) -> None:
        parse_quantity(f"1 {unit}", "Pa")  # a pressure unit, or UnitError here
        if not 0 < accuracy < 0.05:
            raise ValueError(f"accuracy {accuracy!r} is not a fraction of reading (0…0.05)")
        if not 0 < resolution < 0.01:
            raise ValueError(f"resolution {resolution!r} is not a fraction of full scale")
        if not 0.5 <= switch_at <= 1.0:
            raise ValueError(f"switch_at {switch_at!r} is not a fraction 0.5…1 of full scale")
        if not 1 <= len(full_scale) <= 2:
            raise ValueError(f"a TPG 26x reads 1 or 2 gauges, not {len(full_scale)}")
        self.driver = driver
        self.unit = unit_text(Q_(1.0, unit).units)
        self.switch_at = switch_at
        self.gauges: list[Gauge] = []
        for i, text in enumerate(full_scale, start=1):
            fs = parse_quantity(text, "Pa")
            full_scale_code(fs)  # one the controller can be set to, or ValueError
            value = float(fs.m_as(self.unit))
            self.gauges.append(Gauge(i, value, accuracy, resolution * value))
        #: finest first: the order a reading is looked for in
        self.by_range = sorted(self.gauges, key=lambda g: g.full_scale)
        self.high = self.by_range[-1].high  # the top of the coarsest gauge's range
        self._checked = False
        self._inflight: asyncio.Future[tuple[float, int, str]] | None = None
        with self.add_children_as_readables(Format.HINTED_SIGNAL):
            self.pressure, self._set_pressure = soft_signal_r_and_setter(
                float, units=self.unit, getter=self._read_pressure
            )
        with self.add_children_as_readables():
            self.gauge_channel, self._set_channel = soft_signal_r_and_setter(
                int, 1, getter=self._read_channel
            )
            self.range_status, self._set_status = soft_signal_r_and_setter(
                str, "OK", getter=self._read_status
            )
        super().__init__(name=name)

    def gauge(self, channel: int) -> Gauge:
        return self.gauges[channel - 1]

    async def safe_state(self) -> None:
        """A manometer only measures: there is nothing to drive to safety."""

    # -- the controller must hold the gauges the lab file declares ----------------------------
    async def _check(self) -> None:
        port = self.driver.port
        kinds = await retry_safe(port, self.driver.gauges)
        scales = await retry_safe(port, self.driver.full_scales)
        for g in self.gauges:
            kind = kinds[g.channel - 1] if g.channel <= len(kinds) else "noSEn"
            if kind != "CMR":
                raise GaugeMismatch(
                    f"{self.name}: channel {g.channel} holds {kind!r}, not a capacitance "
                    "gauge (CMR): a volumetric measurement needs one, whatever the gas"
                )
            said = float(scales[g.channel - 1].m_as(self.unit))
            if abs(said / g.full_scale - 1) > 1e-6:
                raise GaugeMismatch(
                    f"{self.name}: the controller scales channel {g.channel} to "
                    f"{scales[g.channel - 1].m_as('mbar'):g} mbar (FSR), the lab file says "
                    f"{Q_(g.full_scale, self.unit).m_as('mbar'):g} mbar: set both to the "
                    "gauge's own full scale"
                )
        self._checked = True

    # -- one exchange serves every readable signal -------------------------------------------
    def choose(self, readings: Sequence[GaugeReading]) -> tuple[float, int, str]:
        """The finest gauge inside its range and below `switch_at` of its full scale (or
        underrange, when the pressure is below even the finest); else the coarsest."""
        by_channel = {r.channel: r for r in readings}
        for g in self.by_range:
            r = by_channel[g.channel]
            if r.status not in ("OK", "UNDER", "OVER"):
                raise GaugeFault(f"{self.name}: channel {g.channel} reports {r.status}")
            value = float(r.pressure.m_as(self.unit))
            if r.status == "UNDER" or (r.ok and value < self.switch_at * g.full_scale):
                return value, g.channel, r.status
        g = self.by_range[-1]
        r = by_channel[g.channel]
        return float(r.pressure.m_as(self.unit)), g.channel, r.status

    async def _measure_once(self) -> tuple[float, int, str]:
        if not self._checked:
            await self._check()
        port = self.driver.port
        if len(self.gauges) == 1:
            readings = [await retry_safe(port, lambda: self.driver.pressure(1))]
        else:
            readings = await retry_safe(port, self.driver.pressures)
        value, channel, status = self.choose(readings)
        self._set_pressure(value)
        self._set_channel(channel)
        self._set_status(status)
        return value, channel, status

    async def measure(self) -> tuple[float, int, str]:
        """(pressure in `unit`, the gauge's channel, range status); concurrent callers
        share one exchange."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._measure_once())
        return await self._inflight

    async def _read_pressure(self) -> float:
        return (await self.measure())[0]

    async def _read_channel(self) -> int:
        return (await self.measure())[1]

    async def _read_status(self) -> str:
        return (await self.measure())[2]

    # -- zero ----------------------------------------------------------------------------
    async def zero(self) -> list[float]:
        """Measure every gauge's offset now and subtract it from then on (OFC auto): only
        under vacuum. Zeroing again under the same vacuum gives the same, so a lost reply
        is retried. Returns the offsets, in `unit`."""
        if not self._checked:
            await self._check()
        port = self.driver.port
        modes = ["auto"] * len(self.gauges)
        if len(self.gauges) == 1 and await self._channels() == 2:
            modes.append("off")
        await retry_safe(port, lambda: self.driver.set_offset_correction(modes))
        offsets = await retry_safe(port, self.driver.offsets)
        return [float(o.m_as(self.unit)) for o in offsets[: len(self.gauges)]]

    async def _channels(self) -> int:
        return len(await retry_safe(self.driver.port, self.driver.gauges))
