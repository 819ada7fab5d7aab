"""A bell that rings after each commit to a store in this process, so a dashboard serving
beside the runtime pushes what changed at once instead of looking every so often.

Readers in another process (`ppu serve --db` on a store a controller elsewhere writes) hear
no bell: they look at the store on a short timer instead."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class Bell:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        #: how many times it has rung: what was read before a ring may be stale
        self.rings = 0

    def listen(self) -> asyncio.Event:
        """An event on the running loop, set whenever the store commits (clear it, then
        wait); call `forget` with it when done."""
        pair = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._listeners.add(pair)
        return pair[1]

    def forget(self, event: asyncio.Event) -> None:
        with self._lock:
            self._listeners = {p for p in self._listeners if p[1] is not event}

    def ring(self) -> None:
        """After a commit, from whichever thread wrote (cheap when nobody listens)."""
        with self._lock:
            self.rings += 1
            listeners = list(self._listeners)
        for loop, event in listeners:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop closed meanwhile: nobody listens there now
                with self._lock:
                    self._listeners.discard((loop, event))


_bells: dict[str, Bell] = {}
_bells_lock = threading.Lock()


def _key(url: str) -> str:
    """One key per store however its URL was typed (a relative SQLite path, an absolute one)."""
    try:
        u = make_url(url)
    except ArgumentError:
        return url
    if u.get_backend_name() == "sqlite" and u.database:
        return "sqlite:" + str(Path(u.database).expanduser().resolve())
    # postgresql:// as typed and postgresql+psycopg:// as the engine has it: one store
    return u.set(drivername=u.get_backend_name()).render_as_string(hide_password=True)


def bell_for(url: str) -> Bell:
    key = _key(url)
    with _bells_lock:
        return _bells.setdefault(key, Bell())
