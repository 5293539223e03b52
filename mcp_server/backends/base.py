"""The backend interface: settings every kind shares, the capabilities a backend can state, and the
shapes it returns.

A backend speaks one upstream wire format and knows nothing of MCP or any other face; the faces know
nothing of any wire format. Everything crossing this seam is one of the frozen dataclasses below.

A backend states what it can do in `CAPABILITIES` and implements the protocol of each capability
(`Asks`, `SearchesCitations`, ...); it never stubs a method it cannot serve. The operations registry
offers an agent only the operations whose capability its backend states.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Capability = Literal["ask", "search", "sources", "citations", "transcripts"]

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
    icon: str | None = None  # the agent's picture (an https URL) where the upstream has one


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


class BackendSettings(BaseModel):
    """What every backend kind is configured with: the upstream API and its key. Each kind subclasses
    it with its own `kind` literal (the discriminator) and default `base_url`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr = Field(min_length=1)
    base_url: str
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_connections: int = Field(default=100, ge=1, le=10_000)
    # Upstream protection: requests in flight at once (more wait up to queue_timeout_seconds), and the
    # circuit breaker (mcp_server/protection.py): after breaker_failures failed requests in a row, or
    # that many within breaker_window_seconds making at least breaker_failure_ratio of the requests
    # finished there (0 failures: never), none is sent for breaker_open_seconds, then one probe.
    max_concurrent_requests: int = Field(default=32, ge=1, le=10_000)
    queue_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    breaker_failures: int = Field(default=5, ge=0, le=1000)
    breaker_open_seconds: float = Field(default=30.0, gt=0, le=3600)
    breaker_failure_ratio: float = Field(default=0.25, gt=0, le=1)
    breaker_window_seconds: float = Field(default=60.0, gt=0, le=3600)

    def extra_headers(self) -> dict[str, str]:
        """Headers this kind sends with every request besides the key (none by default)."""
        return {}

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. https://app.customgpt.ai")
        return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class AgentTarget:
    """Which agent on the upstream, in the words of each kind (only its own field is set)."""

    project_id: int | None = None  # customgpt
    model: str | None = None  # openai
    agent_id: str | None = None  # codegpt
    system_prompt: str | None = None


class Backend(Protocol):
    """One agent on one upstream. Methods raise `mcp_server.errors.UpstreamError` subclasses."""

    CAPABILITIES: ClassVar[frozenset[Capability]]

    async def profile(self) -> AgentProfile: ...

    async def settings(self) -> AgentSettings: ...


@runtime_checkable
class Asks(Backend, Protocol):
    async def ask(
        self, question: str, conversation_id: str | None, on_delta: OnDelta | None, *, caller: str = ""
    ) -> Answer:
        """`caller` names the principal asking (opaque); a backend that keeps conversations itself uses it
        to keep one caller from crowding out the others."""
        ...


@runtime_checkable
class SearchesCitations(Backend, Protocol):
    async def search_citations(self, query: str, limit: int) -> tuple[Citation, ...]: ...


@runtime_checkable
class ListsSources(Backend, Protocol):
    async def list_sources(self, page: int) -> SourceListing: ...


@runtime_checkable
class ReadsCitations(Backend, Protocol):
    async def citation(self, citation_id: str) -> Citation: ...


@runtime_checkable
class ReadsTranscripts(Backend, Protocol):
    async def transcript(self, conversation_id: str) -> Transcript: ...


CAPABILITY_PROTOCOLS: dict[Capability, type[object]] = {
    "ask": Asks,
    "search": SearchesCitations,
    "sources": ListsSources,
    "citations": ReadsCitations,
    "transcripts": ReadsTranscripts,
}
