"""Rate counters in this process: a sliding log of event times per key (at most `limit` kept), keys
dropped once their window has passed. Each worker process counts on its own."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Final

SWEEP_EVERY: Final = 1_000  # hits between sweeps of keys whose events have all expired


class InProcessRateCounter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[str, tuple[float, deque[float]]] = {}  # key -> (window, event times, oldest first)
        self._hits = 0

    def __len__(self) -> int:
        return len(self._events)

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> float | None:
        now = self._clock()
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            self._sweep(now)
        _, times = self._events.setdefault(key, (window_seconds, deque[float]()))
        while times and times[0] <= now - window_seconds:
            times.popleft()
        if len(times) >= limit:
            return max(0.0, times[0] + window_seconds - now)
        times.append(now)
        return None

    def _sweep(self, now: float) -> None:
        for key, (window, times) in list(self._events.items()):
            if not times or times[-1] <= now - window:
                del self._events[key]
