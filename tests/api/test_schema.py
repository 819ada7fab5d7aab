"""Property-based: schemathesis sends generated requests to every operation of the OpenAPI spec
(the event stream excluded) and checks no reply is a server error and each matches the spec."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from ppu.api.app import create_app  # noqa: E402
from tests.api.conftest import TOKEN  # noqa: E402

# The spec is read at collection; the store behind the app is filled before the first call
# (the engine opens the file lazily).
STORE = Path(tempfile.mkdtemp(prefix="ppu-schema-")) / "ppu.sqlite"
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(f"sqlite:///{STORE}", TOKEN)
).exclude(path="/api/stream")


@pytest.fixture(scope="module", autouse=True)
def _filled_store(demo_sqlite: dict):
    shutil.copy(demo_sqlite["db"].removeprefix("sqlite:///"), STORE)
    yield
    shutil.rmtree(STORE.parent, ignore_errors=True)


# One test per operation, named by it: schemathesis's own `parametrize` gives every operation
# the same test id, which pytest-xdist runs as one.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors_and_replies_match_the_spec(operation) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def replies_match(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

    replies_match()
