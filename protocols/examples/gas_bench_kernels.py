"""Kernels of the gas bench (gas_bench.toml): a plugin module beside its lab file."""

import bluesky.plan_stubs as bps

from ppu import Q_, In, call, kernel


@kernel(role="gas_cell", rerun_safe=True, outputs={"start": "kPa", "end": "kPa", "rise": "kPa"})
def fill_cell(
    instrument,
    ctx,
    co2=In("sccm", ge="0 sccm", le="100 sccm", default="10 sccm", doc="CO2 flow"),
    n2=In("sccm", ge="0 sccm", le="500 sccm", default="40 sccm", doc="N2 flow"),
    time=In("min", ge="0.1 min", le="60 min", default="1 min", doc="how long both flow"),
    temperature=In("degC", ge="20 degC", le="120 degC", default="30 degC"),
):
    """Vent, seal, heat the cell, then let both MFCs flow for `time`: the pressure rise."""
    yield from call(lambda: instrument.valves.set_open({"vent": True}))
    yield from bps.sleep(60)  # to the room
    yield from call(lambda: instrument.valves.set_open({"vent": False}))
    yield from bps.mv(instrument.heater, temperature.m_as("degC"))
    start = yield from bps.rd(instrument.gauge.pressure)
    yield from bps.mv(instrument.co2, co2.m_as("sccm"), instrument.n2, n2.m_as("sccm"))
    yield from bps.sleep(time.m_as("s"))
    yield from bps.mv(instrument.co2, 0.0, instrument.n2, 0.0)
    end = yield from bps.rd(instrument.gauge.pressure)
    unit = instrument.gauge.unit
    start_q, end_q = Q_(start, unit).to("kPa"), Q_(end, unit).to("kPa")
    return {"start": start_q, "end": end_q, "rise": end_q - start_q}
