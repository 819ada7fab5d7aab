"""The dashboard during a live, paced dry-run (a real `ppu run --serve` process), in chromium.

A person watches the timeline and the isotherm plot grow, pauses and resumes the campaign,
approves the planner's proposal and confirms the manual steps before the simulated
chemist would: every action goes through the page, and the runtime's own records say so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import CHROMIUM, CHROMIUM_ARGS

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
MORE_POINTS_S = 25.0  # then to the N2 isotherm's
STOP_S = 5.0
LIVE_MS = 5000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def toml_value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)  # strings, numbers and booleans read the same in TOML


def toml_text(doc: dict[str, Any]) -> str:
    """Enough TOML for a campaign file: tables of values, and arrays of such tables."""
    lines: list[str] = []
    for name, body in doc.items():
        for table in body if isinstance(body, list) else [body]:
            lines.append(f"[[{name}]]" if isinstance(body, list) else f"[{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
            lines.append("")
    return "\n".join(lines)


def quick_campaign(where: Path) -> Path:
    """The demo campaign cut short: experiments that wait for approval, one at a time.

    Two experiments, so the run (and its dashboard) outlives the first one's isotherms: the
    second waits for the simulated chemist's approval, which comes after the test is done."""
    doc = tomllib.loads((ROOT / "protocols/demo/campaign.toml").read_text())
    doc["campaign"].update(name="live page", approval=True, batch_size=1)
    doc["budget"] = {"experiments": 2, "lab_time": "10 d"}
    doc["search_space"]["time"] = {"low": "2 h", "high": "2.5 h"}
    for step in doc["workflow"]:
        if step["step"] == "activation":
            step["inputs"]["time"] = "1 h"
        if step["kernel"] == "measure_isotherm":
            step["inputs"]["points"] = 4
    path = where / "campaign.toml"
    path.write_text(toml_text(doc))
    return path


def until(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 0.1) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(every_s)


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


def bars_of(page: Any) -> list[str]:
    """What the timeline shows: each bar's launch, state and width."""
    return page.locator("#timeline rect.bar").evaluate_all(
        "els => els.map(e => `${e.dataset.launch} ${e.getAttribute('class')}"
        " ${Math.round(e.getAttribute('width'))}`)"
    )


def points_on(page: Any) -> int:
    return page.locator("#isotherms .isotherm circle.pt").count()


def test_a_person_steers_a_paced_dry_run_from_the_page(
    live_run: dict[str, Any], browser_page: Any, tmp_path: Path
) -> None:
    import httpx

    page, errors = browser_page
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

    # the planner's proposal waits for a person; approving it asks for the token once
    approve = page.locator("#approvals li[data-experiment] button[data-action=approve]").first
    approve.wait_for(timeout=20_000)
    experiment = approve.evaluate("b => b.closest('li').dataset.experiment")
    assert bars_of(page) == []  # nothing has started before the approval
    approve.click()
    page.wait_for_selector("#token-dialog[open]")
    page.fill("#token-input", TOKEN)
    page.fill("#operator-input", OPERATOR)
    page.click("#token-ok")
    done = until("the approve command carried out", lambda: command("approve", experiment), 10)
    assert (done["state"], done["who"]) == ("done", OPERATOR), done
    assert done["result"] == f"experiment {experiment} approved by {OPERATOR}"
    marks["approved"] = time.monotonic() - t0

    # the synthesis starts: a running bar appears on the timeline
    page.wait_for_selector("#timeline rect.bar.running", timeout=LIVE_MS)
    first_bars = bars_of(page)

    # pause, seen through the API once the runtime has carried the command out, then resume
    page.click("header button[data-scope=campaign][data-action=pause]")
    done = until("the pause command carried out", lambda: command("pause", cid), 10)
    assert (done["state"], done["who"]) == ("done", OPERATOR), done
    assert api.get(f"/api/campaigns/{cid}").json()["state"] == "paused"
    page.wait_for_function(
        "() => document.querySelector('#campaign-state').textContent == 'paused'"
    )
    page.click("header button[data-scope=campaign][data-action=resume]")
    done = until("the resume command carried out", lambda: command("resume", cid), 10)
    assert (done["state"], done["who"]) == ("done", OPERATOR), done
    assert api.get(f"/api/campaigns/{cid}").json()["state"] == "running"
    marks["paused and resumed"] = time.monotonic() - t0

    # confirm each manual step as it shows up, until the isotherm plot has points, then more
    # (a launch's measurements reach the store when it ends: CO2's points first, then N2's)
    confirmed: list[str] = []

    def confirm_steps_until(what: str, seen: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not seen():
            assert time.monotonic() < deadline, (
                f"{what}: not within {timeout_s:.0f} s; steps confirmed {confirmed};"
                f" steps {api.get('/api/steps').json()}"
            )
            waiting = page.locator("#steps li[data-step]").evaluate_all(
                "els => els.map(e => e.dataset.step)"
            )
            fresh = [s for s in waiting if s not in confirmed]
            if fresh:
                button = f"#steps li[data-step='{fresh[0]}'] button[data-action=confirm]"
                page.locator(button).click()
                confirmed.append(fresh[0])
                marks.setdefault("first step confirmed", time.monotonic() - t0)
            else:
                page.wait_for_timeout(100)

    confirm_steps_until("isotherm points on the plot", lambda: points_on(page) > 0, POINTS_S)
    marks["isotherm points"] = time.monotonic() - t0
    first_points = points_on(page)
    confirm_steps_until(
        "more isotherm points", lambda: points_on(page) > first_points, MORE_POINTS_S
    )
    marks["more points"] = time.monotonic() - t0
    assert page.locator("#isotherms .isotherm").count() == 2  # CO2, then N2

    # the steps were done by the person who clicked, not by the simulated chemist
    steps = {str(s["id"]): s for s in api.get(f"/api/steps?campaign={cid}").json()}
    reactor = next(s for s in steps.values() if s["text"].startswith("Empty the reactor"))
    assert (reactor["state"], reactor["confirmed_by"]) == ("confirmed", OPERATOR), reactor
    for sid in confirmed:
        assert steps[sid]["confirmed_by"] == OPERATOR, steps[sid]
        cmd = command("confirm", sid)
        assert cmd and cmd["state"] == "done", cmd
    assert len(confirmed) >= 6  # reactor, oven in and out, pan on and off, analyzer cell
    assert "simulated operator" not in {s["confirmed_by"] for s in steps.values()}

    # the timeline moved on: more bars, and the synthesis bar no longer running
    page.wait_for_function(
        "n => document.querySelectorAll('#timeline rect.bar').length > n", arg=len(first_bars)
    )
    synthesis = first_bars[0].split()[0]
    assert first_bars[0].startswith(f"{synthesis} bar running running ")
    assert bars_of(page)[0].startswith(f"{synthesis} bar done ")

    shot = tmp_path / "live-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert live_run["proc"].poll() is None  # still running: the fixture stops it
    assert errors == []
    print(f"screenshot: {shot}")
    print("timings (s from page open): " + ", ".join(f"{k} {v:.1f}" for k, v in marks.items()))
