"""The dashboard page in a real browser (Debian's chromium through Playwright)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from ppu.api.server import serve_in_thread
from ppu.store import Store
from ppu.store.models import Campaign, Launch, Measurement, OperatorStepRecord
from tests.api.conftest import CHROMIUM, CHROMIUM_ARGS, TOKEN
from tests.api.test_control import change, commands_in

LIVE_MS = 10_000  # a bound for the page to follow the store (the benchmark measures how fast)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_default_timeout(5000)
            yield page, errors
        finally:
            browser.close()


def test_dashboard_shows_the_run_and_a_hold_reaches_the_audit(
    browser_page, store_copy: str, demo_campaign: str, tmp_path: Path
):
    page, errors = browser_page
    url = store_copy
    with serve_in_thread(url, TOKEN, "127.0.0.1", 0) as server:
        import httpx

        api = httpx.Client(base_url=server.url, timeout=5)
        timeline = api.get(f"/api/campaigns/{demo_campaign}/timeline").json()
        isotherms = api.get(f"/api/campaigns/{demo_campaign}/isotherms?latest=4").json()
        instruments = [i["name"] for i in api.get("/api/instruments").json()]
        experiments = api.get(f"/api/campaigns/{demo_campaign}/experiments").json()

        page.goto(f"{server.url}/")
        page.wait_for_selector("#live.on")
        page.wait_for_function(
            "n => document.querySelectorAll('#timeline .barlayer .point').length === n",
            arg=len(timeline["bars"]),
        )
        cards = page.locator("#instruments .instrument")
        page.wait_for_function(
            "n => document.querySelectorAll('#instruments .instrument').length === n",
            arg=len(instruments),
        )
        assert cards.evaluate_all("els => els.map(e => e.dataset.name)") == instruments
        # a finished campaign: said so, its summary shown, nothing left to steer
        assert page.locator("#campaign-state").inner_text().startswith("done at ")
        assert "is done" in page.locator("#banner").inner_text()
        page.wait_for_selector("#summary")
        for button in page.locator("header button[data-scope=campaign]").all():
            assert button.is_disabled()
        assert page.locator("#instruments button[data-action]").count() == 0
        n_points = sum(len(i["points"]) for i in isotherms)
        page.wait_for_function(
            "n => document.querySelectorAll('#isotherms .scatterlayer .point').length === n",
            arg=n_points,
        )
        assert page.locator("#isotherms .scatterlayer .trace").count() == len(isotherms) == 4
        assert page.locator("#experiments tr[data-experiment]").count() == len(experiments) == 2
        assert page.locator("#experiments tr.best").count() == 1
        assert page.locator("#samples [data-sample]").count() == len(api.get("/api/samples").json())

        # mid-campaign again (as the runtime would have it): controls come on
        change(store_copy, update(Campaign).values(state="running", virtual_t=timeline["now_v_s"]))
        page.reload()
        page.wait_for_selector("#live.on")
        page.wait_for_function(
            "() => !document.querySelector('header button[data-action=pause]').disabled"
        )
        assert page.locator("header button[data-action=resume]").is_disabled()
        assert page.locator("#banner").is_hidden()

        # hold an instrument: the page asks the person to sign in once, then it is audited
        page.locator(
            '#instruments .instrument[data-name="analyzer_2"] button[data-action="hold"]'
        ).click()
        page.wait_for_selector("#login-dialog[open]")
        page.fill("#login-token", "not the token")
        page.fill("#login-name", "Playwright")
        page.click("#login-ok")
        page.wait_for_selector("#login-error:not([hidden])")
        page.fill("#login-token", TOKEN)
        page.click("#login-ok")
        entry = page.locator("#audit li[data-command]").first
        entry.wait_for()
        assert "held analyzer_2" in entry.inner_text() and "Playwright" in entry.inner_text()
        rows = commands_in(store_copy)
        assert [(c.kind, c.target, c.who, c.state) for c in rows] == [
            ("hold", "analyzer_2", "Playwright", "pending")
        ]
        # signed in by an HttpOnly, SameSite=Strict cookie: the token is kept nowhere the
        # page's scripts can read, and in no URL
        (cookie,) = [c for c in page.context.cookies() if c["name"].startswith("ppu_session_")]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert TOKEN not in page.evaluate("document.cookie + JSON.stringify(sessionStorage)")
        assert page.locator("#sign-in").inner_text() == "Playwright · sign out"

        # a manual step that could not be done: said so with a reason, and audited
        change(
            store_copy,
            insert(OperatorStepRecord).values(
                campaign_id=demo_campaign,
                instrument="oven",
                text="Put the sample in the oven",
                state="waiting",
                created_v=timeline["now_v_s"],
                created_wall=time.time(),
            ),
        )
        step = page.locator("#steps li[data-step]").first
        step.wait_for(timeout=LIVE_MS)
        page.wait_for_function("() => document.title.startsWith('(1) ppu')")
        step.locator("button[data-action=could-not]").click()
        page.wait_for_selector("#reason-dialog[open]")
        page.fill("#reason-input", "the oven door is jammed")
        page.click("#reason-ok")
        page.wait_for_function(
            "() => document.querySelector('#audit li[data-command]').textContent"
            ".includes('could not do step')"
        )
        last = commands_in(store_copy)[-1]
        assert (last.kind, last.who, last.argument) == (
            "could_not",
            "Playwright",
            "the oven door is jammed",
        )

        # rows written now by another writer show up without a reload
        writer = Store(url, create=False)
        try:
            bars_before = int(page.locator("#timeline").get_attribute("data-bars") or 0)
            launch = writer.add_launch(
                Launch(
                    campaign_id=demo_campaign,
                    kernel="measure_isotherm",
                    instrument="analyzer_2",
                    inputs={"gas": "CO2", "temperature": {"value": 298.15, "unit": "K"}},
                ),
                timeline["now_v_s"],
            )
            writer.journal(
                launch,
                "running",
                timeline["now_v_s"],
                started_v=timeline["now_v_s"],
                expected_s=7200.0,
            )
            page.wait_for_function(
                "n => document.querySelector('#timeline').dataset.bars == n",
                arg=bars_before + 1,
                timeout=LIVE_MS,
            )
            # the Now panel shows it with its progress against its expected 2 h
            progress = page.locator(f"#now [data-progress='{launch.id}']")
            progress.wait_for(timeout=LIVE_MS)
            assert " of 2.0 h, ends ~" in progress.inner_text()
            for i, p in enumerate((0.05, 0.15, 0.5)):  # points arrive one by one
                change(
                    store_copy,
                    insert(Measurement).values(
                        launch_id=launch.id,
                        name=f"uptake@{p}bar",
                        value=1.0 + i,
                        unit="mmol/g",
                        virtual_t=timeline["now_v_s"] + 60 * i,
                        wall_t=time.time(),
                        provenance={"pressure_bar": p, "gas": "CO2", "point": i + 1},
                    ),
                )
            page.wait_for_function(
                "id => { const el = document.querySelector('#isotherms');"
                " const t = (el.data || []).find(t => t.customdata && t.customdata[0] === id);"
                " return t && t.x.length === 3; }",
                arg=launch.id,
                timeout=LIVE_MS,
            )
        finally:
            writer.close()

        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    assert errors == []


def test_the_page_says_when_the_server_is_gone_and_comes_back_with_it(
    browser_page, demo_sqlite: dict, tmp_path: Path
):
    """The server stops (a restart, a crash): the page says so, turns its controls off and
    keeps what it showed; the server back on its port, the page follows it again by itself,
    and a person signed in before is asked again (sessions live in the server's memory)."""
    page, errors = browser_page
    url = demo_sqlite["copy"](tmp_path)
    change(url, update(Campaign).values(state="running"))
    first = serve_in_thread(url, TOKEN, "127.0.0.1", 0)
    port = int(first.url.rsplit(":", 1)[1])
    try:
        page.goto(f"{first.url}/")
        page.wait_for_selector("#live.on")
        page.click("#sign-in")
        page.fill("#login-token", TOKEN)
        page.fill("#login-name", "Playwright")
        page.click("#login-ok")
        # signed in: the dialog closed on the server's answer (stopping the server before it
        # answers would leave the dialog open, saying the server does not answer)
        page.wait_for_selector("#login-dialog:not([open])", state="attached", timeout=LIVE_MS)
        page.wait_for_function(
            "() => !document.querySelector('header button[data-action=pause]').disabled"
        )
    finally:
        first.stop()
    page.wait_for_selector("#banner:not([hidden])", timeout=LIVE_MS)
    assert "The server does not answer" in page.locator("#banner").inner_text()
    page.wait_for_function(
        "() => document.querySelector('header button[data-action=pause]').disabled"
    )
    assert page.locator("#experiments tr[data-experiment]").count() == 2  # still shown
    with serve_in_thread(url, TOKEN, "127.0.0.1", port):
        page.wait_for_selector("#live.on", timeout=30_000)
        page.wait_for_selector("#banner[hidden]", state="attached", timeout=LIVE_MS)
        # the new server knows no session: the page says so instead of acting on a dead one
        page.locator("#instruments .instrument[data-name='oven'] button[data-action=hold]").click()
        page.wait_for_selector("#login-dialog[open]", timeout=LIVE_MS)
        assert page.locator("#campaign-state").inner_text() == "running"
    assert errors == []
