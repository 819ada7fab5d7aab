"""The demo's digital twin: a computed kernel that estimates what the lab would measure.

A plugin like any other (entry point `ppu.plugins` → `protocols.twin`)."""

from protocols.twin.estimate import MODEL, VERSION, Estimate, estimate_uptake
from protocols.twin.kernels import COST_S, estimate_co2_uptake

__all__ = ["COST_S", "MODEL", "VERSION", "Estimate", "estimate_co2_uptake", "estimate_uptake"]
