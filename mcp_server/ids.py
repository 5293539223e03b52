"""Ids that end up in upstream URLs: their patterns, and how a path segment is written.

Every id a client sends (conversation, citation, page) and every id an upstream returns is checked
against a strict pattern before it reaches a URL, and every segment is percent-encoded when a path
is built. `scoped_client.ScopedClient` then refuses any request whose final path leaves the agent's prefix.
Three walls, so that no single mistake lets an id steer a request to another project or path.
"""

from __future__ import annotations

import re
from typing import Annotated, Final
from urllib.parse import quote

from pydantic import AfterValidator, WithJsonSchema

CONVERSATION_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
"""CustomGPT issues UUIDs (`f9b27f03-c660-...`); the bridge's own conversations are 32 hex digits."""

CITATION_ID: Final = re.compile(r"[0-9]{1,19}")
"""CustomGPT citation ids are integers."""

MAX_PAGE: Final = 100_000


def is_conversation_id(value: str) -> bool:
    return CONVERSATION_ID.fullmatch(value) is not None


def is_citation_id(value: str) -> bool:
    return CITATION_ID.fullmatch(value) is not None


def _conversation_id(value: str) -> str:
    if not is_conversation_id(value):
        # The value itself is never echoed: it may hold control characters or someone else's text.
        raise ValueError(
            "not a conversation id this agent issued (letters, digits, '-' and '_', at most 128); pass the "
            "conversation_id of an earlier answer, or leave it out to start a new conversation"
        )
    return value


def _citation_id(value: str) -> str:
    if not is_citation_id(value):
        raise ValueError("not a citation id (a number from a cited source)")
    return value


ConversationId = Annotated[
    str,
    AfterValidator(_conversation_id),
    WithJsonSchema({"type": "string", "pattern": f"^{CONVERSATION_ID.pattern}$", "maxLength": 128}),
]
CitationId = Annotated[
    str, AfterValidator(_citation_id), WithJsonSchema({"type": "string", "pattern": f"^{CITATION_ID.pattern}$"})
]


def segment(value: str | int) -> str:
    """One path segment, percent-encoded so that `/`, `?` and `#` stay inside it (`..` is refused later)."""
    return quote(str(value), safe="")
