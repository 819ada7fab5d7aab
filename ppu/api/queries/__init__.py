"""Plain reads over the store, one function per question the dashboard asks.

Each takes a SQLModel session and returns plain dicts shaped like the models in
`ppu.api.models`, so the routes stay thin and the same reads serve the page, the JSON API and
the live stream. Values that are not finite become None (JSON has no NaN).

One module per resource (campaigns, launches, instruments, samples, measurements,
suggestions, control), the page's views, and the stream's cursor; all re-exported here.
"""

from __future__ import annotations

from ppu.api.queries.campaigns import campaign, campaigns, latest_campaign_id, objectives_of
from ppu.api.queries.consumables import consumables
from ppu.api.queries.control import add_command, audit, command_out, step_out, steps
from ppu.api.queries.experiments import experiments
from ppu.api.queries.instruments import (
    instrument_campaign,
    instrument_names,
    instruments,
    lab_instruments,
)
from ppu.api.queries.launches import launch, launch_out, launches
from ppu.api.queries.measurements import measurement_out, measurements
from ppu.api.queries.queue import queue
from ppu.api.queries.samples import sample_lineage, samples
from ppu.api.queries.stream import Follower
from ppu.api.queries.suggestions import suggestion, suggestion_out, suggestions
from ppu.api.queries.utilisation import utilisation
from ppu.api.queries.values import ISOTHERM_POINTS, TERMINAL_CAMPAIGN, clean, finite, quantity
from ppu.api.queries.views import isotherms, pareto_front, progress, timeline

__all__ = [
    "ISOTHERM_POINTS",
    "TERMINAL_CAMPAIGN",
    "Follower",
    "add_command",
    "audit",
    "campaign",
    "campaigns",
    "clean",
    "command_out",
    "consumables",
    "experiments",
    "finite",
    "instrument_campaign",
    "instrument_names",
    "instruments",
    "isotherms",
    "lab_instruments",
    "latest_campaign_id",
    "launch",
    "launch_out",
    "launches",
    "measurement_out",
    "measurements",
    "objectives_of",
    "pareto_front",
    "progress",
    "quantity",
    "queue",
    "sample_lineage",
    "samples",
    "step_out",
    "steps",
    "suggestion",
    "suggestion_out",
    "suggestions",
    "timeline",
    "utilisation",
]
