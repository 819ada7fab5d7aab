"""Isotherm accuracy: does the volumetric kernel's 1σ tell the truth?

Runs `measure_isotherm` (CO2, 298.15 K, 12 points to 1 bar) end to end on a simulated
analyzer (bluesky plan → ophyd-async devices → drivers → bytes over local sockets → a
Pfeiffer TPG 262 reading two capacitance gauges, the manifold's and the bath's thermostats,
relay, selector, all sharing one rig) on the virtual clock, once per seed: each seed is a
different rig (its true manifold volume within ±0.5 % of the nominal one, its temperature
sensors a few tenths of a kelvin off) and different gauges (gains within ±0.2 %). The kernel
sees only what the devices report; this script compares every stored point with the
material's true isotherm at the point's reported pressure and temperature, and prints

* coverage: the fraction of points within 1σ of the truth (a calibrated 1σ covers ≈ 68 %;
  an error dominated by rectangular calibration errors ≈ 58–65 %), and within 2σ;
* the median 1σ at 0.15 bar in % of the uptake, the mean error there (bias) and its spread;
* the virtual duration of one isotherm and the wall time of all of them.

Samples: 50 mg of the noise-free HKUST-1 and ZIF-8 recipes of `simulators.materials`,
activated the standard way. `--bet` adds `measure_bet` (N2 at 77 K in a dewar whose level
falls and whose nitrogen boils at the day's pressure, the cell at half the manifold's
pressure at the first doses by thermal transpiration) against each material's ground-truth
BET area, and the coverage of its points below 10 Pa; `--transpiration-off` runs it again
with the kernel's correction off.

    .venv/bin/python benchmarks/isotherm_accuracy.py [--seeds 20] [--bet] [--material HKUST-1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAB = """
name = "isotherm accuracy"

[instruments.analyzer_1]
roles = ["sorption"]

[instruments.analyzer_1.rig]
model = "sorption"
seed = {rig_seed}
options = {{ manifold_volume_ml = 25.0, cell_volume_ml = 12.0, supply_pressure_pa = 125000.0 }}

[instruments.analyzer_1.devices.gauge]
driver = "tpg-26x"
port = "/dev/ttyUSB10"
settings = {{ full_scale = ["1000 mbar", "1 mbar"], unit = "Pa", resolution = 3e-5 }}
simulator = {{ seed = {gauge_seed} }}

[instruments.analyzer_1.devices.p0_gauge]
driver = "tpg-26x"
port = "/dev/ttyUSB14"
settings = {{ full_scale = ["1000 mbar"], unit = "Pa", resolution = 3e-5 }}
simulator = {{ seed = {p0_seed} }}

[instruments.analyzer_1.devices.manifold]
driver = "eurotherm-3200"
port = "/dev/ttyUSB15"
limits = {{ min_setpoint = "20 degC", max_setpoint = "60 degC" }}
simulator = {{ seed = 26 }}
[instruments.analyzer_1.devices.manifold.settings]
tolerance = "0.2 delta_degC"
dwell = "120 s"
safe_setpoint = "25 degC"
poll_interval = 10.0

[instruments.analyzer_1.devices.valves]
driver = "modbus-relay"
port = "/dev/ttyUSB11"
simulator = {{ seed = 23 }}
[instruments.analyzer_1.devices.valves.settings]
valves = {{ gas_in = 0, dose = 1, vacuum = 2 }}
interlocks = [["gas_in", "vacuum"]]
actuation_time = "0.1 s"

[instruments.analyzer_1.devices.selector]
driver = "vici"
port = "/dev/ttyUSB12"
settings = {{ positions = 4, safe_position = 4 }}
simulator = {{ seed = 24 }}

[instruments.analyzer_1.devices.bath]
driver = "eurotherm-3200"
port = "/dev/ttyUSB13"
limits = {{ min_setpoint = "5 degC", max_setpoint = "80 degC" }}
simulator = {{ seed = 25 }}
[instruments.analyzer_1.devices.bath.settings]
tolerance = "0.3 delta_degC"
dwell = "300 s"
safe_setpoint = "25 degC"
poll_interval = 10.0
"""


@dataclass
class Run:
    """One kernel launch on one simulated analyzer: what the kernel stored, and the truth."""

    outputs: dict[str, Any]
    measurements: dict[str, Any]
    virtual_h: float
    wall_s: float
    true_manifold_ml: float
    gauge_gain: float


def run_kernel(
    material: Any,
    kernel: Any,
    *,
    rig_seed: int,
    gauge_seed: int,
    mass_mg: float = 50.0,
    workdir: Path,
    **inputs: Any,
) -> Run:
    """Launch `kernel` on a fresh dry-run analyzer holding `mass_mg` of `material`."""
    from sqlmodel import select

    from ppu.core.clock import Clock
    from ppu.lab.spec import load_lab
    from ppu.runtime.runtime import running
    from ppu.store import Store
    from ppu.store.models import Measurement, Sample
    from simulators.world import Portion

    workdir.mkdir(parents=True, exist_ok=True)
    lab_file = workdir / "lab.toml"
    lab_file.write_text(
        LAB.format(rig_seed=rig_seed, gauge_seed=gauge_seed, p0_seed=gauge_seed + 500)
    )
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{workdir / 'ppu.sqlite'}")

    async def main() -> Run:
        async with running(load_lab(lab_file), clock, store, dry_run=True) as rt:
            rt.world.put("rack:S1", Portion("S1", mass_mg / 1e3, material))
            store.add_sample(
                Sample(
                    id="S1",
                    kind="activated",
                    mass_value=mass_mg,
                    mass_unit="mg",
                    location="rack:S1",
                )
            )
            t0, wall = clock.now(), time.perf_counter()
            outputs = await rt.launch(kernel, instrument="analyzer_1", sample="S1", **inputs)
            rig = rt.rigs["analyzer_1"]
            return Run(
                outputs,
                {},
                (clock.now() - t0) / 3600,
                time.perf_counter() - wall,
                rig.manifold_volume_ml,
                rig.gauge.gauges[0].gain,
            )

    try:
        run = clock.loop.run_until_complete(main())
        run.measurements = {m.name: m for m in store.session.exec(select(Measurement)).all()}
        return run
    finally:
        store.close()
        loop = clock.loop
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        clock.close()


@dataclass
class Accuracy:
    """Figures over many seeds of one sample."""

    name: str
    z: list[float] = field(default_factory=list)  # (measured − truth) / σ, every point
    sigma_015_pct: list[float] = field(default_factory=list)
    error_015_pct: list[float] = field(default_factory=list)
    z_015: list[float] = field(default_factory=list)
    virtual_h: list[float] = field(default_factory=list)
    volume_errors: list[float] = field(default_factory=list)  # truth: nominal/true − 1
    gain_errors: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    unsettled: int = 0

    def add(self, material: Any, run: Run) -> None:
        for name, m in run.measurements.items():
            if not name.startswith("uptake@"):
                continue
            prov = m.provenance
            truth = material.loading("CO2", prov["temperature_k"], prov["pressure_bar"] * 1e5)
            self.z.append((m.value - truth) / prov["sigma"])
            self.unsettled += not prov["equilibrated"]
        m = run.measurements["uptake_0p15bar"]
        truth = material.loading("CO2", 298.15, 0.15e5)
        self.sigma_015_pct.append(m.provenance["sigma"] / m.value * 100)
        self.error_015_pct.append((m.value / truth - 1) * 100)
        self.z_015.append((m.value - truth) / m.provenance["sigma"])
        self.virtual_h.append(run.virtual_h)
        self.volume_errors.append(25.0 / run.true_manifold_ml - 1)
        self.gain_errors.append(run.gauge_gain - 1)
        self.wall_s += run.wall_s

    def coverage(self, k: float = 1.0) -> float:
        return sum(abs(z) <= k for z in self.z) / len(self.z)

    def report(self) -> str:
        err = self.error_015_pct
        spread = statistics.stdev(err) if len(err) > 1 else float("nan")
        return "\n".join(
            [
                f"{self.name}: {len(self.virtual_h)} seeds, {len(self.z)} points "
                f"({self.unsettled} not equilibrated)",
                f"  within 1σ of the truth: {self.coverage(1) * 100:.0f} %   "
                f"within 2σ: {self.coverage(2) * 100:.0f} %   "
                f"median |z|: {statistics.median(abs(z) for z in self.z):.2f} (calibrated: 0.67)",
                f"  0.15 bar: median 1σ {statistics.median(self.sigma_015_pct):.2f} %, "
                f"mean error {statistics.mean(err):+.2f} % (spread {spread:.2f} %), "
                f"within 1σ {sum(abs(z) <= 1 for z in self.z_015)}/{len(self.z_015)}",
                f"  the seeds' calibration errors (truth): manifold volume rms "
                f"{_rms(self.volume_errors) * 100:.3f} % (±0.5 % rectangular: 0.289 %), "
                f"{sum(abs(v) <= 0.005 / 3**0.5 for v in self.volume_errors)}/"
                f"{len(self.volume_errors)} within 1σ; gauge gain rms "
                f"{_rms(self.gain_errors) * 100:.3f} % (±0.2 % rectangular: 0.115 %)",
                f"  virtual duration {statistics.mean(self.virtual_h):.2f} h per isotherm "
                f"({min(self.virtual_h):.2f}–{max(self.virtual_h):.2f}); wall "
                f"{self.wall_s:.1f} s in all, {self.wall_s / len(self.virtual_h):.2f} s each",
            ]
        )


def _rms(values: list[float]) -> float:
    return (sum(v * v for v in values) / len(values)) ** 0.5 if values else float("nan")


def sample_of(family: str) -> Any:
    """The noise-free product of the family's literature-like recipe, activated."""
    from simulators.materials import RECIPES, STANDARD_ACTIVATION, synthesize

    return synthesize(RECIPES[family], rng=None).activate(*STANDARD_ACTIVATION)


def isotherm_accuracy(family: str, seeds: int, workdir: Path, first_seed: int = 0) -> Accuracy:
    from protocols.sorption import measure_isotherm

    material = sample_of(family)
    acc = Accuracy(f"{family}-like, 50 mg, CO2 at 298.15 K")
    for s in range(first_seed, first_seed + seeds):
        run = run_kernel(
            material,
            measure_isotherm,
            rig_seed=s,
            gauge_seed=1000 + s,
            workdir=workdir / f"{family}-{s}",
            gas="CO2",
            temperature="298.15 K",
        )
        acc.add(material, run)
    return acc


def bet_accuracy(family: str, seeds: int, workdir: Path, correction: str) -> str:
    from protocols.sorption import measure_bet

    material = sample_of(family)
    truth = material.bet_area_m2_g
    lines, errors, low_z = [], [], []
    for s in range(seeds):
        run = run_kernel(
            material,
            measure_bet,
            rig_seed=s,
            gauge_seed=1000 + s,
            workdir=workdir / f"bet-{family}-{correction}-{s}",
            transpiration_correction=correction,
        )
        area = run.outputs["bet_area"].m_as("m^2/g")
        errors.append((area / truth - 1) * 100)
        for name, m in run.measurements.items():
            prov = m.provenance
            if name.startswith("uptake@") and prov["pressure_bar"] * 1e5 < 10.0:
                q = material.loading("N2", prov["temperature_k"], prov["pressure_bar"] * 1e5)
                low_z.append((m.value - q) / prov["sigma"])
        bet = run.measurements["bet_area"].provenance
        lines.append(
            f"  seed {s}: {area:.0f} m2/g vs truth {truth:.0f} ({errors[-1]:+.1f} %), range "
            f"p/p0 {bet['range_p_p0'][0]:.2g}–{bet['range_p_p0'][1]:.2g}, p0 "
            f"{bet['p0_bar'] * 100:.2f} kPa at {bet['temperature_k']:.2f} K, "
            f"{run.virtual_h:.1f} h virtual, {run.wall_s:.1f} s wall"
        )
    within = sum(abs(e) <= 3 for e in errors)
    largest = max(map(abs, errors))
    summary = f"  within 3 % of the true area: {within}/{len(errors)} (largest {largest:.1f} %)"
    if low_z:
        z1 = sum(abs(z) <= 1 for z in low_z)
        median = statistics.median(abs(z) for z in low_z)
        summary += f"; points below 10 Pa within 1σ: {z1}/{len(low_z)}, median |z| {median:.2f}"
    head = f"{family}-like BET (N2, 77 K), transpiration correction {correction}:"
    return "\n".join([head, *lines, summary])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--material", action="append", choices=("HKUST-1", "ZIF-8", "UiO-66"))
    ap.add_argument("--bet", action="store_true", help="also measure_bet on --bet-seeds seeds")
    ap.add_argument("--bet-seeds", type=int, default=3)
    ap.add_argument("--bet-only", action="store_true", help="measure_bet only")
    ap.add_argument("--transpiration-off", action="store_true", help="measure_bet without it too")
    args = ap.parse_args()
    families = args.material or ["HKUST-1", "ZIF-8"]
    with tempfile.TemporaryDirectory() as tmp:
        if not args.bet_only:
            for family in families:
                print(isotherm_accuracy(family, args.seeds, Path(tmp)).report(), flush=True)
        if args.bet or args.bet_only:
            corrections = ["weber-schmidt"] + (["none"] if args.transpiration_off else [])
            for family in families:
                for correction in corrections:
                    print(bet_accuracy(family, args.bet_seeds, Path(tmp), correction), flush=True)


if __name__ == "__main__":
    main()
