"""Liquid handling on a syringe pump."""

from __future__ import annotations

import bluesky.plan_stubs as bps

from ppu.core.kernels import In, kernel
from ppu.core.units import Q_, to_json


@kernel(
    role="pump",
    rerun_safe=False,
    outputs={"dispensed": "mL"},
    produces={"solution": "solution"},
    expected=lambda a: a["volume"] / a["rate"],
)
def dispense(
    instrument,
    ctx,
    volume=In("mL", ge="0.05 mL", le="50 mL", default="5 mL", doc="volume to infuse"),
    rate=In("mL/min", ge="0.01 mL/min", le="20 mL/min", default="2 mL/min", doc="infusion rate"),
):
    """Infuse a volume of reagent into the instrument's vessel; the dispensed volume is
    read back from the pump, not assumed. Not safe to repeat: it consumes reagent."""
    pump = instrument.pump
    yield from bps.mv(pump.rate, rate.m_as("mL/min"))
    before = yield from bps.rd(pump.dispensed)
    yield from bps.mv(pump, volume.m_as("mL"))
    yield from bps.trigger_and_read([pump])
    after = yield from bps.rd(pump.dispensed)
    dispensed = Q_(after - before, "mL")
    ctx.produce(
        "solution", location=f"{instrument.name}:vessel", properties={"volume": to_json(dispensed)}
    )
    return {"dispensed": dispensed}
