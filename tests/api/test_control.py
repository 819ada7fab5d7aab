"""Control through the API: the token is required, each action becomes a Command row for the
runtime, and the audit shows who asked for what."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from ppu.store.models import Command, Experiment, Launch, OperatorStepRecord
from ppu.store.store import make_engine
from tests.api.conftest import TOKEN, auth


def commands_in(db: str) -> list[Command]:
    engine = make_engine(db)
    try:
        with Session(engine) as s:
            return list(s.exec(select(Command).order_by(Command.id)).all())  # type: ignore[arg-type]
    finally:
        engine.dispose()


def change(db: str, statement) -> None:
    """What the runtime would have written mid-campaign (the demo store is a finished one)."""
    engine = make_engine(db)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def control_routes(campaign: str) -> list[str]:
    return [
        f"/api/campaigns/{campaign}/pause",
        f"/api/campaigns/{campaign}/resume",
        f"/api/campaigns/{campaign}/abort",
        "/api/instruments/oven/hold",
        "/api/instruments/oven/release",
        "/api/suggestions/1/approve",
        "/api/suggestions/1/reject",
        "/api/steps/1/confirm",
    ]


def test_control_without_the_token_is_401_and_does_nothing(client, store_copy, demo_campaign):
    for path in control_routes(demo_campaign):
        r = client.post(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
        assert client.post(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert commands_in(store_copy) == []
    assert client.get("/api/audit").json() == []


def test_hold_with_the_token_queues_a_command_and_the_audit_shows_it(client, store_copy):
    r = client.post("/api/instruments/analyzer_1/hold", headers=auth("Ada"))
    assert r.status_code == 202
    body = r.json()
    assert (body["kind"], body["target"], body["who"], body["state"]) == (
        "hold",
        "analyzer_1",
        "Ada",
        "pending",
    )
    r2 = client.post("/api/instruments/analyzer_1/release", headers=auth())
    assert r2.status_code == 202 and r2.json()["who"] == "token holder"

    rows = commands_in(store_copy)
    assert [(c.kind, c.target, c.who, c.state) for c in rows] == [
        ("hold", "analyzer_1", "Ada", "pending"),
        ("release", "analyzer_1", "token holder", "pending"),
    ]
    assert rows[0].created_wall <= rows[1].created_wall and rows[0].campaign_id
    audit = client.get("/api/audit").json()
    assert [(a["id"], a["kind"], a["who"]) for a in audit] == [
        (rows[1].id, "release", "token holder"),
        (rows[0].id, "hold", "Ada"),
    ]
    assert client.get(f"/api/commands/{rows[0].id}").json()["target"] == "analyzer_1"


def test_targets_must_exist_and_be_in_a_state_that_fits(client, store_copy, demo_campaign):
    h = auth()
    assert client.post("/api/instruments/no_such_thing/hold", headers=h).status_code == 404
    assert client.post("/api/campaigns/nope/pause", headers=h).status_code == 404
    assert client.post("/api/suggestions/999/approve", headers=h).status_code == 404
    assert client.post("/api/steps/99999/confirm", headers=h).status_code == 404
    assert client.post("/api/suggestions/x/approve", headers=h).status_code == 422
    # the demo campaign is over: nothing to pause; its experiments were never awaiting approval
    r = client.post(f"/api/campaigns/{demo_campaign}/pause", headers=h)
    assert r.status_code == 409 and "done" in r.json()["detail"]
    assert client.post("/api/suggestions/1/approve", headers=h).status_code == 409
    assert (
        client.post("/api/launches/1/resolve", headers=h, json={"outcome": "done"}).status_code
        == 409
    )
    assert commands_in(store_copy) == []


def test_a_confirmed_step_cannot_be_confirmed_again(client, store_copy):
    steps = client.get("/api/steps").json()
    if not steps:
        pytest.skip("this runtime writes no operator steps yet")
    assert all(s["state"] == "confirmed" for s in steps)  # the simulated operator did them all
    r = client.post(f"/api/steps/{steps[0]['id']}/confirm", headers=auth())
    assert r.status_code == 409 and "already confirmed" in r.json()["detail"]
    change(
        store_copy,
        update(OperatorStepRecord)
        .where(OperatorStepRecord.id == steps[0]["id"])  # type: ignore[arg-type]
        .values(state="waiting", confirmed_wall=None, confirmed_by=None),
    )
    waiting = client.get("/api/steps?state=waiting").json()
    assert [s["id"] for s in waiting] == [steps[0]["id"]]
    r = client.post(f"/api/steps/{steps[0]['id']}/confirm", headers=auth("Grace"))
    assert r.status_code == 202
    assert [(c.kind, c.target, c.who) for c in commands_in(store_copy)] == [
        ("confirm", str(steps[0]["id"]), "Grace")
    ]


def test_approving_and_resolving_mid_campaign(client, store_copy, demo_campaign):
    change(
        store_copy,
        update(Experiment).where(Experiment.number == 2).values(status="awaiting_approval"),  # type: ignore[arg-type]
    )
    change(store_copy, update(Launch).where(Launch.id == 3).values(state="held"))  # type: ignore[arg-type]
    pending = client.get(f"/api/suggestions?campaign={demo_campaign}&status=awaiting_approval")
    (e,) = pending.json()
    assert e["pending_approval"] and e["number"] == 2
    assert client.post(f"/api/suggestions/{e['id']}/approve", headers=auth()).status_code == 202
    assert client.post(f"/api/suggestions/{e['id']}/reject", headers=auth()).status_code == 202
    bad = client.post("/api/launches/3/resolve", headers=auth(), json={"outcome": "maybe"})
    assert bad.status_code == 422
    assert (
        client.post(
            "/api/launches/3/resolve", headers=auth(), json={"outcome": "rerun"}
        ).status_code
        == 202
    )
    assert [(c.kind, c.target, c.argument, c.campaign_id) for c in commands_in(store_copy)] == [
        ("approve", str(e["id"]), None, demo_campaign),
        ("reject", str(e["id"]), None, demo_campaign),
        ("resolve", "3", "rerun", demo_campaign),
    ]


def test_a_launch_whose_controller_is_gone_awaits_a_decision_and_can_be_resolved(
    client, store_copy, demo_campaign
):
    """A synthesis left `running` by a controller that died shows as awaiting a person's
    word (the dashboard offers done/failed/rerun), before any resume has held it."""
    change(store_copy, update(Launch).where(Launch.id == 1).values(state="running"))  # type: ignore[arg-type]
    one = client.get("/api/launches/1").json()
    assert one["kernel"] == "synthesize" and not one["rerun_safe"]
    assert one["awaits_decision"] is True
    done = client.get(f"/api/launches?campaign={demo_campaign}&state=done").json()
    assert done and not any(x["awaits_decision"] for x in done)
    r = client.post("/api/launches/1/resolve", headers=auth(), json={"outcome": "failed"})
    assert r.status_code == 202
    again = client.post("/api/launches/1/resolve", headers=auth(), json={"outcome": "done"})
    assert again.status_code == 409 and "already resolved as failed" in again.json()["detail"]


def test_a_signed_in_page_holds_as_the_person_with_no_token_sent(client, store_copy):
    assert client.post("/api/login", json={"token": "nope", "operator": "Ada"}).status_code == 401
    assert client.post("/api/instruments/oven/hold").status_code == 401
    client.post("/api/login", json={"token": TOKEN, "operator": "Ada Lovelace"})
    r = client.post("/api/instruments/oven/hold")
    assert r.status_code == 202 and r.json()["who"] == "Ada Lovelace"
    # the name comes from the session, not from a header another script could set
    r = client.post("/api/instruments/oven/release", headers={"X-Operator": "Mallory"})
    assert r.status_code == 202 and r.json()["who"] == "Ada Lovelace"
    assert [(c.kind, c.who) for c in commands_in(store_copy)] == [
        ("hold", "Ada Lovelace"),
        ("release", "Ada Lovelace"),
    ]
