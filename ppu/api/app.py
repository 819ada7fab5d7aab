"""The dashboard's HTTP face: a JSON API (with its OpenAPI spec), a live stream, one page.

The app only reads the store, except for one kind of write: a control action becomes a
pending `Command` row, which the runtime (in this process or another) carries out and marks
done or refused. Those rows are the audit trail. The stream pushes what changed as soon as a
writer in this process commits, and looks at the store every POLL_S for writers elsewhere,
so the app works the same beside the runtime and as `ppu serve --db` on another process's
store.
"""

import asyncio
import hmac
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from ppu.api import models as m
from ppu.api import queries as q
from ppu.api.admission import Admission
from ppu.api.read_cache import ReadCache
from ppu.api.sessions import Sessions, cookie_name
from ppu.core.errors import BadInput
from ppu.runtime.control import COULD_NOT
from ppu.runtime.holds import check_resolvable
from ppu.store.bell import bell_for
from ppu.store.models import Experiment, Launch, OperatorStepRecord
from ppu.store.store import make_engine

STATIC = Path(__file__).parent / "static"
POLL_S = 0.4  # without a bell (another process writes) the stream looks this often
COALESCE_S = 0.015  # after a bell, wait this long for the rest of a burst of commits
MIN_GAP_S = 0.1  # and look no more often than this
MAX_ID = 2**53  # ids beyond what a JavaScript number holds exactly are not ours
LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}
#: the names a page on this machine asks a loopback server by
LOOPBACK_NAMES = LOOPBACK - {"testclient"}


def host_name(host: str) -> str:
    """'127.0.0.1:8765' → '127.0.0.1', '[::1]:8765' → '::1'."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


CampaignId = Annotated[str, PathParam(min_length=1, max_length=200)]
RowId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
InstrumentName = Annotated[str, PathParam(min_length=1, max_length=200)]
CampaignFilter = Annotated[
    str | None, Query(alias="campaign", max_length=200, description="a campaign id")
]
Limit = Annotated[int, Query(ge=1, le=5000)]
Operator = Annotated[
    str | None,
    Header(
        alias="X-Operator",
        max_length=80,
        description="who is acting, for the audit trail (default: 'token holder')",
    ),
]

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": m.Problem, "description": "no or wrong bearer token"},
    404: {"model": m.Problem, "description": "no such target"},
}
CONTROL: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    409: {"model": m.Problem, "description": "the target is not in a state this applies to"},
}


def resolve_token(token: str | None = None) -> tuple[str, bool]:
    """The control token: given, else $PPU_TOKEN, else a fresh one. True if generated."""
    if token:
        return token, False
    env = os.environ.get("PPU_TOKEN")
    if env:
        return env, False
    return secrets.token_urlsafe(18), True


def create_app(db_url: str, token: str | None = None, *, open_reads: bool = True) -> FastAPI:
    """The dashboard app over the store at `db_url`.

    Control needs `Authorization: Bearer <token>`. Reads need it too unless `open_reads`
    (the default, right when the server listens on loopback only)."""
    token, _ = resolve_token(token)
    engine = make_engine(db_url)
    stopping = threading.Event()
    bearer = HTTPBearer(auto_error=False, description="the token printed when the server starts")

    def session() -> Iterator[Session]:
        with Session(engine) as s:
            yield s

    sessions = Sessions()

    def token_ok(given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    def unauthorized() -> HTTPException:
        return HTTPException(
            401,
            "control needs the bearer token, or signing in on the page",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def signed_in(request: Request) -> str | None:
        return sessions.operator(request.cookies.get(cookie_name(request)))

    def may_read(request: Request) -> None:
        # not declared as security in the spec: on loopback (the default) reads are open, to
        # a page that asked for this server by a loopback name (a page from another site
        # whose name now points at 127.0.0.1, DNS rebinding, asks by its own name)
        if (
            open_reads
            and request.client is not None
            and request.client.host in LOOPBACK
            and host_name(request.headers.get("host", "")) in LOOPBACK_NAMES
        ):
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token_ok(given.strip()):
            return
        if signed_in(request) is None:
            raise unauthorized()

    def who_acts(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        operator: Operator = None,
    ) -> str:
        if creds is not None and token_ok(creds.credentials):
            name = (operator or "").strip()
            return name if name.isprintable() and name else "token holder"
        person = signed_in(request)
        if person is None:
            raise unauthorized()
        # a cookie rides along with any request to this host: refuse another site's page
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
            raise HTTPException(403, f"control from another site ({origin}) is refused")
        return person

    DB = Annotated[Session, Depends(session)]
    Who = Annotated[str, Depends(who_acts)]

    app = FastAPI(
        title="ppu dashboard API",
        version="1",
        description=(
            "Watch and steer a running campaign. Reads are open on loopback; control needs "
            "the bearer token. Control actions queue a command for the runtime (202) and "
            "are the audit trail. Quantities are {value, unit}; `*_v_s` is virtual lab time "
            "in seconds, `*_wall_s` Unix time."
        ),
    )
    app.state.engine = engine
    app.state.token = token
    app.state.stopping = stopping
    app.add_middleware(Admission)
    bell = bell_for(db_url)
    cache = ReadCache(bell)
    app.state.read_cache = cache

    def read(key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """One answer for every page asking the same, until the store changes."""
        return cache.get(key, compute)

    @app.exception_handler(OperationalError)
    async def busy_store(_request: Request, exc: OperationalError) -> JSONResponse:
        # the writer holds the store for longer than the busy timeout: try again shortly
        return JSONResponse(
            {"detail": f"store busy: {exc.orig}"}, status_code=503, headers={"Retry-After": "1"}
        )

    reads = APIRouter(prefix="/api", dependencies=[Depends(may_read)], responses=PROBLEMS)
    control = APIRouter(prefix="/api", responses=CONTROL)

    def found(value: Any, what: str) -> Any:
        if value is None:
            raise HTTPException(404, f"no {what}")
        return value

    # -- reads ------------------------------------------------------------------------------
    @reads.get("/campaigns", response_model=list[m.CampaignOut], tags=["campaigns"])
    def list_campaigns(s: DB) -> Any:
        """Every campaign in the store, newest first."""
        return read(("campaigns",), lambda: q.campaigns(s))

    @reads.get("/campaigns/{campaign_id}", response_model=m.CampaignOut, tags=["campaigns"])
    def get_campaign(campaign_id: CampaignId, s: DB) -> Any:
        return found(
            read(("campaign", campaign_id), lambda: q.campaign(s, campaign_id)),
            f"campaign '{campaign_id}'",
        )

    @reads.get("/campaigns/{campaign_id}/timeline", response_model=m.Timeline, tags=["campaigns"])
    def get_timeline(campaign_id: CampaignId, s: DB) -> Any:
        """Kernels per instrument on the virtual clock (a Gantt chart's bars)."""
        return found(
            read(("timeline", campaign_id), lambda: q.timeline(s, campaign_id)),
            f"campaign '{campaign_id}'",
        )

    @reads.get(
        "/campaigns/{campaign_id}/isotherms", response_model=list[m.Isotherm], tags=["campaigns"]
    )
    def get_isotherms(
        campaign_id: CampaignId,
        s: DB,
        latest: Annotated[int, Query(ge=1, le=100)] = 4,
        launch: Annotated[
            list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None,
            Query(max_length=50, description="these isotherm launches instead of the latest"),
        ] = None,
    ) -> Any:
        """The latest isotherm launches and their points so far (pressure vs uptake), or the
        launches named (an experiment's)."""
        key = ("isotherms", campaign_id, latest, tuple(launch or ()))
        return found(
            read(key, lambda: q.isotherms(s, campaign_id, latest, launch)),
            f"campaign '{campaign_id}'",
        )

    @reads.get("/campaigns/{campaign_id}/progress", response_model=m.Progress, tags=["campaigns"])
    def get_progress(campaign_id: CampaignId, s: DB) -> Any:
        """Objective values per experiment, best so far, and the Pareto front (≥ 2 objectives)."""
        return found(
            read(("progress", campaign_id), lambda: q.progress(s, campaign_id)),
            f"campaign '{campaign_id}'",
        )

    @reads.get(
        "/campaigns/{campaign_id}/experiments",
        response_model=list[m.ExperimentRow],
        tags=["campaigns"],
    )
    def get_experiments(campaign_id: CampaignId, s: DB) -> Any:
        """The experiments table: conditions, the planner's phase and reasons, predicted vs
        measured, failures, samples and isotherm launches; the best row marked."""
        return found(
            read(("experiments", campaign_id), lambda: q.experiments(s, campaign_id)),
            f"campaign '{campaign_id}'",
        )

    @reads.get(
        "/campaigns/{campaign_id}/utilisation", response_model=m.Utilisation, tags=["campaigns"]
    )
    def get_utilisation(campaign_id: CampaignId, s: DB) -> Any:
        """Each instrument's share of lab time busy (whole campaign, last 24 h) and the
        bottleneck."""

        def use() -> Any:
            if q.campaign(s, campaign_id) is None:
                return None
            names = [i["name"] for i in q.instruments(s, campaign_id)]
            return q.utilisation(s, campaign_id, names)

        return found(read(("utilisation", campaign_id), use), f"campaign '{campaign_id}'")

    @reads.get(
        "/campaigns/{campaign_id}/queue", response_model=list[m.QueueGroup], tags=["campaigns"]
    )
    def get_queue(campaign_id: CampaignId, s: DB) -> Any:
        """What is active, grouped by experiment, each launch with what it waits for."""
        return found(
            read(("queue", campaign_id), lambda: q.queue(s, campaign_id)),
            f"campaign '{campaign_id}'",
        )

    @reads.get("/launches", response_model=list[m.LaunchOut], tags=["launches"])
    def list_launches(
        s: DB,
        campaign: CampaignFilter = None,
        state: Annotated[list[str] | None, Query(max_length=10)] = None,
        instrument: Annotated[str | None, Query(max_length=200)] = None,
        limit: Limit = 1000,
    ) -> Any:
        """Launches, oldest first (the newest `limit`); `state` may repeat."""
        key = ("launches", campaign, tuple(state or ()), instrument, limit)
        return read(key, lambda: q.launches(s, campaign, state or (), instrument, limit))

    @reads.get("/launches/{launch_id}", response_model=m.LaunchOut, tags=["launches"])
    def get_launch(launch_id: RowId, s: DB) -> Any:
        return found(q.launch(s, launch_id), f"launch {launch_id}")

    @reads.get("/instruments", response_model=list[m.InstrumentOut], tags=["instruments"])
    def list_instruments(s: DB, campaign: CampaignFilter = None) -> Any:
        """Each instrument's live state as the runtime wrote it (else inferred from launches)."""
        return read(("instruments", campaign), lambda: q.instruments(s, campaign))

    @reads.get("/consumables", response_model=list[m.ConsumableOut], tags=["instruments"])
    def list_consumables(s: DB, campaign: CampaignFilter = None) -> Any:
        """Stock levels (stock solutions, solvents, gas, vials) and their refills."""
        return q.consumables(s, campaign)

    @reads.get("/samples", response_model=list[m.SampleOut], tags=["samples"])
    def list_samples(s: DB, campaign: CampaignFilter = None) -> Any:
        """Samples with their parents and children: the lineage graph's nodes and edges."""
        return read(("samples", campaign), lambda: q.samples(s, campaign))

    @reads.get("/samples/{sample_id}", response_model=m.SampleLineage, tags=["samples"])
    def get_sample(sample_id: Annotated[str, PathParam(max_length=200)], s: DB) -> Any:
        """One sample, everything it came from and everything made from it."""
        return found(q.sample_lineage(s, sample_id), f"sample '{sample_id}'")

    @reads.get("/measurements", response_model=list[m.MeasurementOut], tags=["measurements"])
    def list_measurements(
        s: DB,
        campaign: CampaignFilter = None,
        launch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        sample: Annotated[str | None, Query(max_length=200)] = None,
        name: Annotated[
            str | None, Query(max_length=200, description="names starting with this")
        ] = None,
        after: Annotated[int, Query(ge=0, le=MAX_ID, description="ids above this")] = 0,
        limit: Limit = 1000,
        fidelity: Annotated[
            Literal["measured", "computed"] | None,
            Query(description="measured (instruments) or computed (a twin's estimates)"),
        ] = None,
    ) -> Any:
        """Measurements with their units, fidelity and provenance, oldest first."""
        return q.measurements(s, campaign, launch, sample, name, after, limit, fidelity)

    @reads.get("/suggestions", response_model=list[m.SuggestionOut], tags=["suggestions"])
    def list_suggestions(
        s: DB,
        campaign: CampaignFilter = None,
        status: Annotated[
            str | None, Query(max_length=40, description="e.g. awaiting_approval")
        ] = None,
    ) -> Any:
        """The planner's proposals (experiments) with provenance and outcome."""
        return read(("suggestions", campaign, status), lambda: q.suggestions(s, campaign, status))

    @reads.get("/suggestions/{experiment_id}", response_model=m.SuggestionOut, tags=["suggestions"])
    def get_suggestion(experiment_id: RowId, s: DB) -> Any:
        return found(q.suggestion(s, experiment_id), f"suggestion {experiment_id}")

    @reads.get("/steps", response_model=list[m.StepOut], tags=["operator steps"])
    def list_steps(
        s: DB,
        campaign: CampaignFilter = None,
        state: Annotated[
            str | None, Query(max_length=40, description="waiting | confirmed")
        ] = None,
    ) -> Any:
        """Manual steps kernels asked for, waiting or confirmed."""
        return read(("steps", campaign, state), lambda: q.steps(s, campaign, state))

    @reads.get("/audit", response_model=list[m.CommandOut], tags=["audit"])
    def get_audit(s: DB, campaign: CampaignFilter = None, limit: Limit = 200) -> Any:
        """Every control action, newest first: who, when, what, and what came of it."""
        return read(("audit", campaign, limit), lambda: q.audit(s, campaign, limit))

    @reads.get("/commands/{command_id}", response_model=m.CommandOut, tags=["audit"])
    def get_command(command_id: RowId, s: DB) -> Any:
        """One control action: poll it to see whether the runtime did it or refused."""
        from ppu.store.models import Command

        row = found(s.get(Command, command_id), f"command {command_id}")
        return q.command_out(row)

    @reads.get(
        "/stream",
        tags=["stream"],
        response_class=JSONResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "event stream"}},
    )
    async def stream(request: Request, campaign: CampaignFilter = None) -> Any:
        """Server-sent events: `launch` (journal entries), `measurement`, `experiment`,
        `command`, `step`, `instrument`, `campaign`; first a `hello`. Pushed as soon as a
        writer in this process commits; a writer elsewhere is seen within 0.4 s."""
        from sse_starlette.sse import EventSourceResponse

        return EventSourceResponse(
            _events(request, engine, campaign, stopping), ping=10, send_timeout=10
        )

    # -- control ----------------------------------------------------------------------------
    def command(
        s: Session, kind: str, target: str, who: str, cid: str | None, arg: str | None = None
    ) -> dict[str, Any]:
        out = q.add_command(s, kind, target, who, cid, arg)
        bell.ring()  # a write of our own: answers kept from before it are stale
        return out

    def campaign_action(kind: str) -> Callable[..., Any]:
        def act(campaign_id: CampaignId, who: Who, s: DB) -> Any:
            c = found(q.campaign(s, campaign_id), f"campaign '{campaign_id}'")
            if c["state"] in q.TERMINAL_CAMPAIGN:
                raise HTTPException(409, f"campaign '{campaign_id}' is {c['state']}")
            return command(s, kind, campaign_id, who, campaign_id)

        act.__doc__ = f"Ask the runtime to {kind} the campaign."
        return act

    def instrument_action(kind: str) -> Callable[..., Any]:
        def act(name: InstrumentName, who: Who, s: DB) -> Any:
            if name not in q.instrument_names(s):
                raise HTTPException(404, f"no instrument '{name}'")
            return command(s, kind, name, who, q.instrument_campaign(s, name))

        act.__doc__ = f"Ask the runtime to {kind} the instrument (a held one takes no launches)."
        return act

    def suggestion_action(kind: str) -> Callable[..., Any]:
        def act(experiment_id: RowId, who: Who, s: DB) -> Any:
            e = found(s.get(Experiment, experiment_id), f"suggestion {experiment_id}")
            if e.status != "awaiting_approval":
                raise HTTPException(
                    409, f"suggestion {experiment_id} is {e.status}, not awaiting approval"
                )
            return command(s, kind, str(experiment_id), who, e.campaign_id)

        act.__doc__ = f"{kind.capitalize()} a proposal that waits for approval."
        return act

    for kind in ("pause", "resume", "abort"):
        control.post(
            f"/campaigns/{{campaign_id}}/{kind}",
            response_model=m.CommandOut,
            status_code=202,
            tags=["campaigns"],
            name=f"{kind}_campaign",
        )(campaign_action(kind))
    for kind in ("hold", "release"):
        control.post(
            f"/instruments/{{name}}/{kind}",
            response_model=m.CommandOut,
            status_code=202,
            tags=["instruments"],
            name=f"{kind}_instrument",
        )(instrument_action(kind))
    for kind in ("approve", "reject"):
        control.post(
            f"/suggestions/{{experiment_id}}/{kind}",
            response_model=m.CommandOut,
            status_code=202,
            tags=["suggestions"],
            name=f"{kind}_suggestion",
        )(suggestion_action(kind))

    @control.post(
        "/steps/{step_id}/confirm",
        response_model=m.CommandOut,
        status_code=202,
        tags=["operator steps"],
    )
    def confirm_step(step_id: RowId, who: Who, s: DB) -> Any:
        """Say a manual step is done; the waiting kernel goes on."""
        st = found(s.get(OperatorStepRecord, step_id), f"operator step {step_id}")
        if st.state != "waiting":
            raise HTTPException(409, f"operator step {step_id} is already {st.state}")
        return command(s, "confirm", str(step_id), who, st.campaign_id)

    @control.post(
        "/steps/{step_id}/could_not",
        response_model=m.CommandOut,
        status_code=202,
        tags=["operator steps"],
        responses={400: {"model": m.Problem, "description": "the body is not JSON"}},
    )
    def step_could_not(
        step_id: RowId, who: Who, s: DB, body: Annotated[m.CouldNotIn | None, Body()] = None
    ) -> Any:
        """Say a manual step could not be done: the kernel waiting on it fails (with who
        and why) instead of going on."""
        st = found(s.get(OperatorStepRecord, step_id), f"operator step {step_id}")
        if st.state != "waiting":
            raise HTTPException(409, f"operator step {step_id} is already {st.state}")
        why = (body.why if body is not None else "").strip() or None
        return command(s, COULD_NOT, str(step_id), who, st.campaign_id, why)

    @control.post(
        "/launches/{launch_id}/resolve",
        response_model=m.CommandOut,
        status_code=202,
        tags=["launches"],
        responses={400: {"model": m.Problem, "description": "the body is not JSON"}},
    )
    def resolve_launch(launch_id: RowId, body: m.ResolveIn, who: Who, s: DB) -> Any:
        """Settle a launch held for an operator: it did finish, it failed, or re-run it."""
        x = found(s.get(Launch, launch_id), f"launch {launch_id}")
        try:
            check_resolvable(s, launch_id, body.outcome)
        except BadInput as e:
            raise HTTPException(409, str(e)) from None
        return command(s, "resolve", str(launch_id), who, x.campaign_id, body.outcome)

    # -- signing in -------------------------------------------------------------------------
    @app.post(
        "/api/login",
        response_model=m.SignedIn,
        tags=["sign in"],
        responses={
            400: {"model": m.Problem, "description": "the body is not JSON"},
            401: {"model": m.Problem, "description": "wrong token"},
        },
    )
    def login(body: m.LoginIn, request: Request, response: Response) -> Any:
        """Trade the control token for a session cookie (HttpOnly, SameSite=Strict): the page
        then acts as this person, and the token is in no URL or page storage."""
        if not token_ok(body.token):
            raise HTTPException(401, "that is not the token this server printed")
        name = body.operator.strip()
        sid = sessions.open(name)
        response.set_cookie(
            cookie_name(request),
            sid,
            httponly=True,
            samesite="strict",
            path="/",
            max_age=7 * 24 * 3600,
        )
        return {"signed_in": True, "operator": name}

    @app.post("/api/logout", response_model=m.SignedIn, tags=["sign in"])
    def logout(request: Request, response: Response) -> Any:
        sessions.close(request.cookies.get(cookie_name(request)))
        response.delete_cookie(cookie_name(request), path="/")
        return {"signed_in": False, "operator": None}

    @app.get("/api/whoami", response_model=m.SignedIn, tags=["sign in"])
    def whoami(request: Request) -> Any:
        """Whether this browser is signed in, and as whom."""
        person = signed_in(request)
        return {"signed_in": person is not None, "operator": person}

    app.include_router(reads)
    app.include_router(control)

    # -- the page ---------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _events(
    request: Request, engine: Any, campaign_id: str | None, stopping: threading.Event
) -> AsyncIterator[dict[str, Any]]:
    """The live stream: what changed in the store, told as soon as a writer in this process
    commits (its bell), else within POLL_S (a writer in another process)."""

    def start() -> q.Follower:
        with Session(engine) as s:
            return q.Follower(s, campaign_id)

    def poll(f: q.Follower) -> list[tuple[str, dict[str, Any]]]:
        with Session(engine) as s:
            return f.poll(s)

    bell = bell_for(engine.url.render_as_string(hide_password=False))
    rung = bell.listen()
    try:
        follower = await asyncio.to_thread(start)
        # what it saw is the baseline it reports changes from: answers kept from before it
        # must not be read after its hello (another process's writes ring no bell here)
        bell.ring()
        yield {
            "event": "hello",
            "data": json.dumps({"campaign": campaign_id, "poll_s": POLL_S, "push": True}),
        }
        last = 0.0
        while not stopping.is_set() and not await request.is_disconnected():
            try:
                await asyncio.wait_for(rung.wait(), POLL_S)
            except TimeoutError:
                pass
            else:
                # a burst of commits lands together; a busy writer is looked at no more
                # often than every MIN_GAP_S, so the stream never competes with it
                loop = asyncio.get_running_loop()
                await asyncio.sleep(max(COALESCE_S, last + MIN_GAP_S - loop.time()))
            rung.clear()
            last = asyncio.get_running_loop().time()
            try:
                batch = await asyncio.to_thread(poll, follower)
            except OperationalError:
                batch = []  # the writer is busy: look again next time
            if batch:
                bell.ring()  # the page re-reads on these events: kept answers are stale now
            for name, data in batch:
                yield {"event": name, "data": json.dumps(data, default=str)}
    finally:
        bell.forget(rung)
