"""Admission: at most so many requests in flight; the rest are told 503 with Retry-After at
once, instead of waiting in a queue that grows without limit (one server process answers a
dashboard, a few scripts and agents; past that, a quick "busy" keeps it answering)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

#: requests served at once (the threadpool that runs reads has 40 threads)
LIMIT = 32
#: live streams at once: each holds a connection for as long as a page is open
STREAMS = 64
STREAM_PATH = "/api/stream"


class Admission:
    def __init__(self, app: ASGIApp, limit: int = LIMIT, streams: int = STREAMS) -> None:
        self.app = app
        self.limit = limit
        self.streams = streams
        self.in_flight = 0
        self.streaming = 0
        self.refused = 0

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stream = scope.get("path") == STREAM_PATH
        if stream and self.streaming >= self.streams:
            await self._busy(send, f"{self.streaming} live streams are open")
            return
        if not stream and self.in_flight >= self.limit:
            await self._busy(send, f"{self.in_flight} requests in flight")
            return
        if stream:
            self.streaming += 1
        else:
            self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            if stream:
                self.streaming -= 1
            else:
                self.in_flight -= 1

    async def _busy(self, send: Callable[[Message], Awaitable[None]], why: str) -> None:
        self.refused += 1
        body = json.dumps({"detail": f"the dashboard server is busy ({why}); try again"})
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", b"1"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
