"""The built-in authorization server's grants in this process: bounded, expired entries dropped,
oldest evicted first. They end with the process (people then sign in again)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from mcp_server.store.oauth_grants import GrantKind

MAX_ENTRIES: Final = 100_000


class InProcessOAuthGrantStore:
    def __init__(self, *, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.time) -> None:
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[GrantKind, str], tuple[str, float | None]] = OrderedDict()

    async def put(self, kind: GrantKind, key: str, value: str, ttl_seconds: float | None) -> None:
        expires_at = None if ttl_seconds is None else self._clock() + ttl_seconds
        self._entries[(kind, key)] = (value, expires_at)
        self._entries.move_to_end((kind, key))
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def get(self, kind: GrantKind, key: str) -> str | None:
        entry = self._entries.get((kind, key))
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and expires_at <= self._clock():
            del self._entries[(kind, key)]
            return None
        return value

    async def take(self, kind: GrantKind, key: str) -> str | None:
        value = await self.get(kind, key)
        self._entries.pop((kind, key), None)
        return value

    async def first(self, kind: GrantKind, key: str, value: str) -> str:
        existing = await self.get(kind, key)
        if existing is not None:
            return existing
        await self.put(kind, key, value, None)
        return value
