"""Conversation memory for chat backends whose upstream keeps none (OpenAI-compatible APIs, CodeGPT).

The bridge sends a conversation's earlier turns with every question. That history is bounded three
ways, oldest turns dropped first: by turns (`conversation_max_turns`), by characters (so a request
never outgrows the upstream's context, `conversation_max_characters`) and by idle age
(`conversation_idle_minutes`: a conversation nobody has used for that long ends). It lives in a
`ConversationStore`, so a shared store can hold it without the backends changing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from pydantic import Field

from mcp_server.backends.base import BackendSettings
from mcp_server.errors import NotFoundError
from mcp_server.store import ConversationStore, InProcessConversationStore, StoredConversation, Turn

DEFAULT_IDLE_MINUTES: Final = 60.0
DEFAULT_MAX_TURNS: Final = 10
DEFAULT_MAX_CHARACTERS: Final = 32_000


class ChatBackendSettings(BackendSettings):
    """Settings of a backend kind whose conversations the bridge remembers."""

    conversation_idle_minutes: float = Field(default=DEFAULT_IDLE_MINUTES, gt=0, le=7 * 24 * 60)
    conversation_max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1, le=200)
    conversation_max_characters: int = Field(default=DEFAULT_MAX_CHARACTERS, ge=500, le=10_000_000)


def conversation_ended(idle_minutes: float, *, shared: bool = False) -> NotFoundError:
    """`shared`: the memory is in a shared store (`[store] url`), so a restart does not end it."""
    restart = "" if shared else " (and not across a restart)"
    return NotFoundError(
        "this conversation has ended: the bridge remembers a conversation with this agent for "
        f"{idle_minutes:g} minutes after its last question{restart}. Ask again without "
        "conversation_id to start a new conversation, repeating what the agent needs to know."
    )


class ConversationMemory:
    """One backend's view of the store: its limits, and keys prefixed with the agent's `namespace`."""

    def __init__(
        self,
        store: ConversationStore,
        *,
        idle_minutes: float = DEFAULT_IDLE_MINUTES,
        max_turns: int = DEFAULT_MAX_TURNS,
        max_characters: int = DEFAULT_MAX_CHARACTERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.shared = not isinstance(store, InProcessConversationStore)  # outlives this process
        self.idle_minutes = idle_minutes
        self.max_turns = max_turns
        self.max_characters = max_characters
        self._clock = clock

    @classmethod
    def of(cls, settings: ChatBackendSettings | None, store: ConversationStore | None) -> ConversationMemory:
        store = store if store is not None else InProcessConversationStore()
        if settings is None:
            return cls(store)
        return cls(
            store,
            idle_minutes=settings.conversation_idle_minutes,
            max_turns=settings.conversation_max_turns,
            max_characters=settings.conversation_max_characters,
        )

    async def recall(self, key: str) -> tuple[Turn, ...]:
        """The turns of a conversation this bridge started; raises the "has ended" error when they are gone."""
        stored = await self._store.load(key)
        if stored is None or self._clock() - stored.updated_at > self.idle_minutes * 60:
            raise conversation_ended(self.idle_minutes, shared=self.shared)
        return stored.turns

    async def peek(self, key: str) -> tuple[Turn, ...] | None:
        stored = await self._store.load(key)
        if stored is None or self._clock() - stored.updated_at > self.idle_minutes * 60:
            return None
        return stored.turns

    def fit(self, turns: tuple[Turn, ...], fixed_characters: int) -> tuple[Turn, ...]:
        """The newest turns that fit in `max_turns` and, with `fixed_characters` (system prompt and the
        new question), in `max_characters`; oldest dropped first."""
        budget = self.max_characters - fixed_characters
        kept: list[Turn] = []
        for turn in reversed(turns[-self.max_turns :]):
            budget -= len(turn.question) + len(turn.answer)
            if budget < 0:
                break
            kept.append(turn)
        return tuple(reversed(kept))

    async def remember(self, key: str, owner: str, turns: tuple[Turn, ...]) -> None:
        fitted = self.fit(turns, 0)
        await self._store.save(
            key, StoredConversation(fitted, self._clock()), owner=owner, keep_seconds=self.idle_minutes * 60
        )
