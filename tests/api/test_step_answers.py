"""`POST /api/steps/{id}/could_not`: a person's "could not do it" becomes a command for the
controller, with who and why, beside `/confirm`; the token is required."""

from __future__ import annotations

from sqlalchemy import update

from ppu.store.models import OperatorStepRecord
from tests.api.conftest import auth
from tests.api.test_control import change, commands_in


def test_a_waiting_step_answered_could_not_is_a_command_with_who_and_why(
    client, store_copy: str
) -> None:
    change(
        store_copy,
        update(OperatorStepRecord).where(OperatorStepRecord.id == 1).values(state="waiting"),
    )
    route = "/api/steps/1/could_not"
    assert client.post(route, json={"why": "no gloves"}).status_code == 401
    r = client.post(route, json={"why": "no gloves"}, headers=auth("Ada"))
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["kind"], body["target"], body["who"], body["argument"], body["state"]) == (
        "could_not",
        "1",
        "Ada",
        "no gloves",
        "pending",
    )
    (cmd,) = [c for c in commands_in(store_copy) if c.kind == "could_not"]
    assert cmd.campaign_id is not None and cmd.argument == "no gloves"
    # without a reason too; the audit lists both
    assert client.post(route, headers=auth("Bo")).json()["argument"] is None
    audit = client.get("/api/audit").json()
    assert [a["who"] for a in audit if a["kind"] == "could_not"] == ["Bo", "Ada"]


def test_could_not_is_refused_for_a_step_not_waiting_or_unknown(client) -> None:
    r = client.post("/api/steps/1/could_not", headers=auth())  # the demo's steps are done
    assert r.status_code == 409 and "already confirmed" in r.json()["detail"]
    assert client.post("/api/steps/99999/could_not", headers=auth()).status_code == 404
