"""The planner engines ppu ships: a plugin module like any other (entry point `ppu.plugins`
→ `planner.engines`). Named by path so torch loads only when a model is first fitted."""

from __future__ import annotations

from ppu.core.catalog import PlannerEngine

BOTORCH = PlannerEngine(
    "botorch",
    "planner.botorch_engine:BoTorchPlanner",
    doc="BoTorch: qLogEI (one objective) or qLogNEHVI (several), a Sobol start",
)
SOBOL = PlannerEngine(
    "sobol", "planner.sobol:SobolPlanner", doc="scrambled Sobol points, centre first"
)
RANDOM = PlannerEngine("random", "planner.sobol:RandomPlanner", doc="uniform random points")
MULTI_FIDELITY = PlannerEngine(
    "multifidelity",
    "planner.multi_fidelity:MultiFidelityPlanner",
    doc="a computed twin screens, the lab measures: qLogNEI on twin-mean GP (one objective)",
)

BUILT_IN: dict[str, PlannerEngine] = {e.name: e for e in (BOTORCH, SOBOL, RANDOM, MULTI_FIDELITY)}
