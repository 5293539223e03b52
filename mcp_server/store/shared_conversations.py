"""Conversation memory in the shared store: every replica reads and writes the same conversations.

One string per conversation (`agent-bridge:conversation:<digest>`, JSON turns) that expires
`keep_seconds` after its last turn, and one sorted set per owner (`agent-bridge:owner:<digest>`) that
keeps a principal to its `max_per_owner` newest conversations, dropping the oldest. The store's own
`maxmemory` policy bounds the whole (see docs/scaling.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

from mcp_server.store.conversations import StoredConversation, Turn
from mcp_server.store.in_process import MAX_CONVERSATIONS_PER_OWNER
from mcp_server.store.shared import SharedStore, digest


def encode(conversation: StoredConversation) -> bytes:
    turns = [[t.question, t.answer] for t in conversation.turns]
    return json.dumps({"turns": turns, "updated_at": conversation.updated_at}, separators=(",", ":")).encode()


def decode(raw: bytes) -> StoredConversation | None:
    try:
        data = cast(dict[str, Any], json.loads(raw))
        turns = tuple(Turn(str(q), str(a)) for q, a in data["turns"])
        return StoredConversation(turns, float(data["updated_at"]))
    except (ValueError, KeyError, TypeError):
        return None  # not ours, or from an incompatible version: as if it had expired


class SharedConversationStore:
    def __init__(
        self,
        store: SharedStore,
        *,
        max_per_owner: int = MAX_CONVERSATIONS_PER_OWNER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._max_per_owner = max_per_owner
        self._clock = clock

    async def load(self, key: str) -> StoredConversation | None:
        async with self._store.reaching() as client:
            raw = await client.get(SharedStore.key("conversation", digest(key)))
        return decode(raw) if isinstance(raw, bytes) else None

    async def save(self, key: str, conversation: StoredConversation, *, owner: str, keep_seconds: float) -> None:
        now, keep_ms = self._clock(), max(1, int(keep_seconds * 1000))
        stored, owned = SharedStore.key("conversation", digest(key)), SharedStore.key("owner", digest(owner))
        async with self._store.reaching() as client:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(stored, encode(conversation), px=keep_ms)
                pipe.zadd(owned, {stored: now})
                pipe.zremrangebyscore(owned, "-inf", now - keep_seconds)
                pipe.zrange(owned, 0, -(self._max_per_owner + 1))  # the oldest, beyond the cap
                pipe.pexpire(owned, keep_ms)
                results = await pipe.execute()
            over = cast(list[bytes], results[3])
            if over:
                async with client.pipeline(transaction=True) as pipe:
                    pipe.delete(*over)
                    pipe.zrem(owned, *over)
                    await pipe.execute()
