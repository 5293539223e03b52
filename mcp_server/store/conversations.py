"""The conversation store interface: what a chat backend remembers of a conversation between
questions, keyed by an opaque string, and how long it may keep it.

Everything stored is plain data (strings and numbers), so an implementation may serialise it as
JSON into a shared store. Methods are async so that one can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Turn:
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class StoredConversation:
    turns: tuple[Turn, ...]
    updated_at: float  # unix seconds of the latest turn


class ConversationStore(Protocol):
    async def load(self, key: str) -> StoredConversation | None:
        """The conversation under `key`, or None when there is none (never stored, expired or evicted)."""
        ...

    async def save(self, key: str, conversation: StoredConversation, *, owner: str, keep_seconds: float) -> None:
        """Store `conversation` under `key` for `keep_seconds` after its last turn. `owner` names the
        principal it belongs to (opaque), so one principal's conversations cannot crowd out everyone's."""
        ...
