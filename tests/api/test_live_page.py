"""The dashboard during a live, paced dry-run (a real `ppu run --serve` process), in chromium,
followed to the campaign's end and after it.

A person signs in, approves the planner's proposal (the card says why the planner chose it),
pauses and resumes the campaign, confirms the manual steps before the simulated chemist
would, watches the lab clock and a running launch's progress move between the store's
events, follows an experiment from its table row to its isotherms, zooms the timeline, and
sees the campaign end: the page says so, shows the summary, and turns its controls off,
while the server stays up. Every action goes through the page; the runtime's records say so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.campaign_files import demo_campaign, until

ROOT = Path(__file__).resolve().parents[2]
PPU = Path(sys.executable).with_name("ppu")
TOKEN = "live-page-token-7d2e"
OPERATOR = "Playwright"
# 5000 lab s per real s: synthesis (~3 h of lab time), activation, weighing and the CO2
# isotherm (~17.5 h in all) take ~15 s, the N2 isotherm ~8 s more (a paced run is slower
# than its pace while it computes); the simulated chemist takes 30 h of lab time (22 s real)
# for each approval and step, so the test's clicks always come first.
PACE = 5000.0
OPERATOR_DELAY = "30 h"
START_S = 30.0  # the process up and its dashboard answering
POINTS_S = 40.0  # from the resume to the CO2 isotherm's points, steps confirmed by the test
END_S = 120.0  # then to the campaign's end
STOP_S = 5.0
LIVE_MS = 5000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def quick_campaign(where: Path) -> Path:
    """The demo campaign cut short: two experiments that wait for approval, one at a time
    (the test approves each; the simulated chemist would take 30 h of lab time)."""
    budget = {"experiments": 2, "lab_time": "10 d"}
    return demo_campaign(where, name="live page", approval=True, batch_size=1, budget=budget)


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`ppu run … --dry-run --serve --port 0 --pace`: its dashboard URL; always stopped."""
    campaign = quick_campaign(tmp_path)
    env = {
        **os.environ,
        "PPU_TOKEN": TOKEN,
        "PPU_LOCK_DIR": str(tmp_path / "locks"),
        "COLUMNS": "200",  # the dashboard line unwrapped
    }
    env.pop("PPU_DB", None)
    log = tmp_path / "ppu-run.log"
    cmd = [
        str(PPU), "run", str(campaign), "--lab", str(ROOT / "protocols/demo/lab.toml"),
        "--dry-run", "--serve", "--port", "0", "--pace", str(PACE),
        "--operator-delay", OPERATOR_DELAY, "--db", str(tmp_path / "ppu.sqlite"), "--json",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:

        def dashboard() -> str | None:
            hit = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)", log.read_text())
            assert proc.poll() is None or hit, f"ppu run ended early:\n{log.read_text()[-2000:]}"
            return hit.group(1) if hit else None

        url = until("the dashboard line on stderr", dashboard, START_S)
        yield {"url": url, "proc": proc, "log": log}
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_S)


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_default_timeout(LIVE_MS)
            yield page, errors
        finally:
            browser.close()


def bars_on(page: Any) -> int:
    return int(page.locator("#timeline").get_attribute("data-bars") or 0)


def points_on(page: Any) -> int:
    return int(page.locator("#isotherms").get_attribute("data-points") or 0)


def lab_hours(page: Any) -> float:
    """The header's lab time: 'lab time 12.3 h · Mon 14:00'."""
    hit = re.match(r"lab time ([0-9.]+) h", page.locator("#lab-now").inner_text())
    return float(hit.group(1)) if hit else -1.0


def events_seen(page: Any) -> int:
    return int(page.evaluate("Number(document.body.dataset.events || 0)"))


def shoot(page: Any, where: Path, name: str, shots: list[Path]) -> None:
    path = where / f"{len(shots) + 1:02d}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    shots.append(path)


@pytest.mark.timeout(300)
def test_a_person_follows_and_steers_a_paced_dry_run_to_its_end(
    live_run: dict[str, Any], browser_page: Any, tmp_path: Path
) -> None:
    import httpx

    page, errors = browser_page
    shots: list[Path] = []
    t0 = time.monotonic()
    marks: dict[str, float] = {}
    api = httpx.Client(base_url=live_run["url"], timeout=5)
    cid = until("the campaign row", lambda: [c["id"] for c in api.get("/api/campaigns").json()], 20)
    cid = cid[0]

    def command(kind: str, target: str) -> dict[str, Any] | None:
        """The newest Command row of this kind and target, once the runtime has acted on it."""
        audit = api.get("/api/audit").json()
        rows = [c for c in audit if (c["kind"], c["target"]) == (kind, target)]
        return rows[0] if rows and rows[0]["state"] != "pending" else None

    page.goto(f"{live_run['url']}/")
    page.wait_for_selector("#live.on")
    # who runs the campaign, as several controllers on one store need it said
    page.wait_for_function(
        "() => document.querySelector('#controller').textContent.startsWith('run by ppu pid ')"
    )
    assert page.locator("#campaign option").first.inner_text().endswith(" · live")

    # sign in first: a session cookie, the token in no URL
    page.click("#sign-in")
    page.wait_for_selector("#login-dialog[open]")
    page.fill("#login-token", TOKEN)
    page.fill("#login-name", OPERATOR)
    page.click("#login-ok")
    page.wait_for_function(
        f"() => document.querySelector('#sign-in').textContent.startsWith('{OPERATOR}')"
    )

    # the planner's proposal waits for a person; its card says why it was chosen
    card = page.locator("#approvals li[data-experiment]").first
    card.wait_for(timeout=20_000)
    assert "start design 1 of" in card.inner_text()
    assert "why: sobol point: fills the space before any model exists" in card.inner_text()
    assert page.title().startswith("(1) ppu · live page")  # the tab counts what waits
    experiment = card.get_attribute("data-experiment")
    assert bars_on(page) == 0  # nothing has started before the approval
    card.locator("button[data-action=approve]").click()
    done = until("the approve command carried out", lambda: command("approve", experiment), 10)
    assert (done["state"], done["who"]) == ("done", OPERATOR), done
    assert done["result"] == f"experiment {experiment} approved by {OPERATOR}"
    marks["approved"] = time.monotonic() - t0

    # the synthesis starts: a bar on the timeline, a progress bar in the Now panel
    page.wait_for_function("() => Number(document.querySelector('#timeline').dataset.bars) > 0")
    page.locator("#now [data-progress]").first.wait_for(timeout=LIVE_MS)
    shoot(page, tmp_path, "synthesis-running", shots)

    # pause: controls follow the state; then resume
    page.click("header button[data-scope=campaign][data-action=pause]")
    done = until("the pause command carried out", lambda: command("pause", cid), 10)
    assert (done["state"], done["who"]) == ("done", OPERATOR), done
    assert api.get(f"/api/campaigns/{cid}").json()["state"] == "paused"
    page.wait_for_function(
        "() => document.querySelector('#campaign-state').textContent == 'paused'"
        " && document.querySelector('header button[data-action=pause]').disabled"
        " && !document.querySelector('header button[data-action=resume]').disabled"
    )
    page.click("header button[data-scope=campaign][data-action=resume]")
    done = until("the resume command carried out", lambda: command("resume", cid), 10)
    assert (done["state"], done["who"]) == ("done", OPERATOR), done
    assert api.get(f"/api/campaigns/{cid}").json()["state"] == "running"
    marks["paused and resumed"] = time.monotonic() - t0

    # between the store's events the lab clock moves on, and so does a running launch's
    # progress: two looks a second apart with no stream event between them
    moved: dict[str, Any] = {}

    def clock_moves_alone() -> bool:
        confirm_fresh_steps()
        before = (events_seen(page), lab_hours(page), progress_texts(page))
        page.wait_for_timeout(1200)
        after = (events_seen(page), lab_hours(page), progress_texts(page))
        if before[0] == after[0] and after[1] > before[1] >= 0:
            moved["clock"] = (before[1], after[1])
            common = set(before[2]) & set(after[2])
            for lid in common:
                if before[2][lid] != after[2][lid]:
                    moved["progress"] = (before[2][lid], after[2][lid])
        return "clock" in moved and "progress" in moved

    confirmed: list[str] = []

    def confirm_fresh_steps() -> None:
        waiting = page.locator("#steps li[data-step]").evaluate_all(
            "els => els.map(e => e.dataset.step)"
        )
        for sid in [s for s in waiting if s not in confirmed][:1]:
            page.locator(f"#steps li[data-step='{sid}'] button[data-action=confirm]").click()
            confirmed.append(sid)
            marks.setdefault("first step confirmed", time.monotonic() - t0)

    until("the clock and a progress bar moving between events", clock_moves_alone, 60, 0.01)
    marks["clock moved alone"] = time.monotonic() - t0

    # confirm each manual step as it shows up, until isotherm points are on the plot
    def confirm_steps_until(what: str, seen: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not seen():
            assert time.monotonic() < deadline, (
                f"{what}: not within {timeout_s:.0f} s; steps confirmed {confirmed};"
                f" steps {api.get('/api/steps').json()}"
            )
            before = len(confirmed)
            confirm_fresh_steps()
            if len(confirmed) == before:
                page.wait_for_timeout(100)

    confirm_steps_until("isotherm points on the plot", lambda: points_on(page) > 0, POINTS_S)
    marks["isotherm points"] = time.monotonic() - t0
    shoot(page, tmp_path, "isotherm-points", shots)

    # the experiments table links to the experiment's isotherms
    row = page.locator(f"#experiments tr[data-experiment='{experiment}']")
    row.locator(".iso-link").first.click()
    page.wait_for_function(
        f"() => document.querySelector('#isotherms-what').textContent == 'experiment {experiment}'"
    )
    assert "selected" in (row.get_attribute("class") or "")
    iso_ids = {x["id"] for e in api.get(f"/api/campaigns/{cid}/experiments").json()
               if str(e["id"]) == experiment for x in e["launches"]
               if x["kernel"] == "measure_isotherm"}  # fmt: skip
    page.wait_for_function("() => document.querySelector('#isotherms').dataset.launches")
    shown = page.locator("#isotherms").get_attribute("data-launches") or ""
    assert {int(i) for i in shown.split(",") if i} <= iso_ids and shown

    # zoom the timeline with the mouse: the axis range narrows, and stays through refreshes
    plot = page.locator("#timeline .nsewdrag").first
    box = plot.bounding_box()
    assert box is not None
    full = page.evaluate("() => document.querySelector('#timeline').layout.xaxis.range.slice()")
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "w => { const r = document.querySelector('#timeline').layout.xaxis.range;"
        " return r[1] - r[0] < 0.6 * w; }",
        arg=full[1] - full[0],
    )
    zoomed = page.evaluate("() => document.querySelector('#timeline').layout.xaxis.range.slice()")
    shoot(page, tmp_path, "timeline-zoomed", shots)

    # on to the end: steps confirmed as they come, the second proposal approved
    approved = {experiment}

    def ended() -> bool:
        confirm_fresh_steps()
        for li in page.locator("#approvals li[data-experiment]").all():
            eid = li.get_attribute("data-experiment")
            if eid not in approved:
                approved.add(eid)
                li.locator("button[data-action=approve]").click()
        return api.get(f"/api/campaigns/{cid}").json()["state"] == "done"

    until("the campaign's end", ended, END_S, 0.2)
    marks["campaign done"] = time.monotonic() - t0
    # the timeline kept its zoom through every refresh since
    assert page.evaluate("() => document.querySelector('#timeline').layout.xaxis.range") == zoomed

    # after the end: said so, the summary, controls off; the server still answers
    page.wait_for_function(
        "() => document.querySelector('#campaign-state').textContent.startsWith('done at ')"
    )
    page.wait_for_selector("#summary")
    assert "is done" in page.locator("#banner").inner_text()
    assert "how it ended: done after" in page.locator("#summary").inner_text()
    for b in page.locator("header button[data-scope=campaign]").all():
        assert b.is_disabled()
    assert page.locator("#instruments button[data-action]").count() == 0
    assert page.locator("#eta").inner_text() == ""
    time.sleep(1.0)
    assert live_run["proc"].poll() is None, "the server stays up after the campaign"
    page.reload()
    page.wait_for_selector("#summary")
    shoot(page, tmp_path, "campaign-done", shots)

    # the steps were done by the person who clicked, not by the simulated chemist
    steps = {str(s["id"]): s for s in api.get(f"/api/steps?campaign={cid}").json()}
    for sid in confirmed:
        assert steps[sid]["confirmed_by"] == OPERATOR, steps[sid]
    assert len(confirmed) >= 6  # reactor, oven in and out, pan on and off, analyzer cell
    assert "simulated operator" not in {s["confirmed_by"] for s in steps.values()}
    assert moved["clock"][1] > moved["clock"][0]
    assert errors == []
    print("screenshots: " + ", ".join(str(p) for p in shots))
    (h0, h1), (p0, p1) = moved["clock"], moved["progress"]
    print(f"clock between events: {h0:.2f} h -> {h1:.2f} h; progress {p0!r} -> {p1!r}")
    print("timings (s from page open): " + ", ".join(f"{k} {v:.1f}" for k, v in marks.items()))


def progress_texts(page: Any) -> dict[str, str]:
    return dict(
        page.locator("#now [data-progress]").evaluate_all(
            "els => els.map(e => [e.dataset.progress, e.textContent])"
        )
    )
