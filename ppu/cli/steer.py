"""`ppu pause | abort | approve | reject | hold | release`: steering a campaign from the shell.

Each writes the row the dashboard's API writes (`ppu.api.queries.add_command`): a pending
`Command` that the campaign's controller carries out and marks done or refused. The rows
are the audit trail (who, when, what came of it). The checks come first, so a command
nobody will carry out is never written: the campaign (or experiment) must exist, be
open, and have a live controller. `--wait` waits (bounded) for the controller's answer.
`ppu resume` (in `ppu.cli.recovery`) sends `resume` the same way to a paused campaign.
"""

import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

#: a campaign in one of these states takes no more commands
CLOSED = ("done", "aborted", "abandoned")
WAIT_S = 30.0


def default_who() -> str:
    return os.environ.get("USER") or "cli"


WhoOption = Annotated[
    str | None,
    typer.Option("--who", help="Your name, for the audit (default: $USER, else cli)."),
]
WaitOption = Annotated[
    bool,
    typer.Option("--wait", help="Wait until the controller has carried it out or refused it."),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="With --wait: give up after this many seconds.")
]


def register(app: typer.Typer) -> None:
    from ppu.cli.app import DbOption, JsonOption

    CampaignArg = Annotated[str, typer.Argument(help="Campaign id (see `ppu campaigns`).")]
    ExperimentArg = Annotated[
        int, typer.Argument(help="The proposal's experiment id (see `ppu status CAMPAIGN`).")
    ]

    @app.command("pause")
    def pause_cmd(
        campaign: CampaignArg,
        who: WhoOption = None,
        wait: WaitOption = False,
        timeout: TimeoutOption = WAIT_S,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Pause a running campaign: running kernels finish, nothing new starts.

        `ppu resume CAMPAIGN` carries on."""
        _run(as_json, lambda: steer_campaign("pause", campaign, who, db, as_json, wait, timeout))

    @app.command("abort")
    def abort_cmd(
        campaign: CampaignArg,
        who: WhoOption = None,
        wait: WaitOption = False,
        timeout: TimeoutOption = WAIT_S,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Abort a running campaign: kernels stop, instruments go to their safe state.

        Its controller exits with code 3. A campaign whose controller died is closed with
        `ppu campaigns abandon` instead."""
        _run(as_json, lambda: steer_campaign("abort", campaign, who, db, as_json, wait, timeout))

    @app.command("approve")
    def approve_cmd(
        experiment: ExperimentArg,
        who: WhoOption = None,
        wait: WaitOption = False,
        timeout: TimeoutOption = WAIT_S,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Accept a proposal that waits for approval (a campaign with `approval = true`)."""
        _run(
            as_json,
            lambda: steer_suggestion("approve", experiment, who, db, as_json, wait, timeout),
        )

    @app.command("reject")
    def reject_cmd(
        experiment: ExperimentArg,
        who: WhoOption = None,
        wait: WaitOption = False,
        timeout: TimeoutOption = WAIT_S,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Turn down a proposal that waits for approval: it is ABANDONED, the planner moves on."""
        _run(
            as_json,
            lambda: steer_suggestion("reject", experiment, who, db, as_json, wait, timeout),
        )

    InstrumentArg = Annotated[str, typer.Argument(help="Instrument name (see `ppu status`).")]
    ForCampaign = Annotated[
        str | None,
        typer.Option(
            "--campaign",
            help="The campaign whose lab it is (default: the one that last used it).",
        ),
    ]

    @app.command("hold")
    def hold_cmd(
        instrument: InstrumentArg,
        campaign: ForCampaign = None,
        who: WhoOption = None,
        wait: WaitOption = False,
        timeout: TimeoutOption = WAIT_S,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Hold an instrument of a running campaign: what runs on it finishes, nothing new
        starts."""
        _run(
            as_json,
            lambda: steer_instrument("hold", instrument, campaign, who, db, as_json, wait, timeout),
        )

    @app.command("release")
    def release_cmd(
        instrument: InstrumentArg,
        campaign: ForCampaign = None,
        who: WhoOption = None,
        wait: WaitOption = False,
        timeout: TimeoutOption = WAIT_S,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Release a held instrument (held by a person, or by the stall watchdog once the
        instrument is checked): launches start on it again."""
        _run(
            as_json,
            lambda: steer_instrument(
                "release", instrument, campaign, who, db, as_json, wait, timeout
            ),
        )


def _run(as_json: bool, body: Any) -> None:
    from ppu.cli.app import guard

    guard(as_json, body)


# -- the checks (a Session in, an error out: the API could make the same) -------------------


def check_campaign_command(s: Any, kind: str, campaign_id: str) -> Any:
    """The campaign a pause / resume / abort is for, or BadInput saying why not."""
    from ppu.core.errors import BadInput
    from ppu.runtime.holds import controller_alive, db_url
    from ppu.store.models import Campaign

    c = s.get(Campaign, campaign_id)
    place = f"campaign {campaign_id}"
    if c is None:
        raise BadInput(place, "not in this store (see `ppu campaigns`)")
    if c.state in CLOSED:
        raise BadInput(place, f"it is {c.state}: nothing to {kind}")
    if not controller_alive(db_url(s), campaign_id):
        raise BadInput(place, no_controller(campaign_id, c.state))
    if kind == "pause" and c.state == "paused":
        raise BadInput(place, f"it is already paused (`ppu resume {campaign_id}` carries on)")
    if kind == "resume" and c.state != "paused":
        raise BadInput(
            place,
            f"it is {c.state} (a controller owns it): nothing to resume; "
            f"`ppu pause {campaign_id}` pauses it",
        )
    return c


def check_suggestion_command(s: Any, kind: str, experiment_id: int) -> Any:
    """The experiment an approve / reject is for, or BadInput saying why not."""
    from ppu.core.errors import BadInput
    from ppu.runtime.holds import controller_alive, db_url
    from ppu.store.models import Campaign, Experiment

    e = s.get(Experiment, experiment_id)
    place = f"experiment {experiment_id}"
    if e is None:
        raise BadInput(place, "no such experiment (see `ppu status CAMPAIGN`)")
    c = s.get(Campaign, e.campaign_id)
    if c is not None and c.state in CLOSED:
        raise BadInput(place, f"its campaign {c.id} is {c.state}")
    if e.status != "awaiting_approval":
        raise BadInput(place, f"it is {e.status}, not awaiting approval")
    if not controller_alive(db_url(s), e.campaign_id):
        state = c.state if c is not None else "running"
        raise BadInput(place, f"campaign {e.campaign_id}: {no_controller(e.campaign_id, state)}")
    return e


def no_controller(campaign_id: str, state: str) -> str:
    return (
        f"no controller runs it (it stopped while {state}): `ppu resume {campaign_id}` "
        f"carries it on, `ppu campaigns abandon {campaign_id} --why …` closes it"
    )


# -- sending and waiting --------------------------------------------------------------------


def steer_campaign(
    kind: str,
    campaign_id: str,
    who: str | None,
    db: str | None,
    as_json: bool,
    wait: bool,
    timeout: float,
) -> int:
    def check(s: Any) -> str:
        check_campaign_command(s, kind, campaign_id)
        return campaign_id

    return _send(
        kind, campaign_id, f"campaign {campaign_id}", check, who, db, as_json, wait, timeout
    )


def steer_suggestion(
    kind: str,
    experiment_id: int,
    who: str | None,
    db: str | None,
    as_json: bool,
    wait: bool,
    timeout: float,
) -> int:
    def check(s: Any) -> str:
        return check_suggestion_command(s, kind, experiment_id).campaign_id

    place = f"experiment {experiment_id}"
    return _send(kind, str(experiment_id), place, check, who, db, as_json, wait, timeout)


def steer_instrument(
    kind: str,
    instrument: str,
    campaign_id: str | None,
    who: str | None,
    db: str | None,
    as_json: bool,
    wait: bool,
    timeout: float,
) -> int:
    from ppu.api import queries
    from ppu.core.errors import BadInput

    place = f"instrument {instrument}"

    def check(s: Any) -> str:
        if instrument not in queries.instrument_names(s):
            raise BadInput(place, "no campaign in this store has named it")
        cid = campaign_id or queries.instrument_campaign(s, instrument)
        if cid is None:
            raise BadInput(place, "no campaign to send it to (give --campaign)")
        check_campaign_command(s, kind, cid)
        return cid

    return _send(kind, instrument, place, check, who, db, as_json, wait, timeout)


def _send(
    kind: str,
    target: str,
    place: str,
    check: Callable[[Any], str],
    who: str | None,
    db: str | None,
    as_json: bool,
    wait: bool,
    timeout: float,
) -> int:
    """Check, then write one command row as the API does (same audit); `check` returns
    the campaign the command is for."""
    from sqlmodel import Session

    from ppu.api import queries
    from ppu.cli.app import open_existing_store

    _check_timeout(wait, timeout)
    store = open_existing_store(db)
    try:
        with Session(store.engine) as s:
            campaign_id = check(s)
            cmd = queries.add_command(s, kind, target, who or default_who(), campaign_id)
        return _answer(store, cmd, place, as_json, wait, timeout)
    finally:
        store.close()


def _check_timeout(wait: bool, timeout: float) -> None:
    from ppu.core.errors import BadInput

    if wait and not timeout > 0:
        raise BadInput("--timeout", f"{timeout:g} is not a positive number of seconds")


def _answer(
    store: Any, cmd: dict[str, Any], place: str, as_json: bool, wait: bool, timeout: float
) -> int:
    """Print the command sent; with `wait`, the controller's answer (refused: exit 2; no
    answer in time, or the controller gone: exit 1, the command stays queued)."""
    from ppu.cli.app import emit_json, out
    from ppu.core.errors import BadInput, PpuError

    if not wait:
        if as_json:
            emit_json(cmd)
        else:
            out.print(
                f"{place}: {cmd['kind']} sent (command {cmd['id']}, by {cmd['who']}); the "
                f"controller takes it within a second: `ppu status {cmd['campaign_id']}`",
                highlight=False,
            )
        return 0
    done = wait_for_command(store, cmd["id"], cmd["campaign_id"], timeout)
    if done is None:
        raise PpuError(
            f"{place}: command {cmd['id']} ({cmd['kind']}) not taken within {timeout:g} s; "
            "it stays queued for the controller"
        )
    if done["state"] == "pending":
        raise PpuError(
            f"{place}: the controller stopped before it took command {cmd['id']} "
            f"({cmd['kind']}); `ppu resume {cmd['campaign_id']}` carries it on"
        )
    if done["state"] == "refused":
        raise BadInput(place, f"command {cmd['id']} ({cmd['kind']}) refused: {done['result']}")
    if cmd["kind"] == "abort":  # the answer is "aborting": wait for the safe states too
        _wait_closed(store, cmd["campaign_id"], timeout)
    done["campaign_state"] = _campaign_state(store, cmd["campaign_id"])
    if as_json:
        emit_json(done)
    else:
        out.print(
            f"command {done['id']} ({cmd['kind']} by {done['who']}): done: {done['result']}; "
            f"campaign {cmd['campaign_id']} is {done['campaign_state']}",
            highlight=False,
        )
    return 0


def wait_for_command(
    store: Any, command_id: int, campaign_id: str | None, timeout: float
) -> dict[str, Any] | None:
    """The command once the controller has answered it; with state still `pending` if the
    controller stopped first; None if `timeout` seconds passed."""
    from sqlmodel import Session

    from ppu.api import queries
    from ppu.runtime.holds import controller_alive
    from ppu.store.models import Command

    deadline = time.monotonic() + timeout
    gone_since: float | None = None
    while True:
        with Session(store.engine) as s:
            row = s.get(Command, command_id)
            found = queries.command_out(row) if row is not None else None
        if found is None or found["state"] != "pending":
            return found
        now = time.monotonic()
        if campaign_id is not None and not controller_alive(store.url, campaign_id):
            # gone: one more look (it may have answered just before it exited)
            if gone_since is not None:
                return found
            gone_since = now
        if now >= deadline:
            return None
        time.sleep(min(0.1, max(0.0, deadline - now)))


def _wait_closed(store: Any, campaign_id: str, timeout: float) -> None:
    """Until the aborted campaign's controller has made the lab safe and recorded it."""
    from ppu.runtime.holds import controller_alive

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _campaign_state(store, campaign_id) in CLOSED or not controller_alive(
            store.url, campaign_id
        ):
            return
        time.sleep(0.1)


def _campaign_state(store: Any, campaign_id: str | None) -> str | None:
    from sqlmodel import Session

    from ppu.store.models import Campaign

    if campaign_id is None:
        return None
    with Session(store.engine) as s:
        c = s.get(Campaign, campaign_id)
        return c.state if c is not None else None
