"""The backend interface and the shapes it returns.

A backend speaks one upstream wire format and knows nothing of MCP; the MCP layer knows nothing of
any wire format. Everything crossing this seam is one of the frozen dataclasses below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

OnDelta = Callable[[str], Awaitable[None]]
"""Called with each new piece of answer text while the upstream streams."""


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    title: str | None = None
    url: str | None = None
    description: str | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    conversation_id: str
    message_id: str | None = None
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What the upstream says about the agent itself."""

    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    kind: str
    location: str | None = None
    page_count: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str
    crawl_status: str
    index_status: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class SourceListing:
    sources: tuple[Source, ...]
    pages: tuple[Page, ...]
    page: int
    last_page: int
    total_pages: int


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """An agent's settings: `public` for anyone who may use the agent, `operator` (system prompts,
    upstream agent ids) only for callers whose token says `scopes = ["agent_config"]`."""

    public: dict[str, Any]
    operator: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    question: str
    answer: str
    created_at: str | None = None
    citation_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transcript:
    conversation_id: str
    name: str | None
    messages: tuple[Message, ...] = field(default=())


class Backend(Protocol):
    """One agent on one upstream. Methods raise `mcp_server.errors.UpstreamError` subclasses."""

    async def profile(self) -> AgentProfile: ...

    async def ask(self, question: str, conversation_id: str | None, on_delta: OnDelta | None) -> Answer: ...

    async def search_citations(self, query: str, limit: int) -> tuple[Citation, ...]: ...

    async def list_sources(self, page: int) -> SourceListing: ...

    async def settings(self) -> AgentSettings: ...

    async def citation(self, citation_id: str) -> Citation: ...

    async def transcript(self, conversation_id: str) -> Transcript: ...
