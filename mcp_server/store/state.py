"""What a process shares with its peers: in this process (the default), or the Valkey/Redis server at
`[store] url`. `open_state` is the one place the choice is made, and reuses the connection the HTTP app
opened for its rate counters and grants when it is to the same store."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mcp_server.store.caches import InProcessCache, JsonCache, SharedCache
from mcp_server.store.conversations import ConversationStore
from mcp_server.store.in_process import InProcessConversationStore
from mcp_server.store.shared import SharedStore
from mcp_server.store.shared_conversations import SharedConversationStore


@dataclass(frozen=True, slots=True)
class State:
    conversations: ConversationStore
    shared: SharedStore | None = None  # None: everything lives in this process

    def cache(self, kind: str, namespace: str, *, size: int, seconds: float) -> JsonCache:
        if self.shared is None:
            return InProcessCache(size, seconds)
        return SharedCache(self.shared, kind, namespace, seconds)


def in_process() -> State:
    return State(InProcessConversationStore())


@asynccontextmanager
async def open_state(url: str | None, opened: SharedStore | None = None) -> AsyncGenerator[State]:
    """The state for a store URL (None: in process); the connection closes on exit. `opened`: a
    connection the caller already holds (the HTTP app's); used when it is to the same URL, and left
    open, so one process keeps one client (one pool) per store. Nothing is sent to the store here: a
    store that is down fails the calls that need it, not the start."""
    if url is None:
        yield in_process()
        return
    if opened is not None and opened.serves(url):
        yield State(SharedConversationStore(opened), opened)
        return
    shared = SharedStore(url)
    try:
        yield State(SharedConversationStore(shared), shared)
    finally:
        await shared.aclose()
