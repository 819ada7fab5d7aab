"""The demo's digital twin: approximate by design, a computed kernel like any other, its
estimates stored as computed measurements with their model and version."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlmodel import select

from planner.multi_fidelity import spearman
from ppu.core.clock import Clock
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import running
from ppu.store import Store
from ppu.store.models import Measurement
from protocols.twin import MODEL, VERSION, estimate_co2_uptake, estimate_uptake
from simulators import materials as M
from tests.conftest import BENCH_LAB


def _twin(c: M.SynthesisConditions) -> float:
    return estimate_uptake(c.temperature_c, c.time_h, c.ratio, c.modulator_eq, c.solvent).co2_uptake


def test_the_twin_is_not_the_truth_but_tells_something() -> None:
    """Over 1,000 random conditions the twin ranks them like the ground truth only in part:
    informative (ρ > 0.3), never the truth (ρ < 0.9)."""
    conds = M.sample_conditions(np.random.default_rng(1), 1000)
    rho = spearman([_twin(c) for c in conds], [M.noise_free_co2_uptake(c) for c in conds])
    assert 0.3 < rho < 0.9, rho


def test_the_twin_is_wrong_in_a_family_dependent_way() -> None:
    """It trusts ethanol for Mg-MOF-74, where the simulated chemistry makes next to nothing:
    the kind of confident error a lab measurement has to correct."""
    c = M.SynthesisConditions(125.0, 24.0, 2.4, 0.0, "EtOH")
    assert _twin(c) > 2.0
    assert M.noise_free_co2_uptake(c) < 1.0
    dmf = M.SynthesisConditions(125.0, 24.0, 2.4, 0.0, "DMF")
    assert M.noise_free_co2_uptake(dmf) > 4.0


def test_the_twin_kernel_declares_itself_computed() -> None:
    k = estimate_co2_uptake
    assert (k.role, k.fidelity, k.model, k.model_version) == (None, "computed", MODEL, VERSION)
    assert k.cpu_s > 0
    assert k.describe()["fidelity"] == "computed"


def test_a_measured_kernel_cannot_hide_a_model_and_a_computed_one_needs_no_instrument() -> None:
    from ppu.core.kernels import kernel

    with pytest.raises(ValueError, match="holds no instrument"):
        kernel(role="pump", fidelity="computed", model="m")(lambda inst, ctx: {})
    with pytest.raises(ValueError, match="names its model"):
        kernel(role=None, fidelity="computed")(lambda ctx: {})
    with pytest.raises(ValueError, match="fidelity 'guessed'"):
        kernel(role=None, fidelity="guessed")(lambda ctx: {})


def test_an_estimate_is_stored_as_a_computed_measurement_with_its_model(
    store: Store, virtual_clock: Clock
) -> None:
    lab = load_lab(BENCH_LAB)

    async def main() -> dict:
        async with running(lab, virtual_clock, store, dry_run=True) as rt:
            h = rt.launch(
                estimate_co2_uptake,
                temperature="125 degC",
                time="24 h",
                ratio=2.4,
                modulator=0,
                solvent="DMF",
            )
            return await h

    out = virtual_clock.loop.run_until_complete(main())
    rows = store.session.exec(select(Measurement)).all()
    assert [(m.name, m.unit, m.fidelity) for m in rows] == [("co2_uptake", "mmol/g", "computed")]
    m = rows[0]
    assert m.value == pytest.approx(out["co2_uptake"].m_as("mmol/g"))
    assert m.provenance["model"] == MODEL and m.provenance["model_version"] == VERSION
    assert m.provenance["sigma"] > 0 and m.provenance["sigma_unit"] == "mmol/g"
    assert m.provenance["instrument"] is None


def test_measurements_made_by_instruments_stay_measured(store: Store, virtual_clock: Clock) -> None:
    from protocols.dosing import dispense

    lab = load_lab(BENCH_LAB)

    async def main() -> None:
        async with running(lab, virtual_clock, store, dry_run=True) as rt:
            await rt.launch(dispense, volume="1 mL", rate="1 mL/min")

    virtual_clock.loop.run_until_complete(main())
    rows = store.session.exec(select(Measurement)).all()
    assert rows and {m.fidelity for m in rows} == {"measured"}


def test_twin_inputs_are_checked_like_any_kernel() -> None:
    from ppu.core.errors import BadInput

    with pytest.raises(BadInput, match="solvent"):
        estimate_co2_uptake.validate({"solvent": "acetone"})
    assert asyncio.iscoroutinefunction(estimate_co2_uptake.body) is False
