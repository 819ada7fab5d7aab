"""A lock held on the store's PostgreSQL server, so it means the same on every host.

A lock file only excludes processes on one machine; two controllers on two hosts writing one
PostgreSQL store would each take their own file and both run the campaign. A session-level
advisory lock lives on the server instead: held by one connection of its own, dropped by the
server when that connection ends, however the holder ends (SIGKILL, a crashed host: the
server's TCP keepalives notice within about half a minute). The holder names itself in
`application_name`, so a refused process is told who runs the campaign and where.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from ppu.store.urls import shown_url

# a host that vanishes without closing its socket: the server probes after 10 s idle, every
# 5 s, and drops the session (and its lock) after 3 unanswered probes
_KEEPALIVE = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


def is_server_url(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def lock_key(name: str) -> int:
    """A stable, positive 63-bit key for a name (the server keys advisory locks by bigint)."""
    return int.from_bytes(hashlib.sha1(f"ppu {name}".encode()).digest()[:8], "big") >> 1


def _conninfo(url: str) -> str:
    """The store's URL as libpq takes it (without SQLAlchemy's `+psycopg` driver tag)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


#: this side's view of a vanished server: unacknowledged data fails the connection after
#: 5 s, an idle one is probed after 5 s, every 2 s, given up after 2 unanswered probes
_CLIENT_TCP = {
    "tcp_user_timeout": 5000,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
}


def _connect(url: str, application_name: str = "ppu") -> Any:
    import psycopg

    from ppu.core.errors import PpuError

    try:
        return psycopg.connect(
            _conninfo(url),
            autocommit=True,
            connect_timeout=10,
            application_name=application_name[:63],
            **_CLIENT_TCP,
        )
    except psycopg.OperationalError as e:
        reason = str(e).strip().splitlines()[0]
        raise PpuError(f"store {shown_url(url)}: cannot connect: {reason}") from None


_HOLDERS = """
select l.classid::bigint, l.objid::bigint, a.application_name, host(a.client_addr)
from pg_locks l join pg_stat_activity a on a.pid = l.pid
where l.locktype = 'advisory' and l.granted and l.objsubid = 1
  and l.database = (select oid from pg_database where datname = current_database())
"""


def holders(url: str, names: list[str]) -> dict[str, str | None]:
    """Who holds each named lock, in one query (a page listing campaigns asks often)."""
    keys = {lock_key(n): n for n in names}
    out: dict[str, str | None] = dict.fromkeys(names)
    if not names:
        return out
    for hi, lo, app, addr in _ask(url, _HOLDERS):
        name = keys.get((int(hi) << 32) | int(lo))
        if name is not None:
            out[name] = f"{app} (from {addr})" if addr else app
    return out


#: one reading connection per store URL, kept (the page asks on every refresh); a few URLs
#: at most, the oldest closed first
_readers: collections.OrderedDict[str, Any] = collections.OrderedDict()
_readers_lock = threading.Lock()


def _ask(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with _readers_lock:
        for attempt in (1, 2):
            conn = _readers.pop(url, None)
            if conn is None or conn.closed:
                conn = _connect(url)
            try:
                rows = conn.execute(sql).fetchall()
            except psycopg.OperationalError as e:
                conn.close()  # the server restarted or the link dropped: once more, afresh
                if attempt == 2:
                    from ppu.core.errors import PpuError

                    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    raise PpuError(f"store {shown_url(url)}: {reason}") from None
                continue
            _readers[url] = conn
            while len(_readers) > 4:
                _readers.popitem(last=False)[1].close()
            return rows
    raise AssertionError("unreachable")


def holder(url: str, name: str) -> str | None:
    """Who holds the lock now (its `application_name` and address), or None."""
    return holders(url, [name])[name]


class ServerLock:
    """A session-level advisory lock on the store's server, on a connection of its own."""

    def __init__(self, url: str, name: str, busy: Callable[[str], Exception]) -> None:
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self._busy = busy
        self._conn: Any = None

    def acquire(self) -> None:
        me = f"ppu pid {os.getpid()} on {socket.gethostname()}"
        conn = _connect(self.url, me)
        try:
            for setting, value in _KEEPALIVE.items():
                conn.execute(f"set {setting} = {int(value)}")
            (got,) = conn.execute("select pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if not got:
                raise self._busy(holder(self.url, self.name) or "another process")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def still_held(self) -> bool:
        """Whether the lock's session still lives on the server (a dead link fails within
        seconds: the connection's client-side TCP timeouts)."""
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.execute("select 1")
        except Exception:
            with contextlib.suppress(Exception):
                conn.close()
            self._conn = None
            return False
        return True

    def try_again(self) -> str | None:
        """Take the lock again after losing it: None if taken, else why not (who has it)."""
        from ppu.core.errors import PpuError

        try:
            self.acquire()
        except PpuError as e:
            return str(e)
        return None

    def release(self) -> None:
        if self._conn is not None:
            # unlocked before the close returns (a closed socket is seen by the server a
            # moment later, and a question asked meanwhile would find the lock still held);
            # the close alone would also drop it, as a killed holder's does
            with contextlib.suppress(Exception):
                self._conn.execute("select pg_advisory_unlock(%s)", (self.key,))
            self._conn.close()
            self._conn = None
