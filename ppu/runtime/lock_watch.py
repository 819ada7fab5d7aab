"""Watching the campaign's lock: a controller that loses it stops starting work.

On a PostgreSQL store the lock is a session on the server (ADR 0012). If that session ends
while the controller lives (the server restarted, a network cut long enough for keepalives
to give up, an administrator's pg_terminate_backend), another controller may take the
campaign, and two would drive one lab. A thread asks the lock's connection every few seconds
(a dead link answers within seconds: client-side TCP timeouts); once it is lost it tries to
take the lock again. The controller's loop reads what the thread found: lost, every instrument is
held (running kernels finish, nothing new starts) and an alarm recorded naming who holds the
lock now; taken again, it goes on, unless another controller ran the campaign meanwhile:
then this one gives the lock up and starts nothing more. A lock file (SQLite stores) cannot
be lost while its process lives: nothing is watched.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

CHECK_S = 2.0


@dataclass
class LockWatch:
    lock: Any  # ppu.runtime.holds.CampaignLock
    check_s: float = CHECK_S
    #: None while held; else why it is not (who holds it, or why it could not be asked)
    lost: str | None = None
    #: times it was lost, and taken again
    losses: int = 0
    retaken: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        if not self.lock.watchable or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ppu-lock-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            self.check()

    def check(self) -> None:
        """Ask once: is it still held; if not, take it again if one can."""
        if self.lost is None and not self.lock.still_held():
            with self._lock:
                self.losses += 1
                self.lost = "the store server dropped the lock's session"
        if self.lost is not None:
            why = self.lock.try_again()
            with self._lock:
                if why is None:
                    self.retaken += 1
                    self.lost = None
                else:
                    self.lost = why

    def stop_watching(self) -> None:
        """Give the lock up for good (another controller has run the campaign): a person's
        `ppu resume` may take it; this controller starts nothing more."""
        self._stop.set()
        self.lock.release()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.check_s + 10.0)
            self._thread = None
