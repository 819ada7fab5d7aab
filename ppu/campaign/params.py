"""A campaign parameter between its two forms: the planner's float in the parameter's unit
(or a category name), and the stored JSON with its unit (`{"value": 150.0, "unit": "degC"}`)."""

from __future__ import annotations

from typing import Any

from ppu.campaign.file import CampaignSpec
from ppu.core.units import Q_, to_json


def params_from_json(spec: CampaignSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `params_to_json`: floats in each parameter's unit, or category names."""
    out: dict[str, Any] = {}
    for name, v in params.items():
        p = spec.params[name]
        out[name] = v if p.categorical else float(Q_(v["value"], v["unit"]).m_as(p.unit))
    return out


def params_to_json(spec: CampaignSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Stored form: a quantity `{value, unit}` in each parameter's unit, or a category name."""
    out: dict[str, Any] = {}
    for name, v in params.items():
        p = spec.params[name]
        out[name] = v if p.categorical else to_json(Q_(float(v), p.unit))
    return out
