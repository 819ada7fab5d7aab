"""Past its limit the server says 503 with Retry-After at once, instead of queueing; answers
are kept until the store changes, and a change made in this process is seen at once."""

from __future__ import annotations

import asyncio
import json

from ppu.api.admission import Admission
from ppu.api.read_cache import ReadCache
from ppu.store.bell import Bell


def test_requests_past_the_limit_are_told_busy_with_retry_after_and_the_rest_are_served():
    release = asyncio.Event()
    served: list[str] = []

    async def slow_app(scope, receive, send):
        await release.wait()
        served.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = Admission(slow_app, limit=2, streams=1)

    async def call(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request"}

        await gate({"type": "http", "path": path}, receive, send)
        return sent[0]["status"], dict(sent[0]["headers"]), sent[-1].get("body", b"")

    async def main():
        first = [asyncio.create_task(call(f"/api/a{i}")) for i in range(2)]
        await asyncio.sleep(0.01)
        assert gate.in_flight == 2
        status, headers, body = await call("/api/third")  # answered at once, not queued
        assert status == 503 and headers[b"retry-after"] == b"1"
        assert "busy (2 requests in flight)" in json.loads(body)["detail"]
        stream = asyncio.create_task(call("/api/stream"))  # streams have their own limit
        await asyncio.sleep(0.01)
        assert (await call("/api/stream"))[0] == 503
        release.set()
        assert [r[0] for r in await asyncio.gather(*first, stream)] == [200, 200, 200]
        assert gate.in_flight == 0 and gate.streaming == 0
        assert (await call("/api/after"))[0] == 200

    asyncio.run(main())
    assert gate.refused == 2
    assert sorted(served) == ["/api/a0", "/api/a1", "/api/after", "/api/stream"]


def test_a_kept_answer_is_dropped_when_the_store_rings_or_it_grows_old():
    bell = Bell()
    cache = ReadCache(bell, ttl_s=3600.0)
    answers = iter(range(100))
    assert cache.get("k", lambda: next(answers)) == 0
    assert cache.get("k", lambda: next(answers)) == 0  # the same question, one answer
    bell.ring()  # a commit in this process
    assert cache.get("k", lambda: next(answers)) == 1
    old = ReadCache(bell, ttl_s=0.0)  # another process's writes: only age tells
    assert old.get("k", lambda: "a") == "a"
    assert old.get("k", lambda: "b") == "b"
