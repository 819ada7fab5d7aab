"""The MOF workflow's instrument kernels: synthesise → activate → weigh.

Kernels drive devices and ask the operator for the moves robots cannot make; they never
see what the sample really is, only what the instruments report.
"""

from __future__ import annotations

import bluesky.plan_stubs as bps

from ppu.core.kernels import Choice, Consumes, In, Uses, kernel
from ppu.core.operator import manual_step
from ppu.core.units import Q_
from protocols.plan_tools import call

SOLVENTS = ("DMF", "DEF", "DMAc", "EtOH", "H2O")  # the station's selector lines 1..5
STOCK_MOLAR = {"metal": 0.5, "linker": 0.5, "modulator": 5.0}  # mol/L, as made up weekly
LOG_EVERY_S = 1800.0  # temperature readings during a hold


def _dispense(pump, volume_ml: float, rate_ml_min: float):
    """Draw the volume from the stock reservoir, then deliver it to the reactor."""
    if volume_ml < 0.05:
        return
    yield from bps.mv(pump.rate, min(rate_ml_min * 2, pump.max_rate.m_as("mL/min")))
    yield from call(lambda: pump.refill(volume_ml))
    yield from bps.mv(pump.rate, rate_ml_min)
    yield from bps.mv(pump, volume_ml)


def _hold(heater, seconds: float):
    """Hold at temperature, logging the reactor temperature as the run's events."""
    readings = []
    left = seconds
    while left > 0:
        step = min(LOG_EVERY_S, left)
        yield from bps.sleep(step)
        left -= step
        reading = yield from bps.trigger_and_read([heater])
        readings.append(next(v["value"] for k, v in reading.items() if k.endswith("temperature")))
    return readings


def _volumes_ml(ratio: float, modulator: float, total_ml: float) -> dict[str, float]:
    """What goes into the reactor: half the volume is stock solutions, in the asked
    proportions, the rest solvent."""
    linker = (
        0.5
        * total_ml
        / (
            ratio * STOCK_MOLAR["linker"] / STOCK_MOLAR["metal"]
            + 1
            + ratio * modulator * STOCK_MOLAR["metal"] / STOCK_MOLAR["modulator"]
        )
    )
    metal = ratio * linker * STOCK_MOLAR["linker"] / STOCK_MOLAR["metal"]
    mod = modulator * metal * STOCK_MOLAR["metal"] / STOCK_MOLAR["modulator"]
    return {"solvent": total_ml - linker - metal - mod, "metal": metal, "linker": linker,
            "modulator": mod}  # fmt: skip


def _synthesis_draws(a: dict) -> dict:
    """The stocks a synthesis takes (names a lab file may declare under [consumables]), and
    the vial its product goes into."""
    ml = _volumes_ml(a["ratio"].m_as(""), a["modulator"].m_as(""), a["volume"].m_as("mL"))
    return {
        "metal_stock": Q_(ml["metal"], "mL"),
        "linker_stock": Q_(ml["linker"], "mL"),
        "modulator_stock": Q_(ml["modulator"], "mL"),
        a["solvent"]: Q_(ml["solvent"], "mL"),
        "vials": 1,
    }


@kernel(
    role="synthesis",
    rerun_safe=False,
    produces={"product": "as-synthesized"},
    outputs={"hold_temperature": "degC", "hold_time": "h"},
    expected=lambda a: a["time"] + Q_(1, "h"),  # the hold, with about an hour to heat and cool
    draws=_synthesis_draws,
)
def synthesize(
    instrument,
    ctx,
    temperature=In("degC", ge="80 degC", le="180 degC", default="120 degC"),
    time=In("h", ge="2 h", le="48 h", default="24 h"),
    ratio=In("", ge=0.5, le=3.0, default=1.0, doc="metal:linker molar ratio"),
    modulator=In("", ge=0, le=50, default=10, doc="modulator equivalents per metal"),
    solvent=Choice(SOLVENTS, default="DMF"),
    volume=In("mL", ge="10 mL", le="40 mL", default="20 mL", doc="total reaction volume"),
):
    """Solvothermal synthesis: stocks and solvent into the reactor, heat, hold, cool,
    and the product collected into a vial. Consumes reagents: never repeated silently."""
    r, mod = ratio.m_as(""), modulator.m_as("")
    ml = _volumes_ml(r, mod, volume.m_as("mL"))
    solvent_ml, metal_ml = ml["solvent"], ml["metal"]
    linker_ml, modulator_ml = ml["linker"], ml["modulator"]
    yield from bps.mv(instrument.solvent_selector, SOLVENTS.index(solvent) + 1)
    yield from _dispense(instrument.solvent_pump, solvent_ml, 10.0)
    yield from _dispense(instrument.metal_pump, metal_ml, 5.0)
    yield from _dispense(instrument.linker_pump, linker_ml, 5.0)
    yield from _dispense(instrument.modulator_pump, modulator_ml, 1.0)
    yield from bps.mv(instrument.heater, temperature.m_as("degC"))
    readings = yield from _hold(instrument.heater, time.m_as("s"))
    yield from bps.mv(instrument.heater, 40.0)
    vial = f"rack:S{ctx.launch_id}-product"
    yield from manual_step(
        ctx,
        f"Empty the reactor of {instrument.name} into vial {vial}",
        move=(f"{instrument.name}:reactor", vial),
    )
    ctx.produce(
        "product", location=vial, properties={"solvent": solvent, "ratio": r, "modulator_eq": mod}
    )
    held = sum(readings) / len(readings) if readings else temperature.m_as("degC")
    return {"hold_temperature": Q_(held, "degC"), "hold_time": time}


@kernel(
    role="oven",
    rerun_safe=False,
    produces={"activated": "activated"},
    outputs={"activation_temperature": "degC"},
    expected=lambda a: a["time"] + Q_(1, "h"),  # the hold, ramp and cooling
)
def activate(
    instrument,
    ctx,
    sample=Consumes("as-synthesized"),
    temperature=In("degC", ge="60 degC", le="300 degC", default="150 degC"),
    time=In("h", ge="1 h", le="48 h", default="12 h"),
):
    """Empty the pores: heat under dynamic vacuum, then cool before opening."""
    chamber = f"{instrument.name}:chamber"
    yield from manual_step(
        ctx, f"Load {sample} into {instrument.name}", move=(ctx.location_of(sample), chamber)
    )
    yield from bps.mv(instrument.valves.vacuum, True)
    yield from bps.mv(instrument.heater, temperature.m_as("degC"))
    readings = yield from _hold(instrument.heater, time.m_as("s"))
    yield from bps.mv(instrument.heater, 40.0)
    yield from bps.mv(instrument.valves.vacuum, False)
    vial = f"rack:S{ctx.launch_id}-activated"
    yield from manual_step(
        ctx, f"Unload {sample} from {instrument.name} into vial {vial}", move=(chamber, vial)
    )
    ctx.produce("activated", location=vial, parents=[sample])
    held = sum(readings) / len(readings) if readings else temperature.m_as("degC")
    return {"activation_temperature": Q_(held, "degC")}


@kernel(role="balance", rerun_safe=True, outputs={"mass": "mg"})
def weigh(instrument, ctx, sample=Uses()):
    """Net mass of a sample: tare the empty pan, load, read a stable value, unload."""
    balance = instrument.balance
    pan = f"{instrument.name}:pan"
    home = ctx.location_of(sample)
    yield from call(lambda: balance.tare(timeout=120))
    yield from manual_step(ctx, f"Put {sample} on the pan of {instrument.name}", move=(home, pan))
    grams = yield from call(lambda: balance.read_stable(timeout=300))
    yield from bps.trigger_and_read([balance])
    yield from manual_step(ctx, f"Return {sample} to {home}", move=(pan, home))
    mass = Q_(grams * 1000, "mg")
    ctx.update_sample(sample, mass=mass)
    return {"mass": mass}
