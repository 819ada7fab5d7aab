"""The JSON API over a store a real dry-run wrote: what a dashboard user reads."""

from __future__ import annotations

import itertools
import tomllib

from tests.api.conftest import LOCAL, TOKEN
from tests.conftest import ROOT

DEMO_LAB = ROOT / "protocols" / "demo" / "lab.toml"


def test_campaign_matches_what_the_run_reported(read_client, demo_run, demo_campaign):
    summary = demo_run["summary"]
    listed = read_client.get("/api/campaigns").json()
    assert [c["id"] for c in listed] == [demo_campaign]
    c = read_client.get(f"/api/campaigns/{demo_campaign}").json()
    assert c["state"] == "done"
    assert sum(c["experiments"].values()) == summary["experiments"] == 2
    assert c["experiments"].get("COMPLETED", 0) == summary["completed"]
    assert c["objectives"] == [{"name": "co2_uptake", "unit": "mmol/g", "maximize": True}]
    assert abs(c["virtual_t_s"] - summary["virtual_duration_s"]) < 1.0


def test_instruments_are_the_lab_files_with_busy_time_from_launches(read_client, demo_campaign):
    lab = tomllib.loads(DEMO_LAB.read_text())["instruments"]
    got = read_client.get("/api/instruments").json()
    assert [i["name"] for i in got] == list(lab)
    assert {i["name"]: i["roles"] for i in got} == {n: s["roles"] for n, s in lab.items()}
    launches = read_client.get(f"/api/launches?campaign={demo_campaign}").json()
    now = read_client.get(f"/api/campaigns/{demo_campaign}").json()["virtual_t_s"]
    for inst in got:
        assert inst["state"] in ("ready", "busy", "held", "quarantined", "offline")
        assert 0 <= inst["busy_s"] <= now + 1e-6
        if inst["source"] == "launches":  # no word from the runtime: inferred from launches
            mine = [x for x in launches if x["instrument"] == inst["name"]]
            expected = sum(x["ended_v_s"] - x["started_v_s"] for x in mine)
            assert abs(inst["busy_s"] - expected) < 1e-6, inst["name"]
            assert inst["state"] == "offline"  # the campaign is over, nobody drives the lab
    assert next(i for i in got if i["name"] == "synthesis")["busy_s"] > 3600


def test_samples_carry_their_lineage(read_client, demo_campaign):
    samples = {s["id"]: s for s in read_client.get(f"/api/samples?campaign={demo_campaign}").json()}
    activated = [s for s in samples.values() if s["kind"] == "activated"]
    assert len(activated) == 2
    for s in activated:
        (parent,) = s["parents"]
        assert samples[parent]["kind"] == "as-synthesized"
        assert s["id"] in samples[parent]["children"]
        assert s["mass"]["unit"] == "mg" and s["mass"]["value"] > 0
        lineage = read_client.get(f"/api/samples/{s['id']}").json()
        assert [a["id"] for a in lineage["ancestors"]] == [parent]
        back = read_client.get(f"/api/samples/{parent}").json()
        assert [d["id"] for d in back["descendants"]] == [s["id"]]


def test_measurements_come_with_units_and_filters(read_client, demo_campaign):
    everything = read_client.get(f"/api/measurements?campaign={demo_campaign}").json()
    assert len(everything) > 20
    assert all(isinstance(m["quantity"]["unit"], str) for m in everything)
    uptakes = [m for m in everything if m["name"] == "co2_uptake"]
    assert len(uptakes) == 2 and {m["quantity"]["unit"] for m in uptakes} == {"mmol/g"}
    points = read_client.get("/api/measurements?name=uptake@").json()
    assert points and all(m["name"].startswith("uptake@") for m in points)
    assert {m["quantity"]["unit"] for m in points} == {"mmol/g"}
    after = points[-2]["id"]
    assert [m["id"] for m in read_client.get(f"/api/measurements?after={after}").json()] == [
        m["id"] for m in everything if m["id"] > after
    ]


def test_suggestions_show_provenance_and_outcome(read_client, demo_run, demo_campaign):
    got = read_client.get(f"/api/suggestions?campaign={demo_campaign}").json()
    assert [e["number"] for e in got] == [1, 2]
    for e in got:
        assert e["status"] == "COMPLETED" and not e["pending_approval"]
        assert e["params"]["temperature"]["unit"] == "degC"
        assert e["suggestion"]["engine"]
        assert e["objectives"]["co2_uptake"]["unit"] == "mmol/g"
    best = max(got, key=lambda e: e["objectives"]["co2_uptake"]["value"])
    assert best["number"] == demo_run["summary"]["best"]["experiment"]
    assert read_client.get("/api/suggestions?status=awaiting_approval").json() == []


def test_timeline_has_one_kernel_at_a_time_per_instrument(read_client, demo_campaign):
    t = read_client.get(f"/api/campaigns/{demo_campaign}/timeline").json()
    assert t["bars"], "nothing on the timeline"
    for name in t["instruments"]:
        bars = sorted(
            (b for b in t["bars"] if b["instrument"] == name), key=lambda b: b["start_v_s"]
        )
        for a, b in itertools.pairwise(bars):
            assert a["end_v_s"] <= b["start_v_s"] + 1e-6, (name, a, b)
    assert all(b["end_v_s"] <= t["now_v_s"] + 1e-6 for b in t["bars"])
    assert {b["kernel"] for b in t["bars"]} >= {
        "synthesize",
        "activate",
        "weigh",
        "measure_isotherm",
    }


def test_isotherms_plot_pressure_from_provenance_against_uptake(read_client, demo_campaign):
    isos = read_client.get(f"/api/campaigns/{demo_campaign}/isotherms?latest=4").json()
    assert len(isos) == 4
    assert sorted(i["gas"] for i in isos) == ["CO2", "CO2", "N2", "N2"]
    for iso in isos:
        assert len(iso["points"]) >= 5
        for p in iso["points"]:
            assert p["pressure"]["unit"] == "bar" and 0 < p["pressure"]["value"] <= 1.05
            assert p["uptake"]["unit"] == "mmol/g"
        raw = read_client.get(f"/api/measurements?launch={iso['launch_id']}&name=uptake@").json()
        assert [p["pressure"]["value"] for p in iso["points"]] == [
            m["provenance"]["pressure_bar"] for m in raw
        ]
    # physics the page shows: each sample takes up more CO2 than N2 at the top of the isotherm
    by_sample: dict[str, dict[str, float]] = {}
    for iso in isos:
        top = max(iso["points"], key=lambda p: p["pressure"]["value"])
        by_sample.setdefault(iso["sample_id"], {})[iso["gas"]] = top["uptake"]["value"]
    assert all(v["CO2"] > v["N2"] for v in by_sample.values())
    assert len(read_client.get(f"/api/campaigns/{demo_campaign}/isotherms?latest=1").json()) == 1


def test_progress_is_best_so_far(read_client, demo_campaign):
    p = read_client.get(f"/api/campaigns/{demo_campaign}/progress").json()
    values = [x["objectives"]["co2_uptake"] for x in p["points"]]
    best = [x["best_so_far"]["co2_uptake"] for x in p["points"]]
    assert best == [max(values[: i + 1]) for i in range(len(values))]
    assert p["pareto"] == []  # one objective: no front


def test_unknown_targets_are_404_and_bad_ids_422(read_client):
    assert read_client.get("/api/campaigns/nope").status_code == 404
    assert read_client.get("/api/campaigns/nope/timeline").status_code == 404
    assert read_client.get("/api/launches/99999").status_code == 404
    assert read_client.get("/api/samples/nope").status_code == 404
    assert read_client.get("/api/suggestions/abc").status_code == 422
    assert read_client.get("/api/launches?limit=0").status_code == 422


def test_reads_need_the_token_when_not_on_loopback(demo_db):
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(demo_db, TOKEN, open_reads=False), base_url=LOCAL) as c:
        assert c.get("/api/campaigns").status_code == 401
        assert c.get("/api/campaigns", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/campaigns", headers={"Authorization": f"Bearer {TOKEN}"}).is_success
        # a token in a URL ends up in logs and histories: it is not taken
        assert c.get(f"/api/campaigns?token={TOKEN}").status_code == 401
        assert c.get(f"/api/stream?token={TOKEN}").status_code == 401
        assert c.get("/").is_success  # the page itself, so one can sign in


def test_open_reads_are_for_pages_asking_by_a_loopback_name(demo_db):
    """A page from another site whose name was made to point at 127.0.0.1 (DNS rebinding)
    asks by that name: it reads nothing."""
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    app = create_app(demo_db, TOKEN)
    for base, ok in (
        ("http://127.0.0.1:8765", True),
        ("http://localhost", True),
        ("http://[::1]:8765", True),
        ("http://evil.example", False),
        ("http://127.0.0.1.evil.example:8765", False),
    ):
        with TestClient(app, base_url=base) as c:
            assert c.get("/api/campaigns").is_success is ok, base
            assert c.get("/").is_success  # the page itself; it reads nothing alone


def test_signing_in_sets_a_strict_http_only_cookie_that_reads_and_acts_as_the_person(
    demo_db, tmp_path
):
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(demo_db, TOKEN, open_reads=False), base_url=LOCAL) as c:
        wrong = c.post("/api/login", json={"token": "guess", "operator": "Eve"})
        assert wrong.status_code == 401 and not wrong.cookies
        assert c.get("/api/whoami").json() == {"signed_in": False, "operator": None}
        r = c.post("/api/login", json={"token": TOKEN, "operator": "Ada"})
        assert r.json() == {"signed_in": True, "operator": "Ada"}
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("ppu_session_80=")  # one per port
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert TOKEN not in cookie
        assert c.get("/api/whoami").json() == {"signed_in": True, "operator": "Ada"}
        assert c.get("/api/campaigns").is_success  # reads with the cookie alone
        (cid,) = [x["id"] for x in c.get("/api/campaigns").json()][:1]
        # control from another site's page, riding on the cookie, is refused
        other = c.post(f"/api/campaigns/{cid}/pause", headers={"Origin": "http://evil.example"})
        assert other.status_code == 403, other.text
        c.post("/api/logout")
        assert c.get("/api/campaigns").status_code == 401
        assert c.get("/api/whoami").json()["signed_in"] is False


def test_the_page_and_its_files_are_served_locally(read_client):
    html = read_client.get("/").text
    assert "/static/app.js" in html and "/static/vendor/plotly-basic.min.js" in html
    for name in ("app.js", "style.css", "vendor/plotly-basic.min.js"):
        r = read_client.get(f"/static/{name}")
        assert r.status_code == 200 and len(r.text) > 500
    assert "http" not in html.replace("http-equiv", "")  # nothing from a CDN
    spec = read_client.get("/openapi.json").json()
    assert "/api/instruments/{name}/hold" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
