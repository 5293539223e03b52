"""Calls and errors in the last hour, in this process: what the connect page shows as live state.

Sixty one-minute buckets in a ring; recording a call is two integer additions. Prometheus has the
real history (and every worker's); this is the glance a person gets without a dashboard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

_MINUTES: Final = 60


@dataclass(frozen=True, slots=True)
class Tally:
    calls: int
    errors: int


class RecentCalls:
    def __init__(self) -> None:
        self._minute = [-1] * _MINUTES  # which minute each slot counts
        self._calls = [0] * _MINUTES
        self._errors = [0] * _MINUTES

    def record(self, failed: bool, now: float | None = None) -> None:
        minute = int((time.time() if now is None else now) // 60)
        slot = minute % _MINUTES
        if self._minute[slot] != minute:
            self._minute[slot], self._calls[slot], self._errors[slot] = minute, 0, 0
        self._calls[slot] += 1
        if failed:
            self._errors[slot] += 1

    def last_hour(self, now: float | None = None) -> Tally:
        minute = int((time.time() if now is None else now) // 60)
        live = [i for i in range(_MINUTES) if minute - _MINUTES < self._minute[i] <= minute]
        return Tally(sum(self._calls[i] for i in live), sum(self._errors[i] for i in live))


RECENT_CALLS: Final = RecentCalls()
