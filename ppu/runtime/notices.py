"""What a person is told, as typed notices: a step waiting for them, an instrument held, a
quarantine, a burst of faults, a campaign's end.

Each is raised once, where it happens (the control desk, the runtime's alarms, the campaign
loop), and says what happened, where, in which campaign, at what lab time, and what a person
should do. `ppu.runtime.notifier` sends them; nothing here knows how.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Literal

from ppu.runtime.watchdog import duration_text

#: how a notice reads in a chat or a mail client: told as information, a warning, a failure
Severity = Literal["info", "warning", "failure"]


@dataclass(frozen=True)
class Notice:
    """Where and when, common to every notice; the runtime fills what the raiser left out."""

    kind: ClassVar[str] = "notice"
    severity: ClassVar[Severity] = "info"

    lab: str = ""
    campaign_id: str | None = None
    lab_time_s: float = 0.0
    wall: float = 0.0

    @property
    def title(self) -> str:
        raise NotImplementedError

    @property
    def what(self) -> str:
        raise NotImplementedError

    @property
    def to_do(self) -> str:
        raise NotImplementedError

    @property
    def body(self) -> str:
        where = f"lab {self.lab}" + (f", campaign {self.campaign_id}" if self.campaign_id else "")
        when = f"lab time {duration_text(self.lab_time_s)}"
        if self.wall:
            when += f" ({time.strftime('%a %d %b %H:%M', time.localtime(self.wall))})"
        return f"{self.what}\n{where}; {when}\nTo do: {self.to_do}"


@dataclass(frozen=True)
class StepWaiting(Notice):
    kind: ClassVar[str] = "step_waiting"

    step_id: int = 0
    text: str = ""
    instrument: str | None = None
    launch_id: int | None = None

    @property
    def title(self) -> str:
        return f"ppu: step {self.step_id} waits for you" + (
            f" at {self.instrument}" if self.instrument else ""
        )

    @property
    def what(self) -> str:
        launch = f" (launch {self.launch_id})" if self.launch_id is not None else ""
        return f"Manual step {self.step_id}{launch}: {self.text}"

    @property
    def to_do(self) -> str:
        return (
            f"do it, then confirm it (`ppu steps confirm {self.step_id} --who NAME` or the "
            f"dashboard); if it cannot be done, `ppu steps could-not {self.step_id} --why …`"
        )


@dataclass(frozen=True)
class InstrumentHeld(Notice):
    kind: ClassVar[str] = "instrument_held"
    severity: ClassVar[Severity] = "warning"

    instrument: str = ""
    #: who holds it: a person's name, "stall watchdog" or "roll call"
    by: str = ""
    reason: str = ""

    @property
    def alarm(self) -> bool:
        return self.by in ("stall watchdog", "roll call")

    @property
    def title(self) -> str:
        if self.alarm:
            return f"ppu alarm: {self.instrument} held by the {self.by}"
        return f"ppu: {self.instrument} held by {self.by}"

    @property
    def what(self) -> str:
        return f"{self.instrument} is held: nothing new starts on it. {self.reason}".strip()

    @property
    def to_do(self) -> str:
        if self.alarm:
            return (
                f"check {self.instrument} (power, cable, what it is doing), then release it "
                f"(`ppu release {self.instrument}` or the dashboard), or abort the campaign"
            )
        return f"release it when it may work again (`ppu release {self.instrument}`)"


@dataclass(frozen=True)
class Quarantined(Notice):
    kind: ClassVar[str] = "quarantined"
    severity: ClassVar[Severity] = "failure"

    instrument: str = ""
    reason: str = ""

    @property
    def title(self) -> str:
        return f"ppu: {self.instrument} quarantined"

    @property
    def what(self) -> str:
        return (
            f"{self.instrument} is out of service for this campaign: {self.reason}; "
            "what waited for it is abandoned"
        )

    @property
    def to_do(self) -> str:
        return (
            f"look at {self.instrument}'s faults (`ppu status`, the dashboard) and repair it; "
            "the campaign goes on with the instruments left"
        )


@dataclass(frozen=True)
class FaultBurst(Notice):
    kind: ClassVar[str] = "fault_burst"
    severity: ClassVar[Severity] = "warning"

    count: int = 0
    window_s: float = 0.0
    #: faults by instrument, most first
    instruments: tuple[tuple[str, int], ...] = ()
    last: str = ""

    @property
    def title(self) -> str:
        return f"ppu: {self.count} instrument faults in {duration_text(self.window_s)}"

    @property
    def what(self) -> str:
        where = ", ".join(f"{name} {n}" for name, n in self.instruments)
        return (
            f"{self.count} faults on the wire within {duration_text(self.window_s)} of lab "
            f"time ({where}); the last: {self.last}"
        )

    @property
    def to_do(self) -> str:
        first = self.instruments[0][0] if self.instruments else "the instrument"
        return (
            f"check {first}'s cable, adapter and power; retries cover single faults, a "
            "burst often comes before a quarantine"
        )


@dataclass(frozen=True)
class CampaignEnded(Notice):
    kind: ClassVar[str] = "campaign_ended"

    #: done | aborted | failed
    state: str = "done"
    summary: str = ""

    @property
    def severity(self) -> Severity:  # type: ignore[override]
        return "info" if self.state == "done" else "failure"

    @property
    def title(self) -> str:
        return f"ppu: campaign {self.campaign_id} {self.state}"

    @property
    def what(self) -> str:
        return f"Campaign {self.campaign_id} is {self.state}: {self.summary}"

    @property
    def to_do(self) -> str:
        if self.state == "done":
            return f"read its results (`ppu status {self.campaign_id}`, the dashboard)"
        if self.state == "aborted":
            return "the instruments were driven to their safe state; check them before the next run"
        return (
            f"read the error; `ppu holds` shows what is held, `ppu resume {self.campaign_id}` "
            "carries it on once fixed"
        )


@dataclass(frozen=True)
class ControllerAlarm(Notice):
    """The controller's own alarm (it lost its campaign lock, and after)."""

    kind: ClassVar[str] = "controller_alarm"
    severity: ClassVar[Severity] = "warning"

    message: str = ""

    @property
    def title(self) -> str:
        return f"ppu alarm: campaign {self.campaign_id}'s controller"

    @property
    def what(self) -> str:
        return self.message

    @property
    def to_do(self) -> str:
        return f"read `ppu status {self.campaign_id}`; the message says what this one does next"


@dataclass(frozen=True)
class ControllerQuiet(Notice):
    """Seen by a reader (`ppu serve`): a running campaign's controller is gone, or alive
    but silent (hung); or back."""

    kind: ClassVar[str] = "controller_quiet"

    #: gone | hung | back
    state: str = "gone"
    controller: str | None = None
    silent_s: float = 0.0

    @property
    def severity(self) -> Severity:  # type: ignore[override]
        return "info" if self.state == "back" else "failure"

    @property
    def title(self) -> str:
        if self.state == "back":
            return f"ppu: campaign {self.campaign_id}'s controller answers again"
        word = "has stopped" if self.state == "gone" else "is not answering"
        return f"ppu alarm: campaign {self.campaign_id}'s controller {word}"

    @property
    def what(self) -> str:
        if self.state == "gone":
            return (
                f"No process runs campaign {self.campaign_id} though it is not over (its last "
                f"word {duration_text(self.silent_s)} ago): the controller has stopped."
            )
        if self.state == "hung":
            return (
                f"{self.controller} holds campaign {self.campaign_id} but has said nothing for "
                f"{duration_text(self.silent_s)}: it is hung, or its host is overloaded."
            )
        return f"{self.controller} runs campaign {self.campaign_id} and answers again."

    @property
    def to_do(self) -> str:
        if self.state == "gone":
            return (
                f"`ppu resume {self.campaign_id}` carries it on from its journal (held "
                f"launches wait for you); `ppu campaigns abandon {self.campaign_id}` closes it"
            )
        if self.state == "hung":
            return "look at that process and its host; kill it and `ppu resume` if it stays hung"
        return "nothing"
