"""Sending notices through Apprise, from a thread of its own.

The lab's event loop only puts a notice on a queue; a worker thread builds the message and
sends it to every URL of the lab file's `[notify]` and `$PPU_NOTIFY`. A slow mail server or
a dead webhook therefore never blocks a launch, and never moves a dry-run's virtual clock
(the loop does not wait on the send). A failed send is a warning in the log, never a failed
launch. Every notice is logged as well, so a lab without URLs still has the line.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ppu.core.errors import BadInput
from ppu.lab.spec import NotifySpec, notification_url_problem
from ppu.runtime.notices import Notice

log = logging.getLogger("ppu.notify")

#: the environment variable with more Apprise URLs (comma or space separated)
ENV = "PPU_NOTIFY"
#: how long closing waits for notices still being sent (wall seconds)
DRAIN_S = 15.0


def env_urls(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The URLs of $PPU_NOTIFY, each checked: a bad one is one line naming the variable."""
    text = (os.environ if environ is None else environ).get(ENV, "")
    urls = tuple(u for u in re.split(r"[\s,]+", text) if u)
    for i, url in enumerate(urls):
        problem = notification_url_problem(url)
        if problem is not None:
            raise BadInput(f"${ENV} (URL {i + 1})", problem)
    return urls


@dataclass
class Notifier:
    """Notices in, Apprise messages out, on a worker thread started at the first notice."""

    urls: tuple[str, ...] = ()
    #: the latest notices given, in order (what a test may look at)
    given: deque[Notice] = field(default_factory=lambda: deque(maxlen=1000))
    sent: int = 0
    failed: int = 0
    _queue: queue.Queue[Notice | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    @classmethod
    def for_lab(cls, spec: NotifySpec, environ: dict[str, str] | None = None) -> Notifier:
        urls = tuple(dict.fromkeys([*spec.urls, *env_urls(environ)]))  # each once
        return cls(urls=urls)

    def send(self, notice: Notice) -> None:
        """Queue `notice`; returns at once."""
        self.given.append(notice)
        log.info("%s: %s", notice.title, notice.what)
        if not self.urls:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="ppu-notify", daemon=True)
            self._thread.start()
        self._queue.put(notice)

    def close(self, timeout_s: float = DRAIN_S) -> None:
        """Send what is queued (up to `timeout_s` of wall time), then stop the worker. Call
        it off the event loop (it waits)."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("notifications: %d not sent within %.0f s", self._queue.qsize(), timeout_s)
        self._thread = None

    def _work(self) -> None:
        import apprise

        sender = apprise.Apprise()
        for url in self.urls:
            sender.add(url)
        while True:
            notice = self._queue.get()
            if notice is None:
                return
            self._deliver(sender, notice)

    def _deliver(self, sender: object, notice: Notice) -> None:
        import apprise

        kinds = {
            "info": apprise.NotifyType.INFO,
            "warning": apprise.NotifyType.WARNING,
            "failure": apprise.NotifyType.FAILURE,
        }
        try:
            ok = sender.notify(  # type: ignore[attr-defined]
                title=notice.title, body=notice.body, notify_type=kinds[notice.severity]
            )
        except Exception as e:  # a notification must never take the lab down
            ok = False
            log.warning("notification %r not sent: %s: %s", notice.title, type(e).__name__, e)
        if ok:
            self.sent += 1
        else:
            self.failed += 1
            log.warning(
                "notification %r not sent to every URL (%s); see Apprise's log above",
                notice.title,
                ", ".join(_schemes(self.urls)),
            )


def _schemes(urls: Iterable[str]) -> list[str]:
    """Where notices go, without addresses or passwords."""
    return sorted({u.split("://", 1)[0] + "://…" for u in urls})
