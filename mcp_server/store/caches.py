"""Small caches of plain JSON objects (e.g. cited sources), in this process or in the shared store.

A cache is never needed for a call to succeed: a shared cache that cannot be reached answers "not
cached" and forgets what it was given, so the calls it speeds up keep working through a store outage."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

from cachetools import TTLCache

from mcp_server.errors import StoreUnavailableError
from mcp_server.store.shared import SharedStore, digest

logger = logging.getLogger(__name__)
JsonObject = dict[str, Any]


class JsonCache(Protocol):
    async def get_many(self, keys: Sequence[str]) -> dict[str, JsonObject]:
        """The cached objects among `keys` (the others are missing from the answer)."""
        ...

    async def put_many(self, values: Mapping[str, JsonObject]) -> None: ...


class InProcessCache:
    def __init__(self, size: int, seconds: float) -> None:
        self._entries = TTLCache[str, JsonObject](size, seconds)

    async def get_many(self, keys: Sequence[str]) -> dict[str, JsonObject]:
        return {k: v for k in keys if (v := self._entries.get(k)) is not None}

    async def put_many(self, values: Mapping[str, JsonObject]) -> None:
        self._entries.update(values)


class SharedCache:
    """Entries under `agent-bridge:<kind>:<namespace digest>:<key>`, each expiring `seconds` after it was put."""

    def __init__(self, store: SharedStore, kind: str, namespace: str, seconds: float) -> None:
        self._store = store
        self._prefix = SharedStore.key(kind, digest(namespace))
        self._ms = max(1, int(seconds * 1000))

    async def get_many(self, keys: Sequence[str]) -> dict[str, JsonObject]:
        if not keys:
            return {}
        try:
            async with self._store.reaching() as client:
                raws = cast(list[bytes | None], await client.mget([f"{self._prefix}:{k}" for k in keys]))
        except StoreUnavailableError as exc:
            logger.warning("cache read skipped: %s", exc)
            return {}
        found: dict[str, JsonObject] = {}
        for key, raw in zip(keys, raws, strict=True):
            if raw is not None:
                value = json.loads(raw)
                if isinstance(value, dict):
                    found[key] = cast(JsonObject, value)
        return found

    async def put_many(self, values: Mapping[str, JsonObject]) -> None:
        if not values:
            return
        try:
            async with self._store.reaching() as client, client.pipeline(transaction=False) as pipe:
                for key, value in values.items():
                    pipe.set(f"{self._prefix}:{key}", json.dumps(value, separators=(",", ":")), px=self._ms)
                await pipe.execute()
        except StoreUnavailableError as exc:
            logger.warning("cache write skipped: %s", exc)
