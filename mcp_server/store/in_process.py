"""Conversation memory in this process: bounded overall and per owner, oldest evicted first, and
forgotten `keep_seconds` after its last turn. It ends when the process does."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mcp_server.store.conversations import StoredConversation

MAX_CONVERSATIONS: Final = 10_000
MAX_CONVERSATIONS_PER_OWNER: Final = 1_000


@dataclass(frozen=True, slots=True)
class _Entry:
    conversation: StoredConversation
    owner: str
    expires_at: float


class InProcessConversationStore:
    def __init__(
        self,
        *,
        max_conversations: int = MAX_CONVERSATIONS,
        max_per_owner: int = MAX_CONVERSATIONS_PER_OWNER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._max = max_conversations
        self._max_per_owner = max_per_owner
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # least recently saved first
        self._owners: dict[str, OrderedDict[str, None]] = {}  # owner -> its keys, least recently saved first

    def __len__(self) -> int:
        return len(self._entries)

    def owners(self) -> int:
        return len(self._owners)

    async def load(self, key: str) -> StoredConversation | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._drop(key)
            return None
        return entry.conversation

    async def save(self, key: str, conversation: StoredConversation, *, owner: str, keep_seconds: float) -> None:
        now = self._clock()
        previous = self._entries.get(key)
        if previous is not None and previous.owner != owner:
            self._drop(key)
        self._entries[key] = _Entry(conversation, owner, now + keep_seconds)
        self._entries.move_to_end(key)
        owned = self._owners.setdefault(owner, OrderedDict())
        owned[key] = None
        owned.move_to_end(key)
        while len(owned) > self._max_per_owner:
            self._drop(next(iter(owned)))
        self._sweep(now)
        while len(self._entries) > self._max:
            self._drop(next(iter(self._entries)))

    def _sweep(self, now: float) -> None:
        """Forget expired conversations, oldest first, stopping at the first one still live."""
        for key, entry in list(self._entries.items()):
            if entry.expires_at > now:
                break
            self._drop(key)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        owned = self._owners.get(entry.owner)
        if owned is not None:
            owned.pop(key, None)
            if not owned:
                del self._owners[entry.owner]
