"""Answers to reads, kept until the store changes: every open page asks the same questions
after every event, so one answer serves them all.

An answer is kept until this process's store bell rings (a commit here), and at most
`TTL_S` (a writer in another process rings no bell here); so an in-process page never sees a
stale answer, another process's changes are seen within TTL_S."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from ppu.store.bell import Bell

TTL_S = 0.25
MAX_ENTRIES = 512


class ReadCache:
    def __init__(self, bell: Bell, ttl_s: float = TTL_S) -> None:
        self.bell = bell
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._answers: dict[Hashable, tuple[int, float, Any]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        rung = self.bell.rings
        now = time.monotonic()
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None and hit[0] == rung and now - hit[1] < self.ttl_s:
                self.hits += 1
                return hit[2]
        answer = compute()
        with self._lock:
            self.misses += 1
            if len(self._answers) >= MAX_ENTRIES:
                self._answers.clear()
            self._answers[key] = (rung, now, answer)
        return answer
