"""Signed-in people: a login form trades the control token for a session cookie (HttpOnly,
SameSite=Strict), so the token never sits in a URL, a page's storage or a stream's query.

Sessions live in the server's memory: a restarted server asks people to sign in again."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

COOKIE = "ppu_session"
#: a session lasts this long without use (a week-long campaign is watched by day shifts)
IDLE_S = 24 * 3600.0


def cookie_name(request: Any) -> str:
    """One cookie per port: browsers share a host's cookies across its ports, and two
    dashboards on one machine (`ppu run --serve`, `ppu serve`) must not sign each other out."""
    port = request.url.port or (443 if request.url.scheme == "https" else 80)
    return f"{COOKIE}_{port}"


@dataclass
class Sessions:
    idle_s: float = IDLE_S
    _by_id: dict[str, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, operator: str) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._by_id[sid] = (operator, time.monotonic())
        return sid

    def operator(self, sid: str | None) -> str | None:
        """Who this session is, or None (unknown or idle too long); each use renews it."""
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._by_id.get(sid)
            if hit is None:
                return None
            if now - hit[1] > self.idle_s:
                del self._by_id[sid]
                return None
            self._by_id[sid] = (hit[0], now)
            return hit[0]

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)
