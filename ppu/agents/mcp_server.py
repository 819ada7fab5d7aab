"""`ppu mcp`: a Model Context Protocol server, so an AI assistant can read a campaign and
steer it as a person's delegate.

It reads the store as the dashboard and `ppu status` do, and acts only by writing `Command`
rows (`ppu.api.queries.add_command`), which the campaign's controller carries out and marks
done or refused: the same path and the same audit as the dashboard and the CLI, with
`who = "agent:<client name>"`. A candidate it proposes becomes an experiment that waits for
a person's approval whatever the campaign's `approval` (the controller's `propose`).

Acting needs the bearer token (`PPU_TOKEN`, the dashboard's control token). Over stdio (an
MCP client launches `ppu mcp`) the token is the one the server was started with: without it
the server only reads. Over streamable HTTP (`--http PORT`, on 127.0.0.1) each request
carries `Authorization: Bearer …`; reads from another host need it too.
"""

# no `from __future__ import annotations`: the SDK reads the tools' signatures as objects

import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from sqlmodel import Session, col, select

from ppu.core.errors import BadInput, PpuError

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
#: how long an act waits for the controller's answer (wall seconds)
ANSWER_S = 15.0
Transport = Literal["stdio", "http"]

INSTRUCTIONS = """\
ppu runs a self-driving lab: campaigns of experiments (a MOF synthesis, activation and gas
isotherms per candidate) chosen by a planner. Read with `status` (campaigns, budget, best so
far, the search space), `experiments`, `isotherms` and `instruments`. Act with
`propose_candidate`, `pause_campaign`, `resume_campaign` and `confirm_step`: each is a
command the campaign's controller carries out, recorded as yours. A candidate you propose
waits for a person's approval before anything moves. Quantities are {value, unit}; give
every parameter with its unit (e.g. "150 degC", {"value": 24, "unit": "h"})."""

CampaignArg = Annotated[str, Field(description="campaign id (see `status`)", max_length=200)]


@dataclass
class Access:
    """Who may do what: the server's token, and the transport it is reached by."""

    token: str | None
    transport: Transport

    def may_act(self, ctx: Context) -> None:
        if self.transport == "stdio":
            if not self.token:
                raise ToolError(
                    "refused: acting needs the bearer token, and this server was started "
                    "without one: start `ppu mcp` with PPU_TOKEN set to the lab's control "
                    "token (reads need none)"
                )
            return
        if not self._bearer_ok(ctx):
            raise ToolError(
                "refused: acting needs the bearer token: send 'Authorization: Bearer <token>' "
                "(the PPU_TOKEN `ppu mcp --http` was started with, or the one it printed)"
            )

    def may_read(self, ctx: Context) -> None:
        if self.transport == "stdio" or _client_host(ctx) in LOOPBACK:
            return
        if not self._bearer_ok(ctx):
            raise ToolError(
                "refused: reads from another host need the bearer token "
                "('Authorization: Bearer <token>')"
            )

    def _bearer_ok(self, ctx: Context) -> bool:
        scheme, _, given = (_header(ctx, "authorization") or "").partition(" ")
        given = given.strip()
        return (
            self.token is not None
            and scheme.lower() == "bearer"
            and bool(given)
            and hmac.compare_digest(given.encode(), self.token.encode())
        )


def _header(ctx: Context, name: str) -> str | None:
    try:
        headers = ctx.headers
    except Exception:  # outside a request
        return None
    return headers.get(name) if headers is not None else None


def _client_host(ctx: Context) -> str | None:
    try:
        request = ctx.request_context.request
    except Exception:
        return None
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


def agent_name(ctx: Context) -> str:
    """`agent:<client name>` as the MCP client introduced itself, for the audit."""
    name = None
    try:
        params = ctx.session.client_params
        if params is not None and params.client_info is not None:
            name = params.client_info.name
    except Exception:
        name = None
    name = "".join(ch for ch in (name or "") if ch.isprintable()).strip()[:60]
    return f"agent:{name or 'unknown'}"


@dataclass
class LabDesk:
    """The reads and the acts, over one store; one call at a time (the store's session is
    not shared between threads)."""

    db_url: str
    answer_s: float = ANSWER_S
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            from ppu.store import Store

            self._store = Store(self.db_url, create=False)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def call(self, body: Callable[[], Any]) -> Any:
        with self._lock:
            try:
                return body()
            except PpuError as e:
                raise ToolError(str(e)) from None

    # -- reads --------------------------------------------------------------------------
    def status(self, campaign: str | None) -> dict[str, Any]:
        from ppu.api import queries as q
        from ppu.campaign.proposal import stored_space
        from ppu.cli.campaigns import campaign_status
        from ppu.store.models import Campaign

        if campaign is not None:
            st = campaign_status(self.store, campaign)
            st.pop("experiments", None)  # `experiments` gives them
            with Session(self.store.engine) as s:
                row = s.get(Campaign, campaign)
                raw = ((row.config or {}) if row is not None else {}).get("campaign") or {}
            st["search_space"] = _space_out(stored_space(raw))
            return st
        with Session(self.store.engine) as s:
            rows = q.campaigns(s)[:20]
        out = []
        for c in rows:
            st = campaign_status(self.store, c["id"])
            out.append(
                {
                    k: st[k]
                    for k in (
                        "campaign_id",
                        "name",
                        "state",
                        "controller_alive",
                        "dry_run",
                        "budget",
                        "best",
                        "by_status",
                        "awaiting_approval",
                    )
                }
            )
        return {"campaigns": out, "newest_first": True}

    def experiments(self, campaign: str) -> dict[str, Any]:
        from ppu.api import queries as q

        with Session(self.store.engine) as s:
            if q.campaign(s, campaign) is None:
                raise BadInput(f"campaign {campaign}", "not in this store (see `status`)")
            rows = q.suggestions(s, campaign)
        return {
            "campaign_id": campaign,
            "experiments": [
                {
                    "id": e["id"],
                    "number": e["number"],
                    "status": e["status"],
                    "conditions": e["params"],
                    "objectives": e["objectives"],
                    "error": e["error"],
                    "proposed_by": (e["suggestion"] or {}).get("proposed_by")
                    or (e["suggestion"] or {}).get("engine"),
                    "launches": e["launches"],
                }
                for e in rows
            ],
        }

    def isotherms(self, campaign: str, latest: int) -> dict[str, Any]:
        from ppu.api import queries as q

        with Session(self.store.engine) as s:
            found = q.isotherms(s, campaign, latest)
        if found is None:
            raise BadInput(f"campaign {campaign}", "not in this store (see `status`)")
        return {"campaign_id": campaign, "isotherms": found}

    def instruments(self, campaign: str | None) -> dict[str, Any]:
        from ppu.api import queries as q
        from ppu.store.models import FaultRecord
        from ppu.store.store import ALARM_KINDS

        with Session(self.store.engine) as s:
            found = q.instruments(s, campaign)
            cid = campaign or q.latest_campaign_id(s)
            alarms = s.exec(
                select(FaultRecord)
                .where(col(FaultRecord.kind).in_((*ALARM_KINDS, "quarantine")))
                .where(FaultRecord.campaign_id == cid)
                .order_by(col(FaultRecord.id).desc())
                .limit(20)
            ).all()
        return {
            "campaign_id": cid,
            "instruments": found,
            "alarms": [
                {
                    "instrument": a.instrument,
                    "device": a.device or None,
                    "kind": a.kind,
                    "launch_id": a.launch_id,
                    "message": a.message,
                    "lab_time_s": q.finite(a.virtual_t),
                }
                for a in alarms
            ],
        }

    # -- acts ---------------------------------------------------------------------------
    def propose(self, campaign: str, parameters: dict[str, Any], why: str, who: str) -> dict:
        from ppu.campaign.proposal import check_proposal, stored_space
        from ppu.cli.steer import check_campaign_command
        from ppu.store.models import Campaign, Experiment

        with Session(self.store.engine) as s:
            check_campaign_command(s, "propose", campaign)
            row = s.get(Campaign, campaign)
            raw = (row.config or {}).get("campaign") or {}
            stored = check_proposal(stored_space(raw), parameters, f"campaign {campaign}")
            argument = json.dumps({"params": stored, "why": why})
            cmd = self._command(s, "propose", campaign, who, campaign, argument)
        done = self._answer(cmd)
        with Session(self.store.engine) as s:
            made = [
                e
                for e in s.exec(select(Experiment).where(Experiment.campaign_id == campaign))
                if (e.suggestion or {}).get("command") == cmd["id"]
            ]
        experiment = None
        if made:
            e = made[0]
            experiment = {
                "id": e.id,
                "number": e.number,
                "status": e.status,
                "conditions": e.params,
            }
        return {"command": done, "experiment": experiment}

    def steer(self, kind: str, campaign: str, who: str) -> dict[str, Any]:
        from ppu.cli.steer import check_campaign_command

        with Session(self.store.engine) as s:
            check_campaign_command(s, kind, campaign)
            cmd = self._command(s, kind, campaign, who, campaign)
        return {"command": self._answer(cmd)}

    def confirm(self, step_id: int, who: str) -> dict[str, Any]:
        from ppu.store.models import OperatorStepRecord

        with Session(self.store.engine) as s:
            st = s.get(OperatorStepRecord, step_id)
            if st is None:
                raise BadInput(f"step {step_id}", "no such step")
            if st.state != "waiting":
                raise BadInput(f"step {step_id}", f"is already {st.state}")
            cmd = self._command(s, "confirm", str(step_id), who, st.campaign_id)
        return {"command": self._answer(cmd)}

    def _command(
        self, s: Session, kind: str, target: str, who: str, cid: str | None, arg: str | None = None
    ) -> dict[str, Any]:
        from ppu.api import queries as q

        return q.add_command(s, kind, target, who, cid, arg)

    def _answer(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """The controller's answer; a refusal is the tool's error."""
        from ppu.cli.steer import wait_for_command

        done = wait_for_command(self.store, cmd["id"], cmd["campaign_id"], self.answer_s)
        if done is None or done["state"] == "pending":
            return {
                **cmd,
                "note": f"not taken within {self.answer_s:g} s; it stays queued for the "
                "controller (see the audit)",
            }
        if done["state"] == "refused":
            raise ToolError(f"command {done['id']} ({done['kind']}) refused: {done['result']}")
        return done


def _space_out(space: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"choices": list(p.choices)}
        if p.categorical
        else {"low": p.raw_low, "high": p.raw_high}
        for name, p in space.items()
    }


def make_server(db_url: str, token: str | None, transport: Transport = "stdio") -> MCPServer:
    """The MCP server over the store at `db_url`, with its tools."""
    from ppu import __version__

    desk = LabDesk(db_url)
    access = Access(token=token, transport=transport)
    mcp = MCPServer("ppu", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    mcp.lab_desk = desk  # type: ignore[attr-defined]  # closed by the caller

    async def run(body: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(desk.call, body)

    @mcp.tool()
    async def status(
        ctx: Context,
        campaign: Annotated[
            str | None, Field(description="a campaign id; none: every campaign, newest first")
        ] = None,
    ) -> dict[str, Any]:
        """Campaigns: state, whether a controller runs it, budget used (experiments and lab
        time), best so far, what awaits approval; for one campaign also its objectives,
        constraints and search space (the bounds a proposal must keep)."""
        access.may_read(ctx)
        return await run(lambda: desk.status(campaign))

    @mcp.tool()
    async def experiments(ctx: Context, campaign: CampaignArg) -> dict[str, Any]:
        """A campaign's experiments: conditions (with units), status (running,
        awaiting_approval, COMPLETED, FAILED, ABANDONED), objectives measured, why one
        failed, and who proposed it (the planner's engine, or an agent)."""
        access.may_read(ctx)
        return await run(lambda: desk.experiments(campaign))

    @mcp.tool()
    async def isotherms(
        ctx: Context,
        campaign: CampaignArg,
        latest: Annotated[int, Field(ge=1, le=50, description="how many launches")] = 4,
    ) -> dict[str, Any]:
        """The latest isotherm launches of a campaign and their points so far: pressure and
        uptake, each {value, unit}; gas and temperature."""
        access.may_read(ctx)
        return await run(lambda: desk.isotherms(campaign, latest))

    @mcp.tool()
    async def instruments(
        ctx: Context,
        campaign: Annotated[
            str | None, Field(description="a campaign id; none: the newest campaign")
        ] = None,
    ) -> dict[str, Any]:
        """Each instrument's state (ready, busy, held, quarantined, offline), what runs on
        it, its fault count, and the alarms (stalled launches, silent instruments,
        quarantines), newest first."""
        access.may_read(ctx)
        return await run(lambda: desk.instruments(campaign))

    @mcp.tool()
    async def propose_candidate(
        ctx: Context,
        campaign: CampaignArg,
        parameters: Annotated[
            dict[str, Any],
            Field(
                description="every parameter of the campaign's search space: a quantity with "
                'its unit ("150 degC" or {"value": 150, "unit": "degC"}), a plain number '
                "for a unitless one, or one of a choice's names"
            ),
        ],
        why: Annotated[str, Field(max_length=500, description="your reason, for the person")] = "",
    ) -> dict[str, Any]:
        """Propose a candidate to a running campaign. It is checked against the search
        space, becomes an experiment that waits for a person's approval (always), and runs
        once approved; the planner learns from its result like any other."""
        access.may_act(ctx)
        who = agent_name(ctx)
        return await run(lambda: desk.propose(campaign, parameters, why, who))

    @mcp.tool()
    async def pause_campaign(ctx: Context, campaign: CampaignArg) -> dict[str, Any]:
        """Pause a running campaign: running kernels finish, nothing new starts."""
        access.may_act(ctx)
        who = agent_name(ctx)
        return await run(lambda: desk.steer("pause", campaign, who))

    @mcp.tool()
    async def resume_campaign(ctx: Context, campaign: CampaignArg) -> dict[str, Any]:
        """Resume a paused campaign (one whose controller runs)."""
        access.may_act(ctx)
        who = agent_name(ctx)
        return await run(lambda: desk.steer("resume", campaign, who))

    @mcp.tool()
    async def confirm_step(
        ctx: Context,
        step_id: Annotated[int, Field(ge=1, description="a waiting manual step's id")],
    ) -> dict[str, Any]:
        """Say a manual step (load a sample, fill a dewar) is done, when a person has told
        you so; the kernel waiting on it goes on."""
        access.may_act(ctx)
        who = agent_name(ctx)
        return await run(lambda: desk.confirm(step_id, who))

    return mcp
