"""The rate counter interface: how many events a key had in a sliding window, and when the next one
may come. Keys are opaque strings (`rate:token:<name>`); an implementation may keep them in a store
shared by every worker and replica (Valkey/Redis), so methods are async."""

from __future__ import annotations

from typing import Protocol


class RateCounter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: float) -> float | None:
        """Count one event under `key` when fewer than `limit` happened in the last `window_seconds`
        and return None; otherwise count nothing and return the seconds until one more would fit."""
        ...
