"""`ppu mcp` driven by the MCP Python client, beside a paced dry-run's controller (a real
`ppu run` process): the tools listed, status read, a candidate proposed that waits for a
person's approval (the campaign asks for none), audited as the agent's; without the token
the act is refused. Over stdio (the client launches `ppu mcp`) and over streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from ppu.store.models import Command, Experiment
from ppu.store.store import make_engine
from tests.campaign_files import demo_campaign, until
from tests.postgres import free_port

ROOT = Path(__file__).resolve().parents[1]
PPU = Path(sys.executable).with_name("ppu")
TOKEN = "mcp-test-token-51a0"
PACE = 1000.0  # lab s per real s: the campaign outlives the test, which aborts it
START_S = 60.0
ANSWER_S = 20.0
GOOD = {
    "temperature": "150 degC",
    "time": {"value": 24, "unit": "h"},
    "ratio": 1.5,
    "modulator": 10,
    "solvent": "DMF",
}

LOCAL = "http://127.0.0.1"  # reads are open to a page that asks by a loopback name


def rows(db: str, model: Any) -> list[Any]:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as s:
            return list(s.exec(select(model)).all())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A paced dry-run of the demo campaign (no approval asked, eight experiments, one at a
    time) in its own process; aborted at the end (the last test kills and resumes it)."""
    where = tmp_path_factory.mktemp("mcp")
    campaign = demo_campaign(
        where, name="agent", approval=False, batch_size=1, budget={"experiments": 8}, short=False
    )
    db = str(where / "ppu.sqlite")
    env = {**os.environ, "PPU_LOCK_DIR": str(where / "locks")}
    env.pop("PPU_DB", None)
    env.pop("PPU_TOKEN", None)
    log = where / "run.log"
    cmd = [
        str(PPU), "run", str(campaign), "--lab", str(ROOT / "protocols/demo/lab.toml"),
        "--dry-run", "--pace", str(PACE), "--operator-delay", "60 s", "--db", db, "--json",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:

        def running() -> str | None:
            assert proc.poll() is None, f"ppu run ended early:\n{log.read_text()[-2000:]}"
            if not Path(db).exists():
                return None
            try:
                found = rows(db, Experiment)
            except Exception:  # the store is being made
                return None
            return found[0].campaign_id if found else None

        cid = until("the controller's first experiment", running, START_S)
        yield {"db": db, "campaign": cid, "env": env, "proc": proc, "log": log}
    finally:
        if proc.poll() is None:
            subprocess.run(
                [str(PPU), "abort", cid, "--db", db, "--wait", "--who", "test"],
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _stdio_client(db: str, env: dict[str, str], token: str | None) -> Any:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters
    from mcp_types import Implementation

    server_env = {k: v for k, v in env.items() if k != "PPU_TOKEN"}
    if token is not None:
        server_env["PPU_TOKEN"] = token
    params = StdioServerParameters(
        command=str(PPU), args=["mcp", "--db", db], env=server_env, cwd=str(ROOT)
    )
    return Client(params, client_info=Implementation(name="test-agent", version="1.0"))


def _json(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def test_an_agent_over_stdio_reads_status_and_its_candidate_waits_for_a_person(
    controller: dict[str, Any],
) -> None:
    db, cid, env = controller["db"], controller["campaign"], controller["env"]
    seen: dict[str, Any] = {}

    async def agent() -> None:
        async with _stdio_client(db, env, TOKEN) as c:
            seen["tools"] = {t.name for t in (await c.list_tools()).tools}
            seen["all"] = _json(await c.call_tool("status", {}))
            seen["one"] = _json(await c.call_tool("status", {"campaign": cid}))
            seen["bad"] = await c.call_tool(
                "propose_candidate",
                {"campaign": cid, "parameters": {**GOOD, "temperature": "500 degC"}},
            )
            seen["proposed"] = _json(
                await c.call_tool(
                    "propose_candidate",
                    {"campaign": cid, "parameters": GOOD, "why": "DMF at 150 degC, as in [1]"},
                )
            )
            seen["experiments"] = _json(await c.call_tool("experiments", {"campaign": cid}))
            seen["instruments"] = _json(await c.call_tool("instruments", {"campaign": cid}))

    asyncio.run(asyncio.wait_for(agent(), 120))

    assert seen["tools"] == {
        "status",
        "experiments",
        "isotherms",
        "instruments",
        "propose_candidate",
        "pause_campaign",
        "resume_campaign",
        "confirm_step",
    }
    (listed,) = [c for c in seen["all"]["campaigns"] if c["campaign_id"] == cid]
    assert listed["state"] == "running" and listed["controller_alive"] is True
    assert listed["budget"]["experiments"]["max"] == 8
    one = seen["one"]
    assert one["search_space"]["temperature"] == {"low": "80 degC", "high": "180 degC"}
    assert [o["name"] for o in one["objectives"]] == ["co2_uptake"]

    assert seen["bad"].is_error
    assert "temperature: 500 degC is outside allowed 80 degC … 180 degC" in (
        seen["bad"].content[0].text
    )

    done, made = seen["proposed"]["command"], seen["proposed"]["experiment"]
    assert (done["kind"], done["state"], done["who"]) == ("propose", "done", "agent:test-agent")
    assert "waits for a person's approval" in done["result"]
    assert made["status"] == "awaiting_approval"
    assert made["conditions"]["temperature"] == {"value": 150.0, "unit": "degC"}
    (listed_e,) = [e for e in seen["experiments"]["experiments"] if e["id"] == made["id"]]
    assert listed_e["proposed_by"] == "agent:test-agent"
    assert {i["name"] for i in seen["instruments"]["instruments"]} >= {"synthesis", "balance"}

    # the row, as the store has it; the simulated chemist (60 s of lab time) never approves it
    start = time.monotonic()
    until("two hours of lab time", lambda: time.monotonic() - start > 7200 / PACE, 30)
    (row,) = [e for e in rows(db, Experiment) if e.id == made["id"]]
    assert row.status == "awaiting_approval"
    assert row.suggestion["proposed_by"] == "agent:test-agent"
    assert row.suggestion["why"] == "DMF at 150 degC, as in [1]"

    # the audit (GET /api/audit reads the same rows)
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(f"sqlite:///{db}", "t"), base_url=LOCAL) as api:
        audit = api.get("/api/audit", params={"campaign": cid}).json()
    (entry,) = [a for a in audit if a["kind"] == "propose"]
    assert (entry["who"], entry["state"]) == ("agent:test-agent", "done")
    shown = subprocess.run(
        [str(PPU), "audit", "--campaign", cid, "--who", "agent:", "--db", db, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout.strip().splitlines()[-1])["audit"] == [entry]

    # a person approves it: it runs
    approved = subprocess.run(
        [str(PPU), "approve", str(made["id"]), "--who", "Ada", "--db", db, "--wait", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert approved.returncode == 0, approved.stderr
    (row,) = [e for e in rows(db, Experiment) if e.id == made["id"]]
    assert row.status == "running"


def test_without_the_token_an_agent_reads_but_its_act_is_refused(
    controller: dict[str, Any],
) -> None:
    db, cid, env = controller["db"], controller["campaign"], controller["env"]
    seen: dict[str, Any] = {}

    async def agent() -> None:
        async with _stdio_client(db, env, None) as c:
            seen["status"] = _json(await c.call_tool("status", {"campaign": cid}))
            seen["propose"] = await c.call_tool(
                "propose_candidate", {"campaign": cid, "parameters": GOOD}
            )
            seen["pause"] = await c.call_tool("pause_campaign", {"campaign": cid})

    before = len(rows(db, Command))
    asyncio.run(asyncio.wait_for(agent(), 120))
    assert seen["status"]["state"] in ("running", "paused")
    for refused in (seen["propose"], seen["pause"]):
        assert refused.is_error
        assert "refused: acting needs the bearer token" in refused.content[0].text
    assert len(rows(db, Command)) == before  # nothing was written


def test_over_streamable_http_the_bearer_token_is_needed_to_pause(
    controller: dict[str, Any],
) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp_types import Implementation

    db, cid = controller["db"], controller["campaign"]
    port = free_port()
    env = {**controller["env"], "PPU_TOKEN": TOKEN}
    server = subprocess.Popen(
        [str(PPU), "mcp", "--db", db, "--http", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    seen: dict[str, Any] = {}
    url = f"http://127.0.0.1:{port}/mcp"

    def client(headers: dict[str, str]) -> Any:
        http = httpx2.AsyncClient(headers=headers)
        info = Implementation(name="http-agent", version="1.0")
        return Client(streamable_http_client(url, http_client=http), client_info=info)

    async def agent() -> None:
        for _ in range(100):  # the server up
            try:
                async with client({}) as c:
                    seen["status"] = _json(await c.call_tool("status", {"campaign": cid}))
                    seen["no_token"] = await c.call_tool("pause_campaign", {"campaign": cid})
                break
            except Exception:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                await asyncio.sleep(0.3)
        async with client({"Authorization": "Bearer wrong"}) as c:
            seen["wrong"] = await c.call_tool("pause_campaign", {"campaign": cid})
        async with client({"Authorization": f"Bearer {TOKEN}"}) as c:
            seen["paused"] = _json(await c.call_tool("pause_campaign", {"campaign": cid}))
            seen["resumed"] = _json(await c.call_tool("resume_campaign", {"campaign": cid}))

    try:
        asyncio.run(asyncio.wait_for(agent(), 120))
    finally:
        server.terminate()
        server.wait(20)

    assert seen["status"]["campaign_id"] == cid  # reads on loopback need no token
    for refused in (seen["no_token"], seen["wrong"]):
        assert refused.is_error
        assert "refused: acting needs the bearer token" in refused.content[0].text
    paused = seen["paused"]["command"]
    assert (paused["kind"], paused["state"], paused["who"]) == ("pause", "done", "agent:http-agent")
    assert seen["resumed"]["command"]["state"] == "done"


def test_a_candidate_still_waiting_when_its_controller_dies_waits_again_after_resume(
    controller: dict[str, Any],
) -> None:
    db, cid, env, proc = (controller[k] for k in ("db", "campaign", "env", "proc"))
    seen: dict[str, Any] = {}

    async def agent() -> None:
        async with _stdio_client(db, env, TOKEN) as c:
            seen["proposed"] = _json(
                await c.call_tool("propose_candidate", {"campaign": cid, "parameters": GOOD})
            )

    asyncio.run(asyncio.wait_for(agent(), 120))
    made = seen["proposed"]["experiment"]
    assert made["status"] == "awaiting_approval"
    proc.kill()  # the controller dies (SIGKILL) while the candidate waits
    proc.wait(30)

    resumed = subprocess.Popen(
        [str(PPU), "resume", cid, "--db", db, "--pace", str(PACE), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    killed_at = time.time()
    try:
        from ppu.store.models import Campaign

        def beating() -> bool:
            assert resumed.poll() is None, "ppu resume ended early"
            (c,) = [x for x in rows(db, Campaign) if x.id == cid]
            return (c.heartbeat_wall or 0.0) > killed_at

        until("the resumed controller's heartbeat", beating, START_S)
        time.sleep(3.0)  # hours of lab time at this pace; the simulated chemist takes 60 s
        (row,) = [e for e in rows(db, Experiment) if e.id == made["id"]]
        assert row.status == "awaiting_approval"  # approval: false, yet it still waits
        rejected = subprocess.run(
            [str(PPU), "reject", str(made["id"]), "--who", "Ada", "--db", db, "--wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert rejected.returncode == 0, rejected.stderr
        (row,) = [e for e in rows(db, Experiment) if e.id == made["id"]]
        assert row.status == "ABANDONED"
        assert row.error == "agent:test-agent's proposal rejected by Ada"
    finally:
        if resumed.poll() is None:
            subprocess.run(
                [str(PPU), "abort", cid, "--db", db, "--wait", "--who", "test"],
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
        try:
            resumed.wait(30)
        except subprocess.TimeoutExpired:
            resumed.kill()
            resumed.wait(10)
