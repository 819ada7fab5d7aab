"""Values as the API sends them: non-finite numbers become None (JSON has no NaN), a quantity
is {value, unit}."""

from __future__ import annotations

import math
import re
from typing import Any

TERMINAL_CAMPAIGN = ("done", "aborted", "failed", "abandoned")
ISOTHERM_POINTS = ("uptake@", "uptake_des@")  # adsorption and desorption branches
PRESSURE_IN_NAME = re.compile(r"uptake(?:_des)?@([0-9.eE+-]+)\s*bar")


def finite(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def clean(obj: Any) -> Any:
    """A JSON-safe copy: NaN and infinities become None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    return obj


def quantity(value: Any, unit: str | None) -> dict[str, Any]:
    return {"value": finite(value), "unit": unit or ""}
