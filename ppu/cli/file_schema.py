"""The JSON Schema of the user's files, from the pydantic models that check them, so an
editor can complete and flag a lab or campaign file as ppu itself would."""

from __future__ import annotations

from typing import Any

from ppu.core.errors import BadInput

SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"


def json_schema(kind: str) -> dict[str, Any]:
    if kind == "campaign":
        from ppu.campaign.file import CampaignFile as model
    elif kind == "lab":
        from ppu.lab.spec import LabFile as model
    else:
        raise BadInput("schema", f"'{kind}' is not campaign or lab")
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": SCHEMA_URL,
        "$id": f"ppu/{kind}.schema.json",
        **schema,
        "title": f"ppu {kind} file (TOML)",
    }
