"""The published JSON Schemas are what the loaders check, and the example files meet them."""

from __future__ import annotations

import json
import tomllib

import jsonschema
import pytest

from ppu.cli.file_schema import json_schema
from tests.conftest import ROOT

FILES = {
    "campaign": ["protocols/demo/campaign.toml", "tests/plugin_lab/campaign.toml"],
    "lab": [
        "protocols/demo/lab.toml",
        "protocols/examples/bench.toml",
        "tests/plugin_lab/lab.toml",
        "protocols/examples/gas_bench.toml",
    ],
}


@pytest.mark.parametrize("kind", sorted(FILES))
def test_the_schema_in_docs_is_the_one_ppu_schema_prints(kind: str) -> None:
    published = json.loads((ROOT / "docs" / "schema" / f"{kind}.schema.json").read_text())
    assert published == json_schema(kind), (
        f"run: ppu schema {kind} > docs/schema/{kind}.schema.json"
    )


@pytest.mark.parametrize(("kind", "path"), [(k, p) for k, ps in FILES.items() for p in ps])
def test_the_example_files_meet_their_schema(kind: str, path: str) -> None:
    jsonschema.validate(tomllib.loads((ROOT / path).read_text()), json_schema(kind))


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    raw = tomllib.loads((ROOT / "protocols/demo/campaign.toml").read_text())
    raw["campaign"]["approval"] = "no"
    with pytest.raises(jsonschema.ValidationError, match="'no' is not of type 'boolean'"):
        jsonschema.validate(raw, json_schema("campaign"))
    raw["campaign"]["approval"] = False
    raw["campaign"]["batchsize"] = 2
    with pytest.raises(jsonschema.ValidationError, match="batchsize"):
        jsonschema.validate(raw, json_schema("campaign"))
